"""Fixtures and helpers shared by the test suite, one section per concern."""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from grading.autograde_class import StudentResult, autograde_class
from grading.cli import copy_course, export, feedback, release
from grading.course import Course
from grading.sample_class import released_notebook, write_sample_class, write_submission

REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# Repository
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The root of the course kit's checkout."""
    return REPO_ROOT


# ---------------------------------------------------------------------------------------------
# Lab modules (the utils.py and public_tests.py that a lab's notebook imports)
# ---------------------------------------------------------------------------------------------

LAB_MODULE_NAMES = ("utils", "public_tests", "selfcheck")


def _forget_lab_modules() -> None:
    for name in LAB_MODULE_NAMES:
        sys.modules.pop(name, None)


def import_lab_module(lab: str, name: str) -> ModuleType:
    """Import solutions/<lab>/<name>.py as the lab's notebook does, with its folder first on sys.path.

    The lab modules' names are the same in every lab, so they are dropped from sys.modules
    before and after: each call gives a fresh module, and labs do not see each other's.
    """
    folder = REPO_ROOT / "solutions" / lab
    if not (folder / f"{name}.py").is_file():
        raise FileNotFoundError(f"{folder / name}.py not found: is {lab!r} a lab folder of solutions/?")
    _forget_lab_modules()
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
        _forget_lab_modules()


@pytest.fixture
def anomaly_lab() -> SimpleNamespace:
    """Fresh imports of the anomaly-detection lab's `utils` and `public_tests`."""
    return SimpleNamespace(
        utils=import_lab_module("anomaly_detection", "utils"),
        public_tests=import_lab_module("anomaly_detection", "public_tests"),
    )


# ---------------------------------------------------------------------------------------------
# A scratch course and a whole class autograded in it (real nbgrader, real gradebook)
# ---------------------------------------------------------------------------------------------

# Short limits keep the deliberately stuck submissions quick; real classes use the defaults.
TEST_LIMITS = {"ExecuteInSandbox.timeout": 5, "VerifyAnswers.timeout": 15, "ExecuteInSandbox.responsive_wait": 3}


@dataclass
class GradedClass:
    course: Course
    points: dict[str, float]
    expected_fails: dict[str, frozenset[str]]
    results: dict[str, StudentResult]
    watch: object = None  # the first lab's: the course before, during and after grading (tests/attacks.py)


@pytest.fixture(scope="session")
def kit_course(tmp_path_factory) -> Course:
    """A copy of the kit's course with its release rebuilt from the master by nbgrader."""
    course = copy_course(Course(), tmp_path_factory.mktemp("kit") / "course")
    release(course, [])
    return course


# The second lab trains a network in its notebook: the first correct submission trains it
# (later ones find it in the course's cache) and so do answers that change the training data.
LAB_LIMITS = {
    "anomaly_detection": TEST_LIMITS,
    "timeseries_autoencoder": {**TEST_LIMITS, "ExecuteInSandbox.timeout": 30},
}


def grade_sample_class(course: Course, lab: str) -> GradedClass:
    """The lab's corpus, the unmodified release and a broken file (and, for the first lab, every
    known trick, every attack and two honest students graded before and after them), autograded,
    with feedback and the grades exported."""
    from attacks import ATTACKS, HONEST, ClassWatch, honest_submission, write_attack
    from exploits import EXPLOITS

    expected = write_sample_class(course, lab)
    release_notebook = released_notebook(course, lab)
    watch = None
    if lab == "anomaly_detection":
        for student, (build, fails) in EXPLOITS.items():
            write_submission(course, lab, student, build(release_notebook))
            expected[student] = frozenset(fails)
        for student, attack in ATTACKS.items():
            write_attack(course, lab, student, attack, release_notebook)
            expected[student] = attack.fails
        for student in HONEST:
            write_submission(course, lab, student, honest_submission(release_notebook))
            expected[student] = frozenset()
        watch = ClassWatch(course, lab)
    results = autograde_class(course, lab, progress=watch.progress if watch else print, **LAB_LIMITS[lab])
    if watch:
        watch.graded()
    feedback(course, lab)
    export(course)
    if watch:
        watch.finished()
    points = {cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["points"]
              for cell in release_notebook.cells if cell.metadata["nbgrader"].get("grade")}
    return GradedClass(course, points, expected, {result.student: result for result in results}, watch)


@pytest.fixture(scope="session")
def graded_classes(kit_course):
    """graded_classes(lab): that lab's sample class, autograded the first time it is asked for."""
    done: dict[str, GradedClass] = {}

    def graded(lab: str) -> GradedClass:
        if lab not in done:
            done[lab] = grade_sample_class(kit_course, lab)
        return done[lab]

    return graded


@pytest.fixture(scope="session")
def graded_class(graded_classes) -> GradedClass:
    """The first lab's class, with every known trick."""
    return graded_classes("anomaly_detection")

"""`python -m grading new-lab`: a scaffolded lab releases and grades as it is, and nothing is overwritten."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO_ROOT
from expected_outputs import code_parts, expected_blocks, numbers_in, printed_text, unmatched

from grading.course import Course
from grading.errors import CommandError
from grading.new_lab import lab_parts, new_lab

LAB = "tiny_lab"
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "records", "build", "__pycache__", ".ipynb_checkpoints", ".*_cache", "*.egg-info", ".release-*"
)


def kit_copy(destination: Path) -> Path:
    """A copy of the kit's checkout, datasets included, as a maintainer's clone would be."""
    shutil.copytree(REPO_ROOT, destination, symlinks=True, ignore=NOT_COPIED)
    return destination


def in_copy(copy: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """A command run in `copy`, with its `grading` package first (and the environment's bin on PATH)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(copy),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(args, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", ["Clustering", "2nd_lab", "k-means", "utils", "a" * 41])
def test_a_name_that_cannot_be_a_lab_is_refused_in_one_line(name):
    with pytest.raises(CommandError, match="cannot name a lab") as refused:
        new_lab(Course(), name)
    assert "\n" not in str(refused.value)


def test_an_existing_lab_is_refused_before_anything_is_written():
    with pytest.raises(CommandError, match="the lab anomaly_detection exists already"):
        new_lab(Course(), "anomaly_detection")


def test_a_course_other_than_the_kits_own_is_refused(tmp_path):
    """The hidden tests go into the kit's package: a lab scaffolded elsewhere would have none."""
    with pytest.raises(CommandError, match="works on the kit's own course"):
        new_lab(Course(tmp_path), LAB)
    assert list(tmp_path.iterdir()) == []


def test_the_command_lists_the_parts_it_wrote_and_refuses_to_write_them_twice(tmp_path):
    copy = kit_copy(tmp_path / "kit")
    made = in_copy(copy, sys.executable, "-m", "grading", "new-lab", LAB, "--title", "A tiny lab")
    assert made.returncode == 0, made.stderr
    # where the kit keeps each part, the same in the copy
    parts = {name: path.relative_to(REPO_ROOT) for name, path in lab_parts(Course(), LAB).items()}
    assert [line.removeprefix("new-lab: ") for line in made.stdout.splitlines()[:5]] == [
        str(parts[name]) for name in ("master", "utils", "public_tests", "hidden_tests", "corpus")
    ]
    assert all((copy / path).exists() for path in parts.values())
    master = (copy / parts["master"]).read_text()
    again = in_copy(copy, sys.executable, "-m", "grading", "new-lab", LAB)
    assert again.returncode == 1
    assert again.stderr.startswith(f"grading: the lab {LAB} exists already (solutions/{LAB}, ")
    assert (copy / parts["master"]).read_text() == master


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory) -> dict:
    """A lab scaffolded in a copy of the kit, its master run, released, its sample class graded."""
    copy = kit_copy(tmp_path_factory.mktemp("new-lab") / "kit")
    made = in_copy(copy, sys.executable, "-m", "grading", "new-lab", LAB)
    assert made.returncode == 0, made.stderr
    results = copy / "scaffolded.json"
    done = in_copy(copy, sys.executable, str(Path(__file__).parent / "scaffolded_lab.py"), LAB, str(results))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(results.read_text())


@pytest.mark.sandbox
def test_the_scaffolded_master_prints_its_expected_outputs_and_passes_its_tests(scaffolded):
    master = nbformat.read(scaffolded["master"], as_version=4)
    blocks = expected_blocks(master)
    assert blocks
    for block_id, (block, cells) in blocks.items():
        printed = numbers_in("\n".join(printed_text(cell) for cell in cells))
        assert unmatched(numbers_in("\n".join(code_parts(block.source))), printed) == [], block_id
    grade_cells = [cell for cell in master.cells if cell.metadata["nbgrader"].get("grade")]
    assert grade_cells and all("All tests passed!" in printed_text(cell) for cell in grade_cells)


@pytest.mark.sandbox
def test_each_student_of_the_scaffolded_lab_loses_exactly_the_exercises_the_corpus_says(scaffolded):
    students = scaffolded["students"]
    assert {student: result["failed"] for student, result in students.items()} == {
        student: result["expected_fails"] for student, result in students.items()
    }
    right = [student for student in students if student.startswith("correct_")]
    assert len(right) >= 2 and {students[student]["score"] for student in right} == {10.0}
    assert students["unmodified_release"]["score"] == 0
    assert {student for student, result in students.items() if not result["feedback"]} <= {"broken_notebook"}

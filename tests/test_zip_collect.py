"""Downloads from a learning platform filed by the real `nbgrader zip_collect` with the course's
configuration: one notebook per student named `<student_id>_<lab>.ipynb`, loose or in a zip."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grading.cli import copy_course
from grading.course import Course

LAB = "anomaly_detection"
LOOSE_FILES = {student: f"{student}_{LAB}.ipynb" for student in ("jdoe", "a.smith-2", "john_doe")}
ZIPPED_STUDENT, ZIP_NAME = "kim", "kim_upload.zip"
STUDENTS = [*LOOSE_FILES, ZIPPED_STUDENT]
# Names that must not be filed: no student id, a space, an e-mail address (whose domain
# would pass for an id), another notebook, a parent-folder id, a file that is not a notebook.
UNNAMED_FILES = [
    f"{LAB}.ipynb", f"Jane Doe_{LAB}.ipynb", f"jdoe@uni.edu_{LAB}.ipynb", "lee_homework.ipynb",
    f".._{LAB}.ipynb", "notes.txt",
]


@dataclass
class Collected:
    course: Course
    sent: dict[str, bytes]  # student -> the bytes of the notebook the platform gave
    log: str  # what nbgrader printed


def notebook_of(course: Course, student: str) -> bytes:
    """The released notebook, marked with the student's id so that every copy differs."""
    notebook = nbformat.read(course.releases / LAB / f"{LAB}.ipynb", as_version=4)
    notebook.metadata["sent_by"] = student
    return nbformat.writes(notebook).encode()


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Collected:
    course = copy_course(Course(), tmp_path_factory.mktemp("zip_collect") / "course")
    archive = course.root / "grading" / "downloaded" / LAB / "archive"
    archive.mkdir(parents=True)
    sent = {student: notebook_of(course, student) for student in STUDENTS}
    for student, name in LOOSE_FILES.items():
        (archive / name).write_bytes(sent[student])
    with zipfile.ZipFile(archive / ZIP_NAME, "w") as bundle:
        bundle.writestr(f"{ZIPPED_STUDENT}_{LAB}.ipynb", sent[ZIPPED_STUDENT])
    for name in UNNAMED_FILES:
        (archive / name).write_bytes(notebook_of(course, name))

    bin_dir = Path(sys.executable).parent  # nbgrader and the alembic it runs by name
    done = subprocess.run(
        [str(bin_dir / "nbgrader"), "zip_collect", LAB], cwd=course.root, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return Collected(course, sent, done.stdout + done.stderr)


@pytest.mark.parametrize("student", STUDENTS)
def test_each_students_notebook_is_filed_unchanged_in_their_folder(collected, student):
    filed = collected.course.submission(LAB, student)
    assert filed.read_bytes() == collected.sent[student]


def test_only_the_students_named_by_their_files_get_a_submission(collected):
    assert sorted(path.name for path in collected.course.submitted.iterdir()) == sorted(STUDENTS)


@pytest.mark.parametrize("name", UNNAMED_FILES)
def test_file_not_named_for_a_student_is_skipped_with_a_warning(collected, name):
    extracted = collected.course.root / "grading" / "downloaded" / LAB / "extracted" / name
    assert f"[ZipCollectApp | WARNING] Skipped submission with no match information provided: {extracted}" \
        in collected.log.splitlines()


def test_nbgrader_counts_the_filed_and_skipped_files(collected):
    assert f"{len(STUDENTS)} files collected, {len(UNNAMED_FILES)} files skipped" in collected.log


def test_nothing_is_written_outside_the_submissions_folder(collected):
    """The `..` id would have put a notebook in grading/ itself."""
    grading = collected.course.root / "grading"
    assert sorted(path.name for path in grading.iterdir()) == ["downloaded", "submitted"]

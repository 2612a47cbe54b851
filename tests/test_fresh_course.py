"""A fresh clone grades a class with the README's command alone, and every student who submitted
ends with a graded state and a feedback page (one small class, graded once)."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grading.cli import copy_course, main
from grading.course import Course
from grading.sample_class import BASE_ENTRY, corpus, fill_answers, released_notebook, write_submission

LAB = "anomaly_detection"


def digests(folder) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def nbgrader(course: Course, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), *args],
        cwd=course.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )


@pytest.fixture(scope="module")
def fresh_class(tmp_path_factory):
    """A copy of the course that no release has run in, two submissions, then the README's
    instructor commands in its order: roster, due date, autograde, feedback, export."""
    course = copy_course(Course(), tmp_path_factory.mktemp("fresh") / "course")
    release_before = digests(course.releases)
    right = next(entry for entry in corpus(LAB) if entry.name == BASE_ENTRY)
    write_submission(course, LAB, "right", fill_answers(released_notebook(course, LAB), right.cells))
    write_submission(course, LAB, "unreadable", '{"cells": [')
    roster = course.root / "roster.csv"
    roster.write_text(
        "id,first_name,last_name,email\nright,Ada,Lovelace,ada@example.org\n"
        "unreadable,Alan,Turing,alan@example.org\nabsent,Grace,Hopper,grace@example.org\n"
    )
    imported = nbgrader(course, "db", "student", "import", str(roster))
    assert imported.returncode == 0, imported.stderr
    due = nbgrader(course, "db", "assignment", "add", LAB, "--duedate=2026-12-01 17:00:00 UTC")
    assert due.returncode == 0, due.stderr
    codes = [main([command, LAB, "--course", str(course.root)]) for command in ("autograde", "feedback")]
    codes.append(main(["export", "--course", str(course.root)]))
    return course, codes, release_before


@pytest.mark.sandbox
def test_autograde_and_feedback_succeed_on_a_fresh_course(fresh_class):
    _, codes, _ = fresh_class
    assert codes == [0, 0, 0]


@pytest.mark.sandbox
def test_the_committed_release_is_left_as_it_was(fresh_class):
    course, _, before = fresh_class
    assert digests(course.releases) == before


@pytest.mark.sandbox
def test_every_submission_has_a_graded_state(fresh_class):
    course, _, _ = fresh_class
    api = course.nbgrader_api()
    assert {s["student"]: (s["autograded"], s["score"]) for s in api.get_submissions(LAB)} == {
        "right": (True, 20.0),
        "unreadable": (True, 0.0),
    }


@pytest.mark.sandbox
def test_an_unreadable_submission_gets_a_feedback_page_that_says_why(fresh_class):
    course, _, _ = fresh_class
    page = (course.feedback / "unreadable" / LAB / f"{LAB}.html").read_text()
    assert "could not be graded" in page
    assert "is not valid notebook JSON" in page


@pytest.mark.sandbox
def test_the_export_has_the_roster_names_and_keeps_absence_apart_from_zero(fresh_class):
    course, _, _ = fresh_class
    with open(course.grades_csv, newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert {
        student: (row["first_name"], row["last_name"], row["status"], row["score"]) for student, row in rows.items()
    } == {
        "right": ("Ada", "Lovelace", "submitted", "20.0"),
        "unreadable": ("Alan", "Turing", "submitted", "0.0"),
        "absent": ("Grace", "Hopper", "not submitted", ""),
    }
    assert rows["right"]["timestamp"] and rows["unreadable"]["timestamp"]


@pytest.mark.sandbox
def test_release_rebuilds_the_same_release_on_a_course_with_graded_submissions(fresh_class):
    course, _, before = fresh_class
    assert main(["release", LAB, "--course", str(course.root)]) == 0
    assert digests(course.releases) == before


def test_a_release_that_fails_to_build_leaves_the_release_as_it_was(tmp_path, capsys):
    course = copy_course(Course(), tmp_path / "course")
    before = digests(course.releases)
    (course.solutions / LAB / f"{LAB}.ipynb").write_text('{"cells": [')
    assert main(["release", LAB, "--course", str(course.root)]) != 0
    assert "is unchanged" in capsys.readouterr().err
    assert digests(course.releases) == before
    assert not list(course.root.glob(".release-*"))

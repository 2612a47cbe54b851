"""The journal of a class's grading (`grading.classwork.journal`): who is done, so that a stopped grading resumes."""

from __future__ import annotations

import pytest

from grading.classwork.journal import Journal
from grading.course import Course
from grading.reporting.results import StudentResult

LAB = "lab"


@pytest.fixture
def course(tmp_path) -> Course:
    return Course(tmp_path)


def graded(course: Course, student: str, submission: str = "{}") -> StudentResult:
    """A student whose submission and autograded notebook are on disk."""
    for path in (course.submission(LAB, student), course.autograded_notebook(LAB, student)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(submission)
    return StudentResult(student, 10.0, 20.0, ["test_x"], ["a note"])


def test_a_recorded_student_is_finished_with_their_result(course):
    journal = Journal(course, LAB)
    journal.record(graded(course, "ada"))
    assert journal.finished() == {
        "ada": {
            "student": "ada",
            "score": 10.0,
            "max_score": 20.0,
            "failed": ["test_x"],
            "notes": [{"kind": "not graded", "text": "a note"}],
        }
    }


def test_a_student_who_submitted_again_is_graded_again(course):
    journal = Journal(course, LAB)
    journal.record(graded(course, "ada"))
    course.submission(LAB, "ada").write_text('{"cells": []}')
    assert journal.finished() == {}


def test_a_student_whose_autograded_notebook_is_gone_is_graded_again(course):
    journal = Journal(course, LAB)
    journal.record(graded(course, "ada"))
    course.autograded_notebook(LAB, "ada").unlink()
    assert journal.finished() == {}


def test_a_line_cut_short_by_a_crash_is_ignored_and_the_others_kept(course):
    journal = Journal(course, LAB)
    journal.record(graded(course, "ada"))
    graded(course, "bo")
    with open(journal.path, "a") as lines:
        lines.write('{"student": "bo", "submission": "')
    assert set(journal.finished()) == {"ada"}


def test_the_last_record_of_a_student_counts(course):
    journal = Journal(course, LAB)
    journal.record(graded(course, "ada"))
    journal.record(StudentResult("ada", 20.0, 20.0))
    assert journal.finished()["ada"]["score"] == 20.0


def test_clear_forgets_everyone(course):
    journal = Journal(course, LAB)
    journal.record(graded(course, "ada"))
    journal.clear()
    assert journal.finished() == {}
    journal.clear()  # nothing to clear: no error

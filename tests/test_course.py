"""A course's folders (`grading.course`): the records of a course set up by an older version of
the kit are found where it kept them, and the instructor is told what to move, before anything
would start a new, empty gradebook beside the old one."""

from __future__ import annotations

import pytest

from grading.cli import copy_course
from grading.course import Course
from grading.errors import CommandError


def test_records_left_in_the_grading_folder_are_named_with_what_to_move(tmp_path):
    course = copy_course(Course(), tmp_path / "course")
    (course.root / "grading" / "submitted" / "ada").mkdir(parents=True)
    (course.root / "grading" / "gradebook.db").write_bytes(b"")
    with pytest.raises(CommandError) as raised:
        course.nbgrader_api()
    assert str(raised.value) == (
        "the course's records moved from grading/ to records/: move grading/submitted, grading/gradebook.db"
        " there (mv grading/submitted records/), then run the command again"
    )
    assert not (course.root / "records" / "gradebook.db").exists()


def test_a_course_with_its_records_in_place_opens(tmp_path):
    course = copy_course(Course(), tmp_path / "course")
    course.nbgrader_api()
    assert (course.root / "records" / "gradebook.db").is_file()

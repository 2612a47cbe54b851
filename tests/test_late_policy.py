"""`LatePolicy`: a grace period, then a share of the score per day late or a zero, as nbgrader's
`AssignLatePenalties` applies it to the gradebook; by default lateness costs nothing."""

from __future__ import annotations

import doctest
from datetime import datetime, timedelta

import pytest
from nbformat.v4 import new_notebook
from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties
from traitlets.config import Config

from grading import cli, late_policy
from grading.classwork.autograde_class import ensure_in_gradebook, quiet_gradebook
from grading.cli import copy_course
from grading.late_policy import DAY, LatePolicy
from grading.sample_class import released_notebook, write_submission

LAB = "anomaly_detection"
DUE = datetime(2026, 10, 1, 12, 0)


def test_the_examples_of_the_docstring_hold():
    assert doctest.testmod(late_policy).failed == 0


@pytest.mark.parametrize(
    ("seconds_late", "penalty"),
    [(0, None), (30 * 60, None), (30 * 60 + 1, 5.0), (DAY + 30 * 60, 5.0), (DAY + 30 * 60 + 1, 10.0), (4 * DAY, 20.0)],
)
def test_each_day_or_part_of_a_day_past_the_grace_costs_its_share_up_to_the_whole_score(seconds_late, penalty):
    policy = LatePolicy(grace_minutes=30, per_day=0.25)
    assert policy.late_submission_penalty("ada", 20.0, seconds_late) == penalty


def test_past_the_last_day_the_score_is_zero_and_by_default_lateness_costs_nothing():
    assert LatePolicy(zero_after_days=2).late_submission_penalty("ada", 17.0, 2 * DAY + 1) == 17.0
    assert LatePolicy(zero_after_days=2).late_submission_penalty("ada", 17.0, 2 * DAY) is None
    assert LatePolicy().late_submission_penalty("ada", 17.0, 100 * DAY) is None
    assert LatePolicy().describe() == "Late work costs nothing."


@pytest.fixture(scope="module")
def course(tmp_path_factory, kit_course):
    """The first lab due on 1 October at noon; Ada handed in 5 hours late and earned 20."""
    course = copy_course(kit_course, tmp_path_factory.mktemp("late-policy") / "course")
    api = course.nbgrader_api(register_students=False)
    ensure_in_gradebook(api, course, LAB)
    with quiet_gradebook(), Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        gradebook.update_or_create_assignment(LAB, duedate=DUE)
        gradebook.add_student("ada")
        gradebook.add_submission(LAB, "ada", timestamp=DUE + timedelta(hours=5))
        for grade in gradebook.find_submission_notebook(LAB, LAB, "ada").grades:
            grade.auto_score = grade.max_score
        gradebook.db.commit()
    return course


def penalised(course, **policy) -> float:
    """Ada's penalty in the gradebook after nbgrader's AssignLatePenalties, configured by the course and `policy`."""
    api = course.nbgrader_api(register_students=False)
    api.config.merge(Config({"LatePolicy": policy}))
    resources = {"nbgrader": {"assignment": LAB, "notebook": LAB, "student": "ada", "db_url": api.coursedir.db_url}}
    AssignLatePenalties(config=api.config).preprocess(new_notebook(), resources)
    with Gradebook(api.coursedir.db_url) as gradebook:
        return gradebook.find_submission(LAB, "ada").late_submission_penalty


def test_the_courses_configuration_puts_the_policy_in_nbgraders_pipeline(course):
    assert penalised(course) == 0.0  # as configured: recorded, shown, free
    assert penalised(course, grace_minutes=60, per_day=0.1) == 2.0  # 4 hours past the grace: one day
    assert penalised(course, zero_after_days=0.1) == 20.0


def test_a_late_policy_set_wrong_is_refused_in_one_line_before_anyone_is_graded(tmp_path, kit_course, capsys):
    course = copy_course(kit_course, tmp_path / "course")
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write("\nc.LatePolicy.per_day = 2\n")
    write_submission(course, LAB, "ada", released_notebook(course, LAB))
    assert cli.main(["autograde", LAB, "--course", str(course.root)]) != 0
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "late policy is set wrong in nbgrader_config.py" in said[0] and "per_day" in said[0]
    assert not course.autograded_notebook(LAB, "ada").exists()

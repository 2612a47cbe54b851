"""Each student's own hidden cases (`grading.verdicts.student_cases` and the labs' case kinds):
a seed from the course's secret and the student's id, one case of each kind drawn from it.

A leak of one student's inputs (their code can always see them) must be worth nothing to a
classmate: every kind whose numbers vary gets other inputs for another student, while the same
student gets the same cases on every regrade.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from traitlets.config import Config

from grading.course import Course
from grading.errors import CommandError
from grading.preprocessors.verify_answers import VerifyAnswers, hidden_tests
from grading.verdicts.checks import _fingerprint
from grading.verdicts.student_cases import course_secret, secret_path, seed_for

EXERCISES = [
    pytest.param(lab, grade_id, id=grade_id)
    for lab, module in sorted(hidden_tests().items())
    for grade_id in module.EXERCISES
]
SECRET = bytes(range(32))


def exercise_of(lab, grade_id):
    return hidden_tests()[lab].EXERCISES[grade_id]


def same_inputs(first, second) -> bool:
    return _fingerprint(first.args) == _fingerprint(second.args)


@pytest.mark.parametrize(("lab", "grade_id"), EXERCISES)
def test_two_students_get_different_inputs_for_every_kind_that_is_not_fixed(lab, grade_id):
    exercise = exercise_of(lab, grade_id)
    ada = exercise.cases_for(seed_for(SECRET, lab, "ada"))
    bob = exercise.cases_for(seed_for(SECRET, lab, "bob"))
    assert [case.name for case in ada] == [case.name for case in bob]
    for mine, theirs in zip(ada, bob):
        assert same_inputs(mine, theirs) == mine.fixed, mine.name


@pytest.mark.parametrize(("lab", "grade_id"), EXERCISES)
def test_every_seed_draws_one_case_of_each_kind_in_the_same_order_and_words(lab, grade_id):
    """The feedback names a failing case by its kind: the same words for every student, none of them drawn."""
    exercise = exercise_of(lab, grade_id)
    kinds = [(case.name, case.description, case.fixed, case.showable) for case in exercise.cases_for(0)]
    for seed in range(1, 20):
        assert [(case.name, case.description, case.fixed, case.showable) for case in exercise.cases_for(seed)] == kinds


@pytest.mark.parametrize(("lab", "grade_id"), EXERCISES)
def test_a_regrade_draws_the_same_cases_again(lab, grade_id):
    exercise = exercise_of(lab, grade_id)
    seed = seed_for(SECRET, lab, "ada")
    again = exercise.cases(np.random.default_rng(seed_for(SECRET, lab, "ada")))
    assert all(same_inputs(first, second) for first, second in zip(exercise.cases_for(seed), again))


def test_a_seed_depends_on_the_secret_the_lab_and_the_student():
    seeds = {
        seed_for(SECRET, "anomaly_detection", "ada"),
        seed_for(SECRET, "anomaly_detection", "bob"),
        seed_for(SECRET, "timeseries_autoencoder", "ada"),
        seed_for(bytes(32), "anomaly_detection", "ada"),
    }
    assert len(seeds) == 4 and all(0 <= seed < 2**63 for seed in seeds)


def test_the_course_secret_is_made_once_and_readable_by_its_owner_alone(tmp_path):
    records = tmp_path / "records"
    secret = course_secret(records)
    assert len(secret) == 32 and course_secret(records) == secret
    assert stat.S_IMODE(os.stat(secret_path(records)).st_mode) == 0o600
    assert course_secret(tmp_path / "another") != secret


def test_a_damaged_course_secret_is_refused_in_one_line_that_says_what_to_do(tmp_path):
    secret_path(tmp_path).write_text("not a secret\n")
    with pytest.raises(CommandError, match=r"is not a course secret .* restore it from the course's backup") as error:
        course_secret(tmp_path)
    assert "\n" not in str(error.value)


def test_the_grader_judges_each_student_on_the_cases_of_their_own_seed(tmp_path):
    """`VerifyAnswers` draws the cases of the verdict run from the course's secret and the student."""
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    verify = VerifyAnswers(config=config)
    exercise = exercise_of("anomaly_detection", "test_estimate_gaussian")
    payloads = {
        student: verify.job(exercise, "", verify.seed("anomaly_detection", student)).payload
        for student in ("ada", "bob")
    }
    assert payloads["ada"] != payloads["bob"]
    secret = course_secret(Course(tmp_path).records)
    assert verify.seed("anomaly_detection", "ada") == seed_for(secret, "anomaly_detection", "ada")
    assert verify.job(exercise, "", verify.seed("anomaly_detection", "ada")).payload == payloads["ada"]

"""Alike wrong outputs (`grading.reporting.alike_outputs`): students whose answers give the same
unusual wrong arrays on the cases every student shares are grouped; a common mistake is not."""

from __future__ import annotations

import json

from grading.course import Course
from grading.reporting.alike_outputs import UNUSUAL_AT_MOST, AlikeOutputs, alike_wrong_outputs, latest_records


def record(**wrong_by_exercise: dict[str, str]) -> dict:
    """A provenance record whose answers gave these wrong-output digests on the shared cases."""
    return {
        "verdicts": {
            exercise: {"problems": ["wrong"] if wrong else [], "fixed": wrong}
            for exercise, wrong in wrong_by_exercise.items()
        }
    }


def test_two_answers_with_the_same_wrong_outputs_on_shared_cases_are_grouped_with_every_such_case():
    records = {
        "ada": record(ex1={"real_2d": "d1", "real_11d": "d2"}),
        "bob": record(ex1={"real_2d": "d1", "real_11d": "d2"}),
        "cem": record(ex1={"real_2d": "d9"}),
        "dan": record(ex1={}),
    }
    assert alike_wrong_outputs(records) == [AlikeOutputs(("ada", "bob"), "ex1", ("real_11d", "real_2d"))]


def test_a_wrong_output_more_students_give_is_a_common_mistake_and_pairs_no_one():
    common = {f"s{i}": record(ex1={"real_2d": "sample variance"}) for i in range(UNUSUAL_AT_MOST + 1)}
    assert alike_wrong_outputs(common) == []
    few = {f"s{i}": record(ex1={"real_2d": "sample variance"}) for i in range(UNUSUAL_AT_MOST)}
    assert alike_wrong_outputs(few) == [AlikeOutputs(tuple(sorted(few)), "ex1", ("real_2d",))]


def test_the_same_wrong_output_in_another_exercise_or_case_is_not_alike():
    records = {
        "ada": record(ex1={"real_2d": "d1"}),
        "bob": record(ex2={"real_2d": "d1"}),
        "cem": record(ex1={"real_11d": "d1"}),
    }
    assert alike_wrong_outputs(records) == []


def test_records_of_a_class_graded_twice_count_the_last_and_a_damaged_line_is_skipped(tmp_path):
    path = tmp_path / "lab.jsonl"
    path.write_text(
        json.dumps({"student": "ada", **record(ex1={"real_2d": "d1"})})
        + "\n"
        + json.dumps({"student": "ada", **record(ex1={})})
        + "\n{not json\n"
        + json.dumps({"student": "bob", **record(ex1={"real_2d": "d1"})})
        + "\n"
    )
    assert alike_wrong_outputs(latest_records(path)) == []
    assert latest_records(Course(tmp_path).records / "missing.jsonl") == {}

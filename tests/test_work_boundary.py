"""What a worker sends back is checked by the coordinator as a sandbox's output is: its shape, its
sizes, and only the outputs the grader keeps (grading/execution/work.py)."""

from __future__ import annotations

import pytest

from grading.execution.work import MAX_VERDICT_BYTES, StudentWork, VerdictJob, WorkError, checked_result

WORK = StudentWork(
    lab="lab",
    student="alice",
    release="/r",
    cache="/c",
    notebook={"cells": [{"index": 0, "source": "print(1)"}]},
    times={"cell": 5, "responsive_wait": 3, "notebook": 60},
    limits={"text_chars_per_cell": 1000, "image_bytes_per_cell": 1000, "notebook_bytes": 5000},
    sandbox={},
    verdicts=(VerdictJob("f", ("def f(): pass",), b"payload", 5.0),),
)


def answer(**changes) -> dict:
    base = {
        "student": "alice",
        "worker": "worker 1",
        "seconds": 1.5,
        "notebook": {
            "cells": {
                "0": {"outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}], "execution_count": 1}
            },
            "stopped": False,
        },
        "verdicts": {"f": {"report": {"errors": {}}, "arrays": b"PK"}},
    }
    return {**base, **changes}


def test_a_well_formed_answer_comes_through_with_its_outputs():
    checked = checked_result(answer(), WORK)
    assert checked["notebook"]["cells"][0]["outputs"][0]["text"] == "1\n"
    assert checked["verdicts"]["f"]["arrays"] == b"PK" and checked["worker"] == "worker 1"


def test_the_work_round_trips_as_plain_data():
    assert StudentWork.from_wire(WORK.to_wire()) == WORK


def test_an_answer_for_another_student_is_refused():
    with pytest.raises(WorkError, match="not theirs"):
        checked_result(answer(student="bob"), WORK)


def test_an_answer_without_a_verdict_per_graded_function_is_refused():
    with pytest.raises(WorkError, match="verdict per graded function"):
        checked_result(answer(verdicts={}), WORK)
    with pytest.raises(WorkError, match="verdict per graded function"):
        checked_result(answer(verdicts={"f": {"error": "x"}, "g": {"error": "y"}}), WORK)


def test_a_verdict_too_large_or_of_another_shape_is_refused():
    with pytest.raises(WorkError, match="verdict"):
        checked_result(answer(verdicts={"f": {"report": {}, "arrays": b"x" * (MAX_VERDICT_BYTES + 1)}}), WORK)
    with pytest.raises(WorkError, match="verdict"):
        checked_result(answer(verdicts={"f": {"report": {}, "arrays": "not bytes"}}), WORK)


def test_outputs_are_cleaned_again_kinds_and_sizes():
    flood = {"output_type": "stream", "name": "stdout", "text": "x" * 100_000}
    script = {
        "output_type": "display_data",
        "data": {"application/javascript": "alert(1)", "text/plain": "ok"},
        "metadata": {},
    }
    cells = {"0": {"outputs": [script, flood], "execution_count": 1}}
    checked = checked_result(answer(notebook={"cells": cells, "stopped": False}), WORK)
    outputs = checked["notebook"]["cells"][0]["outputs"]
    assert outputs[0]["data"] == {"text/plain": "ok"}  # only the kinds the grader keeps
    assert sum(len(o.get("text", "")) for o in outputs) < 10_000  # capped near the limits, not 100,000


def test_a_malformed_notebook_result_is_refused():
    for notebook in (
        {"cells": [], "stopped": False},
        {"cells": {"x": {}}, "stopped": False},
        {"cells": {"0": {"outputs": "text"}}, "stopped": False},
        {"cells": {}},
    ):
        with pytest.raises(WorkError):
            checked_result(answer(notebook=notebook), WORK)

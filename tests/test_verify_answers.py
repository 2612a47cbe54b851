"""The grader's verdict in a grade cell (`grading.preprocessors.verify_answers`), on notebooks made
here: which cells are judged and on what, and what a pass or a failure leaves in the cell. The
verdict runs themselves are tested in test_isolated_call.py and, whole classes, in
test_class_grading.py."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_output

from grading.course import Course
from grading.preprocessors.verify_answers import VerifyAnswers, problems_of, record_verdict, without_pass
from grading.sample_class import BASE_ENTRY, corpus, fill_answers, released_notebook

LAB = "anomaly_detection"
PASSED = "\x1b[92mAll tests passed!\x1b[0m\n"


def grade_cell(*outputs) -> object:
    cell = new_code_cell("estimate_gaussian_test(estimate_gaussian)")
    cell.outputs = list(outputs)
    return cell


def test_each_grade_cell_is_judged_on_the_source_of_its_own_answer_cell():
    answers = next(entry for entry in corpus(LAB) if entry.name == BASE_ENTRY).cells
    nb = fill_answers(released_notebook(Course(), LAB), answers)
    judged = VerifyAnswers().judged(nb, LAB)
    assert [(cell.metadata["nbgrader"]["grade_id"], exercise.function) for cell, exercise, _ in judged] == [
        ("test_estimate_gaussian", "estimate_gaussian"),
        ("test_select_threshold", "select_threshold"),
    ]
    assert [source for _, _, source in judged] == [answers["estimate_gaussian"], answers["select_threshold"]]


def test_a_lab_without_hidden_tests_has_nothing_judged():
    assert VerifyAnswers().judged(released_notebook(Course(), LAB), "no_such_lab") == []


def test_a_failure_drops_every_announced_pass_and_ends_with_what_was_wrong():
    cell = grade_cell(
        new_output("stream", name="stdout", text="checking...\n" + PASSED),
        new_output("display_data", data={"text/html": "<b>All tests</b> passed"}),
        new_output("error", ename="AssertionError", evalue="mu is wrong", traceback=["AssertionError: mu is wrong"]),
    )
    record_verdict(cell, "estimate_gaussian", ["case 1: mu is [0.], expected [1.]"])
    assert [output.output_type for output in cell.outputs] == ["stream", "error", "error"]
    assert cell.outputs[0].text == "checking...\n"
    assert cell.outputs[-1].ename == "WrongAnswer"
    assert cell.outputs[-1].evalue == "estimate_gaussian is not correct yet:\n- case 1: mu is [0.], expected [1.]"


def test_a_pass_keeps_a_failure_of_the_notebooks_own_run_as_plain_text_and_says_why_the_points_are_given():
    error = new_output(
        "error", ename="DeadKernelError", evalue="died", traceback=["\x1b[31mDeadKernelError\x1b[0m: died"]
    )
    cell = grade_cell(error, new_output("stream", name="stderr", text="a warning\n"))
    record_verdict(cell, "estimate_gaussian", [])
    assert [(output.output_type, output.name) for output in cell.outputs] == [("stream", "stdout")] * 3
    assert [output.text for output in cell.outputs[:2]] == ["DeadKernelError: died\n", "a warning\n"]
    assert "every hidden check passed, so this exercise gets its points" in cell.outputs[-1].text


def test_a_pass_with_nothing_failed_above_says_only_that_the_grader_verified_it():
    cell = grade_cell(new_output("stream", name="stdout", text=PASSED))
    record_verdict(cell, "estimate_gaussian", [])
    assert cell.outputs[0].text == PASSED
    assert cell.outputs[-1].text == "estimate_gaussian: verified by the grader in a separate process.\n"


def test_an_output_that_only_announces_a_pass_is_dropped_whatever_its_kind():
    assert without_pass(new_output("stream", name="stdout", text=PASSED)) is None
    assert (
        without_pass(new_output("execute_result", data={"text/plain": "'ALL  TESTS PASSED'"}, execution_count=1))
        is None
    )
    kept = new_output("display_data", data={"text/plain": "a figure"})
    assert without_pass(kept) is kept


def test_a_verdict_run_that_could_not_answer_fails_the_exercise_saying_so():
    exercise = VerifyAnswers().judged(released_notebook(Course(), LAB), LAB)[0][1]
    assert problems_of(exercise, {"error": "the run died (killed by signal 9)"}, 0) == [
        "estimate_gaussian could not be tested: the run died (killed by signal 9)"
    ]
    assert problems_of(exercise, {"report": "not a dict", "arrays": b""}, 0) == [
        "estimate_gaussian could not be tested: a verdict's result is malformed"
    ]

"""The public tests and the grader never disagree on one submission.

For every corpus entry of every lab and every exercise, the exercise's public test (called as
the release's grade cell calls it) passes if and only if the grader's checks give the exercise
its points. The only exceptions are the entries that the hidden cases catch on purpose beyond
the public ones, marked in the entry by a line `# public tests pass: <grade id>: <why>`: there
the public test passes and the grader fails, never the other way round.

Each answer cell is executed on its own, as the grader runs it, and the public test and the
grader's checks (`problems_with(exercise, run_in_process(...))`) judge the function it defines,
in a child process forked from this one (no nbgrader, no sandbox): a few entries end the
process or never return. An answer cell that does not define its function passes neither.
The grader judges each entry on the cases of 20 seeds, as it would 20 students: an entry's
verdict must not depend on which student handed it in.

The last tests check what the graded notebook shows when the two meet in one grade cell: a
failing public test stays visible beside the grader's verdict.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import re
from dataclasses import dataclass
from functools import cache

import nbformat
import pytest
from conftest import REPO_ROOT, import_lab_module
from nbformat.v4 import new_code_cell, new_output
from nbgrader.utils import determine_grade

from grading.course import Course
from grading.preprocessors.verify_answers import hidden_tests, record_verdict
from grading.sample_class import BASE_ENTRY, corpus
from grading.verdicts.checks import problems_with, run_case, run_in_process

pytestmark = pytest.mark.slow  # each corpus entry runs its public tests in a Jupyter kernel

LABS = Course().labs()

DEFINE_SECONDS = 10  # an answer cell that takes longer never finishes (endless_loop)
JUDGE_SECONDS = 300  # pure-Python loops over the real data take a few seconds
SEEDS = range(20)


@dataclass(frozen=True)
class Judged:
    """What the public test and the grader made of one exercise of one entry."""

    public_passed: bool
    public_message: str
    problems_by_seed: tuple[tuple[str, ...], ...]  # what the grader found on the cases of each seed

    @property
    def grader_problems(self) -> tuple[str, ...]:
        return self.problems_by_seed[0]

    @property
    def grader_passed(self) -> bool:
        return not self.grader_problems


def public_test_calls(lab: str) -> dict[str, tuple[str, str]]:
    """grade id -> (public test, function it is given), read from the release's grade cells."""
    release = nbformat.read(REPO_ROOT / "assignments" / lab / f"{lab}.ipynb", as_version=4)
    calls = {}
    for cell in release.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("grade") and cell.cell_type == "code":
            match = re.search(r"^(\w+_test)\((\w+)\)$", cell.source, re.MULTILINE)
            calls[nbgrader["grade_id"]] = (match.group(1), match.group(2))
    return calls


class _Sink(io.TextIOBase):
    """Swallows what a function prints (one entry prints megabytes)."""

    def write(self, text: str) -> int:
        return len(text)


def _judge_in_child(connection, lab: str, source: str, grade_id: str) -> None:
    exercise = hidden_tests()[lab].EXERCISES[grade_id]
    test_name, _ = public_test_calls(lab)[grade_id]
    public_test = getattr(LAB_MODULES[lab], test_name)
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(_Sink()), contextlib.redirect_stderr(_Sink()):
        try:
            exec("import numpy as np", namespace)
            exec(compile(source, f"<{lab}: {exercise.answer_cell}>", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - the entry's cell may raise anything
            connection.send(("undefined", f"{type(error).__name__}: {error}"))
            return
        connection.send(("defined", ""))
        function = namespace.get(exercise.function)
        if not callable(function):
            connection.send(("undefined", f"{exercise.function} is not defined"))
            return
        try:
            public_test(function)
            public = (True, "")
        except Exception as error:  # noqa: BLE001 - an AssertionError, or whatever escaped the test
            public = (False, f"{type(error).__name__}: {error}")
        problems = tuple(
            tuple(problems_with(exercise, results, seed)) for seed, results in each_seeds_results(exercise, function)
        )
    connection.send(("judged", public, problems))


def each_seeds_results(exercise, function):
    """(seed, the function's results on its cases) for every seed; the fixed cases, the same for
    every seed, are run once."""
    first = run_in_process(exercise, function, SEEDS[0])
    yield SEEDS[0], first
    for seed in SEEDS[1:]:
        cases = exercise.cases_for(seed)
        yield seed, [first[i] if case.fixed else run_case(exercise, function, case) for i, case in enumerate(cases)]


LAB_MODULES: dict = {}


def unjudged(why: str) -> Judged:
    """An exercise whose function could not be judged at all: both fail it, for every seed."""
    return Judged(False, why, ((why,),) * len(SEEDS))


def judge(lab: str, source: str, grade_id: str) -> Judged:
    """Run the exercise's public test and the grader's checks on the function `source` defines."""
    if lab not in LAB_MODULES:
        LAB_MODULES[lab] = import_lab_module(lab, "public_tests")
    for seed in SEEDS:  # drawn once here, not in every child
        hidden_tests()[lab].EXERCISES[grade_id].cases_for(seed)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_judge_in_child, args=(sender, lab, source, grade_id), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(DEFINE_SECONDS):
            return unjudged("the answer cell never finished")
        kind, *rest = receiver.recv()
        if kind == "defined":
            if not receiver.poll(JUDGE_SECONDS):
                raise AssertionError(f"judging {grade_id} took more than {JUDGE_SECONDS} s")
            kind, *rest = receiver.recv()
        if kind == "undefined":
            return unjudged(rest[0])
        (public_passed, public_message), problems = rest
        return Judged(public_passed, public_message, problems)
    except EOFError:
        return unjudged("the answer cell ended the process")
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()


@cache
def judged_entry(lab: str, name: str) -> dict[str, Judged]:
    """grade id -> the public test's and the grader's verdicts on that exercise of the entry."""
    entries = {entry.name: entry for entry in corpus(lab)}
    cells = {**entries[BASE_ENTRY].cells, **entries[name].cells}
    return {
        grade_id: judge(lab, cells[exercise.answer_cell], grade_id)
        for grade_id, exercise in hidden_tests()[lab].EXERCISES.items()
    }


CORPUS_ENTRIES = [(lab, entry.name) for lab in LABS for entry in corpus(lab)]


def entry_of(lab: str, name: str):
    return next(entry for entry in corpus(lab) if entry.name == name)


@pytest.mark.parametrize(("lab", "name"), CORPUS_ENTRIES)
def test_public_test_passes_if_and_only_if_the_grader_gives_the_points(lab, name):
    for grade_id, judged in judged_entry(lab, name).items():
        if grade_id in entry_of(lab, name).hidden_only:
            assert judged.public_passed, (
                f"{grade_id}: marked '# public tests pass', but "
                f"the public test fails too ({judged.public_message}): take the line off the entry"
            )
            assert not judged.grader_passed, (
                f"{grade_id}: marked as caught by the hidden cases, but the grader passes it"
            )
        elif judged.public_passed:
            assert judged.grader_passed, (
                f"{grade_id}: the public test passes, the grader fails: {list(judged.grader_problems)}"
            )
        else:
            assert not judged.grader_passed, (
                f"{grade_id}: the grader gives the points, but the public test fails: {judged.public_message}"
            )


@pytest.mark.parametrize(("lab", "name"), CORPUS_ENTRIES)
def test_the_grader_in_process_fails_exactly_what_the_entry_says(lab, name):
    """The same verdicts as tests/test_class_grading.py's, without nbgrader or a sandbox."""
    entry = entry_of(lab, name)
    failed = {grade_id for grade_id, judged in judged_entry(lab, name).items() if not judged.grader_passed}
    assert failed == set(entry.fails)


@pytest.mark.parametrize(("lab", "name"), CORPUS_ENTRIES)
def test_every_corpus_entry_gets_the_same_verdict_whichever_students_cases_judge_it(lab, name):
    for grade_id, judged in judged_entry(lab, name).items():
        verdicts = [not problems for problems in judged.problems_by_seed]
        assert len(set(verdicts)) == 1, (
            f"{grade_id}: passes on the cases of seeds {[seed for seed in SEEDS if verdicts[seed]]} only: "
            f"{[problems for problems in judged.problems_by_seed if problems][0]}"
        )


@pytest.mark.parametrize(("lab", "name"), CORPUS_ENTRIES)
def test_a_mistake_only_the_hidden_tests_catch_is_one_that_loses_that_exercise(lab, name):
    entry = entry_of(lab, name)
    assert set(entry.hidden_only) <= set(entry.fails)


# ---------------------------------------------------------------------------------------------
# One grade cell, both verdicts: the failing public test stays visible
# ---------------------------------------------------------------------------------------------

GREEN = "\033[92mAll tests passed!\033[0m\n"
PUBLIC_FAILURE = new_output(
    "error",
    ename="AssertionError",
    evalue="split_and_normalise(series, 0.25): expected 6 training and 3 test samples",
    traceback=[
        "\x1b[0;31mAssertionError\x1b[0m: split_and_normalise(series, 0.25): expected 6 training and 3 test samples"
    ],
)


def grade_cell(*outputs):
    cell = new_code_cell("split_and_normalise_test(split_and_normalise)", outputs=list(outputs))
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "points": 10,
        "grade_id": "test_split_and_normalise",
        "schema_version": 3,
    }
    return cell


def texts(cell):
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def test_a_passing_verdict_keeps_the_failing_public_test_visible_as_text():
    cell = grade_cell(PUBLIC_FAILURE, new_output("stream", name="stderr", text="RuntimeWarning: divide by zero\n"))
    record_verdict(cell, "split_and_normalise", [])
    assert determine_grade(cell) == (10, 10)
    assert all(output.output_type == "stream" and output.name == "stdout" for output in cell.outputs)
    shown = texts(cell)
    assert "AssertionError: split_and_normalise(series, 0.25): expected 6 training and 3 test samples" in shown
    assert "\x1b[" not in shown
    assert "RuntimeWarning: divide by zero" in shown
    assert shown.endswith(
        "every hidden check passed, so this exercise gets its points. The failure above "
        "happened in this notebook's own run of the cell; it is kept as text for you to read.\n"
    )


def test_a_passing_verdict_after_a_passing_public_test_says_one_line():
    cell = grade_cell(new_output("stream", name="stdout", text=GREEN))
    record_verdict(cell, "split_and_normalise", [])
    assert determine_grade(cell) == (10, 10)
    assert texts(cell) == GREEN + "split_and_normalise: verified by the grader in a separate process.\n"


def test_a_failing_verdict_keeps_the_public_test_and_adds_the_problems():
    cell = grade_cell(PUBLIC_FAILURE)
    record_verdict(cell, "split_and_normalise", ["41 samples: train has shape (31,), expected (30,)"])
    assert determine_grade(cell) == (0, 10)
    assert cell.outputs[0] == PUBLIC_FAILURE
    assert cell.outputs[1].ename == "WrongAnswer"
    assert "train has shape (31,), expected (30,)" in cell.outputs[1].evalue


def test_a_failing_verdict_shows_no_pass_the_notebook_printed_above_it():
    printed = new_output("stream", name="stdout", text="my own line\n" + GREEN + "all  TESTS\x1b[0m passed\n")
    shown = new_output("display_data", data={"text/html": "<b>All tests</b> passed!", "text/plain": "ok"})
    raised = new_output("error", ename="Exception", evalue="All tests passed!", traceback=["All tests passed!"])
    cell = grade_cell(printed, shown, raised, PUBLIC_FAILURE)
    record_verdict(cell, "split_and_normalise", ["41 samples: train has shape (31,), expected (30,)"])
    assert determine_grade(cell) == (0, 10)
    assert [output.output_type for output in cell.outputs] == ["stream", "error", "error"]
    assert texts(cell) == "my own line\n"
    assert cell.outputs[1] == PUBLIC_FAILURE and cell.outputs[2].ename == "WrongAnswer"


def test_a_failing_verdict_after_a_passing_public_test_shows_only_the_problems():
    cell = grade_cell(new_output("stream", name="stdout", text=GREEN))
    record_verdict(cell, "split_and_normalise", ["41 samples: train has shape (31,), expected (30,)"])
    assert [output.get("ename") for output in cell.outputs] == ["WrongAnswer"]


def test_an_entry_can_be_judged_in_a_child_even_when_it_ends_the_process():
    judged = judge("anomaly_detection", "import os\nos._exit(3)\n", "test_estimate_gaussian")
    assert not judged.public_passed and not judged.grader_passed

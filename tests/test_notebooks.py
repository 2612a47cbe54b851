"""The labs' notebooks run in real Jupyter kernels.

Each master must reproduce the published numbers and plots; each student release must run to
the end and fail only in the cells that wait for the student's answers. Every notebook is run
once per module (a kernel takes seconds to start) and the tests read the executed cells.
Masters run with an empty cache, so that a lab that trains a model trains it here.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from expected_outputs import (
    code_parts,
    expected_blocks,
    grade_id,
    numbers_in,
    printed_text,
    same_to_significant_digits,
    unmatched,
)
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbformat import NotebookNode

from grading.course import Course

pytestmark = pytest.mark.slow  # every master and release runs in a Jupyter kernel

CELL_TIMEOUT = 60  # seconds


# What the release's stub shows, in one line, whether its own cell or a self-check calls it.
NOT_DONE = (
    "Not done yet:",
    "still raises NotImplementedError.",
    "Replace `raise NotImplementedError()` with your code",
)
# What a release cell may fail with before the student's answers: the stub itself, or a name that
# an earlier failing cell would have defined.
MISSING_ANSWER = ("NotImplementedError", "NotDoneYet")

LABS = Course().labs()


def master_path(lab: str) -> Path:
    return Course().solutions / lab / f"{lab}.ipynb"


def release_path(lab: str) -> Path:
    return Course().releases / lab / f"{lab}.ipynb"


@functools.cache
def master_source(lab: str) -> NotebookNode:
    """The master as committed (not run): where the tests read what to expect of the lab."""
    return nbformat.read(master_path(lab), as_version=4)


def answer_cells(lab: str) -> list[str]:
    """The grade ids of the master's answer cells."""
    return [grade_id(cell) for cell in master_source(lab).cells if cell.metadata["nbgrader"].get("solution")]


def grade_cells(lab: str) -> list[str]:
    return [grade_id(cell) for cell in master_source(lab).cells if cell.metadata["nbgrader"].get("grade")]


def plot_cells(lab: str) -> list[str]:
    """The master's code cells that show a figure (`plt.show()`)."""
    return [grade_id(cell) for cell in code_cells(master_source(lab)) if "plt.show()" in cell.source]


# ---------------------------------------------------------------------------------------------
# Running a notebook and reading its cells
# ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    """An executed notebook, the exception that stopped it early (if any) and how long it took."""

    notebook: NotebookNode
    stopped_by: Exception | None
    seconds: float


def run_notebook(path: Path, allow_errors: bool) -> Run:
    """Execute the notebook at `path` in a fresh python3 kernel, with its folder as working
    directory and an empty cache folder of its own."""
    with tempfile.TemporaryDirectory(prefix="notebook-cache-") as cache:
        saved = os.environ.get("COURSE_KIT_CACHE_DIR")
        os.environ["COURSE_KIT_CACHE_DIR"] = cache  # the kernel inherits it
        try:
            return _execute(path, allow_errors)
        finally:
            if saved is None:
                os.environ.pop("COURSE_KIT_CACHE_DIR")
            else:
                os.environ["COURSE_KIT_CACHE_DIR"] = saved


def _execute(path: Path, allow_errors: bool) -> Run:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        allow_errors=allow_errors,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.monotonic()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as error:
        return Run(notebook, error, time.monotonic() - start)
    return Run(notebook, None, time.monotonic() - start)


class Runs:
    """Each lab's notebook, executed the first time a test asks for it."""

    def __init__(self, path_of, allow_errors: bool) -> None:
        self.path_of, self.allow_errors, self.runs = path_of, allow_errors, {}

    def __call__(self, lab: str) -> Run:
        if lab not in self.runs:
            self.runs[lab] = run_notebook(self.path_of(lab), self.allow_errors)
        return self.runs[lab]


@pytest.fixture(scope="module")
def master() -> Runs:
    return Runs(master_path, allow_errors=False)


@pytest.fixture(scope="module")
def release() -> Runs:
    return Runs(release_path, allow_errors=True)


def cell_by_id(notebook: NotebookNode, wanted: str) -> NotebookNode:
    return next(cell for cell in notebook.cells if grade_id(cell) == wanted)


def code_cells(notebook: NotebookNode) -> list[NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def errors(cell: NotebookNode) -> list[NotebookNode]:
    return [output for output in cell.outputs if output.output_type == "error"]


def shown_traceback(error: NotebookNode) -> str:
    """The traceback as the student reads it (without its colours)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))


def describe(error: NotebookNode) -> str:
    return f"{error.ename}: {error.evalue}"


EXPECTED_BLOCKS = [(lab, block_id) for lab in LABS for block_id in expected_blocks(master_source(lab))]


def test_number_parser_reads_only_standalone_numbers_in_code_parts():
    markdown = (
        "**Expected output** for X_train, part1\n```\nX_part1 of shape (307,): 8.990853e-05\n"
        "[[13.7632696  0.875]] -2 version 1.2.3\n```\nThat is, $8.99 \\times 10^{-5}$.\n"
        "<pre>1.377229E-18</pre> and <code>117</code>"
    )
    assert numbers_in("\n".join(code_parts(markdown))) == [
        "307",
        "8.990853e-05",
        "13.7632696",
        "0.875",
        "-2",
        "1.377229E-18",
        "117",
    ]


def test_numbers_match_when_they_agree_to_the_expected_significant_digits():
    assert same_to_significant_digits("8.99e-05", "8.990853e-05")
    assert same_to_significant_digits("0.875", "0.875000")
    assert same_to_significant_digits("0", "0")
    assert not same_to_significant_digits("8.99e-05", "8.98e-05")
    assert not same_to_significant_digits("0.875000", "0.875001")
    assert not same_to_significant_digits("117", "116")
    assert unmatched(["6", "0.875"], ["0.875", "6"]) == ["0.875"]


# ---------------------------------------------------------------------------------------------
# The master
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lab", LABS)
def test_master_runs_to_the_end_without_errors_or_stderr(master, lab):
    run = master(lab)
    assert run.stopped_by is None, f"the master stopped early:\n{run.stopped_by}"
    problems = [
        (grade_id(cell), output.get("ename") or output.text)
        for cell in code_cells(run.notebook)
        for output in cell.outputs
        if output.output_type == "error" or output.get("name") == "stderr"
    ]
    assert problems == []


@pytest.mark.parametrize("lab", LABS)
def test_master_shows_an_expected_output_block_for_each_graded_exercise(lab):
    assert len([block for owner, block in EXPECTED_BLOCKS if owner == lab]) >= len(grade_cells(lab)) > 0


@pytest.mark.parametrize(("lab", "block_id"), EXPECTED_BLOCKS)
def test_master_reproduces_every_number_of_the_expected_output_block(master, lab, block_id):
    block, cells = expected_blocks(master(lab).notebook)[block_id]
    expected = numbers_in("\n".join(code_parts(block.source)))
    assert expected, f"{block_id} has no numbers in a code block: the test would check nothing"
    printed = numbers_in("\n".join(printed_text(cell) for cell in cells))
    assert unmatched(expected, printed) == [], f"printed by {[grade_id(cell) for cell in cells]}: {printed}"


@pytest.mark.parametrize(("lab", "cell_id"), [(lab, cell) for lab in LABS for cell in grade_cells(lab)])
def test_master_passes_the_tests_of_each_exercise(master, lab, cell_id):
    text = printed_text(cell_by_id(master(lab).notebook, cell_id))
    assert "All tests passed!" in text, f"{cell_id} printed:\n{text}"


@pytest.mark.parametrize(("lab", "cell_id"), [(lab, cell) for lab in LABS for cell in plot_cells(lab)])
def test_master_draws_the_plot_of_the_cell(master, lab, cell_id):
    outputs = cell_by_id(master(lab).notebook, cell_id).outputs
    assert any("image/png" in output.get("data", {}) for output in outputs), outputs


# ---------------------------------------------------------------------------------------------
# The student release, before any answer is written
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lab", LABS)
def test_release_runs_every_cell(release, lab):
    run = release(lab)
    assert run.stopped_by is None, f"the release stopped early:\n{run.stopped_by}"
    assert [grade_id(cell) for cell in code_cells(run.notebook) if not cell.execution_count] == []


def first_answer(lab: str, cells: list[NotebookNode]) -> int:
    answers = answer_cells(lab)
    return next(index for index, cell in enumerate(cells) if grade_id(cell) in answers)


@pytest.mark.parametrize("lab", LABS)
def test_release_cells_before_the_first_answer_print_what_the_masters_print(master, release, lab):
    cells = code_cells(release(lab).notebook)
    before = cells[: first_answer(lab, cells)]
    assert {grade_id(cell): [describe(e) for e in errors(cell)] for cell in before if errors(cell)} == {}
    masters = {grade_id(cell): printed_text(cell) for cell in code_cells(master(lab).notebook)}
    assert {grade_id(cell): printed_text(cell) for cell in before} == {
        grade_id(cell): masters[grade_id(cell)] for cell in before
    }
    assert any(printed_text(cell) for cell in before), "nothing is printed before the first answer"


@pytest.mark.parametrize(("lab", "cell_id"), [(lab, cell) for lab in LABS for cell in answer_cells(lab)])
def test_release_answer_stub_runs_without_error(release, lab, cell_id):
    assert [describe(e) for e in errors(cell_by_id(release(lab).notebook, cell_id))] == []


@pytest.mark.parametrize("lab", LABS)
def test_release_fails_only_where_an_answer_is_missing(release, lab):
    """A cell fails on a stub, or on a name that an earlier failing cell would have defined."""
    failed_before, wrong = False, {}
    for cell in code_cells(release(lab).notebook):
        found = errors(cell)
        if not found:
            continue
        shown = shown_traceback(found[0])
        missing = found[0].ename in MISSING_ANSWER and all(fragment in shown for fragment in NOT_DONE)
        if len(found) != 1 or not (missing or (found[0].ename == "NameError" and failed_before)):
            wrong[grade_id(cell)] = [describe(error) for error in found]
        failed_before = True
    assert wrong == {}


@pytest.mark.parametrize(("lab", "cell_id"), [(lab, cell) for lab in LABS for cell in grade_cells(lab)])
def test_release_test_cell_says_in_one_line_which_function_is_not_done(release, lab, cell_id):
    [error] = errors(cell_by_id(release(lab).notebook, cell_id))
    assert error.ename == "NotDoneYet", describe(error)
    assert len(error.traceback) == 1 and "\n" not in error.traceback[0], shown_traceback(error)
    assert any(f"{function}()" in shown_traceback(error) for function in answer_cells(lab)), shown_traceback(error)


@pytest.mark.parametrize("lab", LABS)
def test_the_notebook_describes_a_failing_test_as_the_student_will_see_it(lab):
    from public_tests.selfcheck import SelfCheckFailed

    notebook = nbformat.read(release_path(lab), as_version=4)
    text = " ".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert f"**{SelfCheckFailed.heading}:**" in text
    assert "AssertionError" not in text

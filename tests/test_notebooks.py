"""The lab's notebooks run in real Jupyter kernels.

The master must reproduce the published numbers and plots; the student release must run to the
end and fail only in the cells that wait for the student's answers. Each notebook is run once
per module (a kernel takes seconds to start) and the tests read the executed cells.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbformat import NotebookNode

from grading.course import Course

LAB = "anomaly_detection"
MASTER = Course().solutions / LAB / f"{LAB}.ipynb"
RELEASE = Course().releases / LAB / f"{LAB}.ipynb"
CELL_TIMEOUT = 60  # seconds
ANSWER_CELLS = ("estimate_gaussian", "select_threshold")


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
    """Execute the notebook at `path` in a fresh python3 kernel, with its folder as working directory."""
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


@pytest.fixture(scope="module")
def master() -> Run:
    return run_notebook(MASTER, allow_errors=False)


@pytest.fixture(scope="module")
def release() -> Run:
    return run_notebook(RELEASE, allow_errors=True)


def grade_id(cell: NotebookNode) -> str:
    return cell.metadata["nbgrader"]["grade_id"]


def cell_by_id(notebook: NotebookNode, wanted: str) -> NotebookNode:
    return next(cell for cell in notebook.cells if grade_id(cell) == wanted)


def code_cells(notebook: NotebookNode) -> list[NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def printed_text(cell: NotebookNode) -> str:
    """What a cell shows as text: its stdout and the text/plain of its results and displays."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


def errors(cell: NotebookNode) -> list[NotebookNode]:
    return [output for output in cell.outputs if output.output_type == "error"]


def describe(error: NotebookNode) -> str:
    return f"{error.ename}: {error.evalue}"


# ---------------------------------------------------------------------------------------------
# Numbers in the expected-output blocks
# ---------------------------------------------------------------------------------------------

# Fenced code blocks (``` or ~~~) and HTML <pre> or <code> elements. The prose and LaTeX around
# them repeat the results in rounded form, so only these verbatim parts are read.
CODE_PART = re.compile(
    r"^ {0,3}(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<fenced>.*?)^ {0,3}(?P=fence)"
    r"|<pre\b[^>]*>(?P<pre>.*?)</pre>"
    r"|<code\b[^>]*>(?P<code>.*?)</code>",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)
# A decimal or scientific number standing on its own: the digits of names like X_part1 or
# version-like runs such as 1.2.3 are not numbers.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")


def code_parts(markdown: str) -> list[str]:
    """The verbatim (code) parts of a markdown cell's source."""
    return [next(text for text in match.group("fenced", "pre", "code") if text is not None)
            for match in CODE_PART.finditer(markdown)]


def numbers_in(text: str) -> list[str]:
    """The numbers of `text`, as written."""
    return NUMBER.findall(text)


def same_to_significant_digits(expected: str, printed: str) -> bool:
    """Whether both numbers round to the same value at the significant digits `expected` is written with."""
    digits = len(Decimal(expected).as_tuple().digits)
    spec = f".{digits - 1}e"
    return Decimal(format(Decimal(expected), spec)) == Decimal(format(Decimal(printed), spec))


def unmatched(expected: list[str], printed: list[str]) -> list[str]:
    """The expected numbers that cannot be found, in their order, among the printed ones."""
    missing, position = [], 0
    for number in expected:
        for index in range(position, len(printed)):
            if same_to_significant_digits(number, printed[index]):
                position = index + 1
                break
        else:
            missing.append(number)
    return missing


def expected_blocks(notebook: NotebookNode) -> dict[str, tuple[NotebookNode, list[NotebookNode]]]:
    """Each expected-output block by grade_id, with the code cells since the previous block."""
    blocks, cells_since = {}, []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cells_since.append(cell)
        elif grade_id(cell).startswith("expected_"):
            blocks[grade_id(cell)] = (cell, cells_since)
            cells_since = []
    return blocks


EXPECTED_BLOCK_IDS = list(expected_blocks(nbformat.read(MASTER, as_version=4)))


def test_number_parser_reads_only_standalone_numbers_in_code_parts():
    markdown = ("**Expected output** for X_train, part1\n```\nX_part1 of shape (307,): 8.990853e-05\n"
                "[[13.7632696  0.875]] -2 version 1.2.3\n```\nThat is, $8.99 \\times 10^{-5}$.\n"
                "<pre>1.377229E-18</pre> and <code>117</code>")
    assert numbers_in("\n".join(code_parts(markdown))) == [
        "307", "8.990853e-05", "13.7632696", "0.875", "-2", "1.377229E-18", "117"]


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

def test_master_runs_to_the_end_without_errors_or_stderr(master):
    assert master.stopped_by is None, f"the master stopped early:\n{master.stopped_by}"
    problems = [(grade_id(cell), output.get("ename") or output.text)
                for cell in code_cells(master.notebook) for output in cell.outputs
                if output.output_type == "error" or output.get("name") == "stderr"]
    assert problems == []


def test_master_has_at_least_six_expected_output_blocks():
    assert len(EXPECTED_BLOCK_IDS) >= 6, EXPECTED_BLOCK_IDS


@pytest.mark.parametrize("block_id", EXPECTED_BLOCK_IDS)
def test_master_reproduces_every_number_of_the_expected_output_block(master, block_id):
    block, cells = expected_blocks(master.notebook)[block_id]
    expected = numbers_in("\n".join(code_parts(block.source)))
    assert expected, f"{block_id} has no numbers in a code block: the test would check nothing"
    printed = numbers_in("\n".join(printed_text(cell) for cell in cells))
    assert unmatched(expected, printed) == [], f"printed by {[grade_id(cell) for cell in cells]}: {printed}"


HEADLINE_RESULTS = {
    "check_estimate_gaussian": ["Mean of each feature: [14.11222578 14.99771051]",
                                "Variance of each feature: [1.83263141 1.70974533]"],
    "test_estimate_gaussian": ["All tests passed!"],
    "check_select_threshold": ["Best epsilon found using cross-validation: 8.990853e-05",
                               "Best F1 on Cross Validation Set: 0.875000"],
    "test_select_threshold": ["All tests passed!"],
    "anomalies_high": ["Best epsilon found using cross-validation: 1.377229e-18",
                       "Best F1 on Cross Validation Set:  0.615385",
                       "# Anomalies found: 117"],
}


@pytest.mark.parametrize("cell_id", HEADLINE_RESULTS)
def test_master_prints_the_published_headline_results(master, cell_id):
    text = printed_text(cell_by_id(master.notebook, cell_id))
    for line in HEADLINE_RESULTS[cell_id]:
        assert line in text, f"{cell_id} printed:\n{text}"


@pytest.mark.parametrize("cell_id", ["plot_data", "visualize_fit", "plot_threshold_metrics", "plot_outliers"])
def test_master_draws_the_plot_of_the_cell(master, cell_id):
    outputs = cell_by_id(master.notebook, cell_id).outputs
    assert any("image/png" in output.get("data", {}) for output in outputs), outputs


# ---------------------------------------------------------------------------------------------
# The student release, before any answer is written
# ---------------------------------------------------------------------------------------------

NOT_IMPLEMENTED_REPORT = ("your function raised NotImplementedError",
                          "Replace `raise NotImplementedError()` with your code.")
# grade_id -> the error the student sees there, and what its message says.
FIRST_FAILURES = {
    "check_estimate_gaussian": ("NotImplementedError", ()),
    "test_estimate_gaussian": ("AssertionError", NOT_IMPLEMENTED_REPORT),
    # Exercise 2's check starts from the mu and var of Exercise 1's check, which never got them.
    "check_select_threshold": ("NameError", ("name 'mu' is not defined",)),
    "test_select_threshold": ("AssertionError", NOT_IMPLEMENTED_REPORT),
}


def test_release_runs_every_cell_within_the_time_limit(release):
    assert release.stopped_by is None, f"the release stopped early:\n{release.stopped_by}"
    assert [grade_id(cell) for cell in code_cells(release.notebook) if not cell.execution_count] == []
    assert release.seconds < CELL_TIMEOUT


def test_release_cells_before_the_first_answer_run_without_error(release):
    cells = code_cells(release.notebook)
    first_answer = next(i for i, cell in enumerate(cells) if grade_id(cell) in ANSWER_CELLS)
    assert {grade_id(cell): [describe(e) for e in errors(cell)] for cell in cells[:first_answer] if errors(cell)} == {}


@pytest.mark.parametrize("cell_id", ANSWER_CELLS)
def test_release_answer_stub_runs_without_error(release, cell_id):
    assert [describe(e) for e in errors(cell_by_id(release.notebook, cell_id))] == []


@pytest.mark.parametrize("cell_id", FIRST_FAILURES)
def test_release_exercise_cell_fails_because_the_answer_is_missing(release, cell_id):
    ename, fragments = FIRST_FAILURES[cell_id]
    found = errors(cell_by_id(release.notebook, cell_id))
    assert len(found) == 1, [describe(error) for error in found]
    error = found[0]
    assert error.ename == ename, describe(error)
    for fragment in fragments:
        assert fragment in error.evalue, describe(error)


def test_release_prints_the_shapes_of_the_data_before_any_answer(release):
    cell = cell_by_id(release.notebook, "shapes")
    assert errors(cell) == []
    assert "The shape of X_train is: (307, 2)" in printed_text(cell)

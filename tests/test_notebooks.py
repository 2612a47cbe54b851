"""The labs' notebooks run in real Jupyter kernels.

Each master must reproduce the published numbers and plots; each student release must run to
the end and fail only in the cells that wait for the student's answers. Every notebook is run
once per module (a kernel takes seconds to start) and the tests read the executed cells.
Masters run with an empty cache, so that a lab that trains a model trains it here.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class LabNotebook:
    """What the tests expect of one lab's notebooks."""

    answer_cells: tuple[str, ...]
    headline_results: dict[str, list[str]]  # cell id -> lines it must print
    plot_cells: tuple[str, ...]
    first_failures: dict[str, tuple[str, tuple[str, ...]]]  # release cell id -> (error name, message parts)
    before_answers: tuple[str, str]  # a release cell id and a line it prints before any answer


# What the release's stub shows, in one line, whether its own cell or a self-check calls it.
NOT_DONE = (
    "Not done yet:",
    "still raises NotImplementedError.",
    "Replace `raise NotImplementedError()` with your code",
)

LABS = {
    "anomaly_detection": LabNotebook(
        answer_cells=("estimate_gaussian", "select_threshold"),
        headline_results={
            "check_estimate_gaussian": [
                "Mean of each feature: [14.11222578 14.99771051]",
                "Variance of each feature: [1.83263141 1.70974533]",
            ],
            "test_estimate_gaussian": ["All tests passed!"],
            "check_select_threshold": [
                "Best epsilon found using cross-validation: 8.990853e-05",
                "Best F1 on Cross Validation Set: 0.875000",
            ],
            "test_select_threshold": ["All tests passed!"],
            "anomalies_high": [
                "Best epsilon found using cross-validation: 1.377229e-18",
                "Best F1 on Cross Validation Set:  0.615385",
                "# Anomalies found: 117",
            ],
        },
        plot_cells=("plot_data", "visualize_fit", "plot_threshold_metrics", "plot_outliers"),
        first_failures={
            "check_estimate_gaussian": ("NotImplementedError", NOT_DONE),
            "test_estimate_gaussian": ("NotDoneYet", NOT_DONE),
            # Exercise 2's check starts from the mu and var of Exercise 1's check, which never got them.
            "check_select_threshold": ("NameError", ("name 'mu' is not defined",)),
            "test_select_threshold": ("NotDoneYet", NOT_DONE),
        },
        before_answers=("shapes", "The shape of X_train is: (307, 2)"),
    ),
    "timeseries_autoencoder": LabNotebook(
        answer_cells=("split_and_normalise", "make_windows", "score_reconstruction", "bottleneck_activations"),
        headline_results={
            "test_split_and_normalise": ["All tests passed!"],
            "check_make_windows": ["Training windows: (74971, 30)"],
            "test_make_windows": ["All tests passed!"],
            "train_autoencoder": ["Layers: [30, 20, 10, 5, 10, 20, 30]"],
            "test_score_reconstruction": ["All tests passed!"],
            "evaluation": ["Windows: precision 1.0000, recall 1.0000, F1 1.0000"],
            "test_bottleneck_activations": ["All tests passed!"],
        },
        plot_cells=(
            "make_signal",
            "check_split_and_normalise",
            "check_make_windows",
            "train_autoencoder",
            "insert_anomalies",
            "check_score_reconstruction",
            "bottleneck_projection",
            "isolation_forest",
        ),
        first_failures={
            "check_split_and_normalise": ("NotImplementedError", NOT_DONE),
            "test_split_and_normalise": ("NotDoneYet", NOT_DONE),
            "check_make_windows": ("NameError", ("name 'train' is not defined",)),
            "test_make_windows": ("NotDoneYet", NOT_DONE),
            "test_score_reconstruction": ("NotDoneYet", NOT_DONE),
            "test_bottleneck_activations": ("NotDoneYet", NOT_DONE),
        },
        before_answers=("make_signal", "Samples: 100000"),
    ),
}


def master_path(lab: str) -> Path:
    return Course().solutions / lab / f"{lab}.ipynb"


def release_path(lab: str) -> Path:
    return Course().releases / lab / f"{lab}.ipynb"


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


EXPECTED_BLOCKS = [
    (lab, block_id) for lab in LABS for block_id in expected_blocks(nbformat.read(master_path(lab), as_version=4))
]


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
def test_master_has_at_least_six_expected_output_blocks(lab):
    assert len([block for owner, block in EXPECTED_BLOCKS if owner == lab]) >= 6


@pytest.mark.parametrize(("lab", "block_id"), EXPECTED_BLOCKS)
def test_master_reproduces_every_number_of_the_expected_output_block(master, lab, block_id):
    block, cells = expected_blocks(master(lab).notebook)[block_id]
    expected = numbers_in("\n".join(code_parts(block.source)))
    assert expected, f"{block_id} has no numbers in a code block: the test would check nothing"
    printed = numbers_in("\n".join(printed_text(cell) for cell in cells))
    assert unmatched(expected, printed) == [], f"printed by {[grade_id(cell) for cell in cells]}: {printed}"


@pytest.mark.parametrize(("lab", "cell_id"), [(lab, cell) for lab in LABS for cell in LABS[lab].headline_results])
def test_master_prints_the_published_headline_results(master, lab, cell_id):
    text = printed_text(cell_by_id(master(lab).notebook, cell_id))
    for line in LABS[lab].headline_results[cell_id]:
        assert line in text, f"{cell_id} printed:\n{text}"


@pytest.mark.parametrize(("lab", "cell_id"), [(lab, cell) for lab in LABS for cell in LABS[lab].plot_cells])
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


@pytest.mark.parametrize("lab", LABS)
def test_release_cells_before_the_first_answer_run_without_error(release, lab):
    cells = code_cells(release(lab).notebook)
    first_answer = next(i for i, cell in enumerate(cells) if grade_id(cell) in LABS[lab].answer_cells)
    assert {grade_id(cell): [describe(e) for e in errors(cell)] for cell in cells[:first_answer] if errors(cell)} == {}


@pytest.mark.parametrize(("lab", "cell_id"), [(lab, cell) for lab in LABS for cell in LABS[lab].answer_cells])
def test_release_answer_stub_runs_without_error(release, lab, cell_id):
    assert [describe(e) for e in errors(cell_by_id(release(lab).notebook, cell_id))] == []


@pytest.mark.parametrize(("lab", "cell_id"), [(lab, cell) for lab in LABS for cell in LABS[lab].first_failures])
def test_release_exercise_cell_fails_because_the_answer_is_missing(release, lab, cell_id):
    ename, fragments = LABS[lab].first_failures[cell_id]
    found = errors(cell_by_id(release(lab).notebook, cell_id))
    assert len(found) == 1, [describe(error) for error in found]
    error = found[0]
    assert error.ename == ename, describe(error)
    shown = shown_traceback(error)
    for fragment in fragments:
        assert fragment in shown, shown


@pytest.mark.parametrize(
    ("lab", "cell_id"),
    [(lab, cell) for lab in LABS for cell, (ename, _) in LABS[lab].first_failures.items() if ename != "NameError"],
)
def test_release_unfinished_exercise_is_one_line_naming_the_function(release, lab, cell_id):
    [error] = errors(cell_by_id(release(lab).notebook, cell_id))
    assert len(error.traceback) == 1 and "\n" not in error.traceback[0], shown_traceback(error)
    exercise = next(name for name in LABS[lab].answer_cells if name in cell_id)
    assert f"{exercise}()" in shown_traceback(error)


@pytest.mark.parametrize("lab", LABS)
def test_release_prints_its_first_results_before_any_answer(release, lab):
    cell_id, line = LABS[lab].before_answers
    cell = cell_by_id(release(lab).notebook, cell_id)
    assert errors(cell) == []
    assert line in printed_text(cell)


@pytest.mark.parametrize("lab", LABS)
def test_the_notebook_describes_a_failing_test_as_the_student_will_see_it(lab):
    from public_tests.selfcheck import SelfCheckFailed

    notebook = nbformat.read(release_path(lab), as_version=4)
    text = " ".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert f"**{SelfCheckFailed.heading}:**" in text
    assert "AssertionError" not in text

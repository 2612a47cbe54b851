"""A student's session in a real browser, following the README's "For students" section.

The student environment starts as `make student LAB=<lab>` starts it (grading/student.py), in a
temporary working folder; headless Chromium opens the lab's notebook and, as a student would:
finds that typing into a locked cell changes nothing, fills in the cells marked
`# GRADED FUNCTION` with correct answers (from grading/corpus/<lab>/correct_vectorised.py), runs
Kernel > Restart Kernel and Run All Cells, sees every *Check your work* cell print what its
*Expected output* block shows and every *Tests for Exercise* cell a green "All tests passed!",
sees the figures, then makes a typical mistake and reads the message, and presses nbgrader's
Validate button. Screenshots of every step: build/screenshots/<test>/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nbformat
import pytest

pytest.importorskip("playwright", reason="the playwright package is not installed: pip install -e '.[test]'")
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from grading.sample_class import BASE_ENTRY, CORPUS, read_entry

pytestmark = pytest.mark.browser

CELLS = ".jp-NotebookPanel .jp-Notebook .jp-Cell"
STATUS = "[data-jp-item-name='executionProgress'] .jp-Notebook-ExecutionIndicator"
PASSED = "All tests passed!"


@dataclass(frozen=True)
class LabSession:
    headline: tuple[str, ...]  # lines the page must show after a correct run (README, test_notebooks)
    figures: int  # at least this many figures
    mistake: tuple[str, str, str]  # corpus entry, the grade id of its failing test cell, a part of its message
    run_timeout: int  # seconds for Restart & Run All
    validate: tuple[str, ...]  # when to press Validate ("correct", "mistake"): each runs the notebook again


LABS = {
    "anomaly_detection": LabSession(
        headline=(
            "Mean of each feature: [14.11222578 14.99771051]",
            "Variance of each feature: [1.83263141 1.70974533]",
            "Best epsilon found using cross-validation: 8.990853e-05",
            "Best F1 on Cross Validation Set: 0.875000",
            "Best epsilon found using cross-validation: 1.377229e-18",
            "Best F1 on Cross Validation Set: 0.615385",
            "# Anomalies found: 117",
        ),
        figures=4,
        mistake=("sample_variance", "test_estimate_gaussian", "m - 1"),
        run_timeout=90,
        validate=("correct", "mistake"),
    ),
    "timeseries_autoencoder": LabSession(
        headline=(
            "Training windows: (74971, 30)",
            "Layers: [30, 20, 10, 5, 10, 20, 30]",
            "Flagged samples: 1916",
            "Samples: precision 0.9708, recall 0.9300, F1 0.9499",
            "Windows: precision 1.0000, recall 1.0000, F1 1.0000",
            "Median distance to the nearest normal window: normal 0.0164, anomalous 0.3202",
        ),
        figures=8,
        mistake=("sample_std", "test_split_and_normalise", "ddof=1"),
        run_timeout=180,  # trains the network (about 15 s alone; more beside a browser on 2 cores)
        # With the mistake, Validate would train another network (the windows change): the first lab covers it.
        validate=("correct",),
    ),
}


def squash(text: str) -> str:
    """Whitespace collapsed, and -0.0000 read as 0.0000 (the time-series lab says either may print)."""
    return re.sub(r"-(0\.0+)\b", r"\1", " ".join(text.split()))


class StudentNotebook:
    """The lab's notebook open in JupyterLab, used through the page only (clicks and keys)."""

    def __init__(self, page, server, lab: str, shoot) -> None:
        self.page, self.server, self.lab, self.shoot = page, server, lab, shoot
        # The student's copy as `make student` made it (before the page saves anything).
        self.release = nbformat.read(server.workspace.notebook, as_version=4)
        self.ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in self.release.cells]

    # -- finding things ------------------------------------------------------------------------

    def cell(self, grade_id: str):
        return self.page.locator(CELLS).nth(self.ids.index(grade_id))

    def source(self, grade_id: str) -> str:
        """The cell's text as its editor shows it."""
        return (
            self.cell(grade_id)
            .locator(".cm-content")
            .evaluate("el => [...el.querySelectorAll('.cm-line')].map(line => line.textContent).join('\\n')")
        )

    def output(self, grade_id: str) -> str:
        return (
            self.cell(grade_id)
            .locator(".jp-OutputArea")
            .evaluate("el => [...el.querySelectorAll('.jp-OutputArea-output')].map(o => o.textContent).join('\\n')")
        )

    def prompts(self) -> list[str]:
        return self.page.eval_on_selector_all(
            ".jp-NotebookPanel .jp-Notebook .jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())"
        )

    def code_ids(self) -> list[str]:
        return [gid for gid, cell in zip(self.ids, self.release.cells) if cell.cell_type == "code"]

    def answer_ids(self) -> list[str]:
        return [
            gid for gid, cell in zip(self.ids, self.release.cells) if cell.metadata.get("nbgrader", {}).get("solution")
        ]

    def test_ids(self) -> list[str]:
        return [
            gid
            for gid, cell in zip(self.ids, self.release.cells)
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
        ]

    # -- doing things --------------------------------------------------------------------------

    def show(self, locator) -> None:
        """Scroll `locator` into view and give the browser time to paint it (the notebook skips
        painting cells out of view), as before a screenshot."""
        locator.scroll_into_view_if_needed()
        self.page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        self.page.wait_for_timeout(500)

    def open(self) -> None:
        page = self.page
        page.goto(self.server.url(f"lab/tree/{self.lab}.ipynb"))
        count = len(self.release.cells)
        page.wait_for_function(f"document.querySelectorAll('{CELLS}').length === {count}", timeout=60_000)
        page.wait_for_selector(f"{STATUS}[data-status='idle']", timeout=60_000)
        # JupyterLab asks once whether to fetch Jupyter's news: a student would say no.
        try:
            page.locator(".Toastify__toast button:text-is('No')").first.click(timeout=3_000)
        except PlaywrightTimeout:
            pass

    def type_into(self, grade_id: str, keys: str) -> None:
        """Click into the cell's editor and type, as a student would."""
        self.cell(grade_id).locator(".cm-content").click()
        self.page.keyboard.type(keys)
        self.page.keyboard.press("Escape")  # back to command mode

    def write_answer(self, grade_id: str, text: str) -> None:
        """Select everything in the answer cell's editor and type `text` in its place."""
        editor = self.cell(grade_id).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")
        assert self.source(grade_id) == text.rstrip("\n") or self.source(grade_id) == text, (
            f"the editor of {grade_id} does not hold what was typed:\n{self.source(grade_id)}"
        )

    def restart_and_run_all(self, timeout: int) -> None:
        """The notebook toolbar's "Restart the kernel and run all cells", confirmed; back when the
        kernel is idle with no cell left to run (the run stops at a cell that raises)."""
        page = self.page
        page.locator(
            "[data-jp-item-name='restart-and-run'] button, [data-jp-item-name='restart-and-run']"
        ).first.click()
        page.locator(".jp-Dialog .jp-mod-accept").click()  # "Restart"
        page.wait_for_function(
            f"""() => document.querySelector("{STATUS}").dataset.status !== 'idle'
                 || [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))""",
            timeout=30_000,
        )
        page.wait_for_function(
            f"""() => document.querySelector("{STATUS}").dataset.status === 'idle'
                 && ![...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))""",
            timeout=timeout * 1000,
            polling=500,
        )

    def validate(self) -> tuple[str, str, list[str]]:
        """nbgrader's Validate button (it saves the notebook first); the result dialog's class, its
        text, and the texts of its blocks cut off at the right (wider than the dialog shows)."""
        page = self.page
        page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
        dialog = page.locator(".jp-Dialog:has-text('Validation Results')")
        dialog.wait_for(timeout=120_000)
        message = dialog.locator("#validation-message")
        clipped = message.evaluate(
            "node => [...node.querySelectorAll('pre')].filter(pre => pre.scrollWidth > pre.clientWidth + 1)"
            ".map(pre => pre.innerText)"
        )
        result = (message.get_attribute("class") or "", message.inner_text(), clipped)
        self.shoot(page, "validate-" + ("success" if "validation-success" in result[0] else "failed"))
        dialog.locator(".jp-mod-accept").click()
        return result


def corpus_cells(lab: str, entry: str) -> dict[str, str]:
    base = read_entry(CORPUS / lab / f"{BASE_ENTRY}.py")
    return {**base.cells, **read_entry(CORPUS / lab / f"{entry}.py").cells}


def with_marker(release_source: str, answer: str) -> str:
    """The answer under the cell's `# GRADED FUNCTION: ...` line, kept as a student keeps it."""
    marker = release_source.splitlines()[0]
    return answer if answer.startswith("# GRADED FUNCTION") else f"{marker}\n{answer}"


def expected_blocks(notebook) -> dict[str, list[str]]:
    """For each *Expected output* cell: the code cell before it and the lines of its ``` block."""
    found, last_code = {}, None
    for cell in notebook.cells:
        if cell.cell_type == "code":
            last_code = cell.metadata["nbgrader"]["grade_id"]
        elif cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("expected") and last_code:
            block = re.search(r"```\n(.*?)```", cell.source, re.DOTALL)
            if block:
                found[last_code] = [line for line in block.group(1).splitlines() if line.strip()]
    return found


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.mark.parametrize("lab", list(LABS))
def test_a_students_session(lab, student_server, page, screenshots):
    session = LABS[lab]
    server = student_server(lab)
    notebook = StudentNotebook(page, server, lab, screenshots)
    correct = corpus_cells(lab, BASE_ENTRY)

    # "In the notebook ..." — it opens in the student's own copy, outside the course.
    notebook.open()
    screenshots(page, "opened")
    # Opening changes nothing: the notebook's tab is not marked modified (no unsaved-changes dot).
    page.wait_for_timeout(2_000)  # JupyterLab marks a notebook it rewrites on load within moments
    assert page.locator(".jp-mod-dirty").count() == 0, "the notebook shows as modified right after opening"

    # The student's tools only: Validate in the toolbar, the Assignment List in the Nbgrader menu,
    # no Create Assignment sidebar, no Formgrader or Course List.
    assert page.locator(".jp-NotebookPanel-toolbar .validate-button").is_visible()
    assert page.locator("[title*='Create Assignment'], #nbgrader-create_assignemnt").count() == 0
    page.locator(".lm-MenuBar-itemLabel:text-is('Nbgrader')").click()
    items = page.locator(".lm-Menu .lm-Menu-item:visible .lm-Menu-itemLabel").all_inner_texts()
    screenshots(page, "nbgrader-menu")
    page.keyboard.press("Escape")
    assert items == ["Assignment List"], f"the Nbgrader menu shows {items}"

    # "... every other cell is read-only": typing into a locked cell changes nothing.
    for locked in ("imports", notebook.test_ids()[0]):
        before = notebook.source(locked)
        notebook.type_into(locked, "x = 1")
        assert notebook.source(locked) == before, f"typing changed the locked cell {locked}"
    assert page.locator(CELLS).count() == len(notebook.release.cells)
    screenshots(page, "locked-cell-unchanged")

    # Run All on the release as it comes: it stops at the first Check your work cell, which says
    # in one line that the exercise is not done yet (no traceback).
    notebook.restart_and_run_all(session.run_timeout)
    first_check = next(code_id for code_id in notebook.code_ids() if code_id.startswith("check_"))
    message = notebook.output(first_check).strip()
    notebook.show(notebook.cell(first_check).locator(".jp-OutputArea"))
    screenshots(page, "not-done-yet")
    assert message.startswith("Not done yet:") and "still raises NotImplementedError" in message, message
    assert "\n" not in message and "Traceback" not in message, message

    # "... fill in the cells marked # GRADED FUNCTION".
    for grade_id in notebook.answer_ids():
        release_source = notebook.release.cells[notebook.ids.index(grade_id)].source
        assert release_source.startswith("# GRADED FUNCTION"), grade_id
        notebook.write_answer(grade_id, with_marker(release_source, correct[grade_id]))
    screenshots(page, "answers-filled")

    # Restart & Run All: every cell runs, each Check your work cell prints its Expected output,
    # each test cell a green "All tests passed!", and the figures show.
    notebook.restart_and_run_all(session.run_timeout)
    screenshots(page, "run-all-done")
    prompts = notebook.prompts()
    assert prompts == [f"[{n}]:" for n in range(1, len(prompts) + 1)], f"not every cell ran: {prompts}"
    outputs = {grade_id: notebook.output(grade_id) for grade_id in notebook.code_ids()}
    shown = squash("\n".join(outputs.values()))
    missing = [line for line in session.headline if squash(line) not in shown]
    assert not missing, f"the page does not show {missing}"
    for code_id, lines in expected_blocks(notebook.release).items():
        absent = [line for line in lines if squash(line) not in squash(outputs[code_id])]
        assert not absent, f"{code_id} does not print its expected output {absent}:\n{outputs[code_id]}"
    for test_id in notebook.test_ids():
        green = notebook.cell(test_id).locator(f"[class*='ansi-green']:has-text('{PASSED}')")
        assert green.count() == 1, f"{test_id} does not show a green '{PASSED}':\n{outputs[test_id]}"
    notebook.show(green)
    screenshots(page, "all-tests-passed")
    figures = page.locator(".jp-OutputArea-output img[src^='data:image/png']")
    assert figures.count() >= session.figures
    widths = figures.evaluate_all("imgs => imgs.map(img => img.naturalWidth)")
    assert all(width > 100 for width in widths), f"a figure did not load: widths {widths}"
    notebook.show(figures.first)
    screenshots(page, "figure")
    if lab == "timeseries_autoencoder":
        # "... keeps it in .autoencoder_cache/ beside the notebook": the student's, not the grader's.
        assert (server.workspace.folder / ".autoencoder_cache").is_dir()

    # Validate: the correct notebook passes.
    if "correct" in session.validate:
        kind, text, _ = notebook.validate()
        assert "validation-success" in kind and "passes all the tests" in text, text
        saved = nbformat.read(server.workspace.notebook, as_version=4)
        answer = next(cell for cell in saved.cells if cell.metadata["nbgrader"]["grade_id"] == notebook.answer_ids()[0])
        assert "NotImplementedError" not in answer.source  # saved in the student's copy

    # A typical mistake: the test cell says what was expected and what came back.
    entry, failing_test, hint = session.mistake
    wrong = corpus_cells(lab, entry)
    wrong_id = next(grade_id for grade_id in notebook.answer_ids() if wrong[grade_id] != correct[grade_id])
    release_source = notebook.release.cells[notebook.ids.index(wrong_id)].source
    notebook.write_answer(wrong_id, with_marker(release_source, wrong[wrong_id]))
    notebook.restart_and_run_all(session.run_timeout)
    message = notebook.output(failing_test)
    notebook.show(notebook.cell(failing_test).locator(".jp-OutputArea"))
    screenshots(page, "mistake-message")
    assert message.startswith("Not yet right:") and hint in message, message
    assert "Traceback" not in message and "public_tests.py" not in message, message  # one message, no trace
    assert PASSED not in message
    if "mistake" in session.validate:
        kind, text, clipped = notebook.validate()
        assert "validation-failed" in kind and "The following cell failed" in text and hint in text, text
        assert clipped == []  # the whole message is in view, its hint included

    # Nothing went wrong on the server.
    log = server.log_text()
    errors = [line for line in log.splitlines() if line.startswith("[E")]
    assert not errors, "\n".join(errors)
    assert "formgrader" not in log

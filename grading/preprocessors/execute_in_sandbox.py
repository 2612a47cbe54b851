"""Execute a submission's cells in a sandbox, and keep only the outputs the grader allows.

This replaces nbgrader's kernel-based `Execute`: the cells run with IPython inside a
bubblewrap sandbox (`grading.sandbox`) that sees only the lab's released files, and their
outputs come back as JSON lines that are read with limits (`grading.sandbox.protocol`). The
hidden parts of grade cells are not sent: those cells' points come from `VerifyAnswers`.

What a class of submissions needs on top of running cells:
- a cell past its time limit is interrupted; one that ignores the interrupt, or a notebook
  past its own limit, gets the sandbox stopped, and every later cell a "not run" note;
- a sandbox that dies (the code exited Python, used up its memory, CPU time or file-size
  allowance) costs only the cells from there on, with an error output saying why;
- outputs are capped per cell and per notebook, and only text, HTML (sanitised later), PNG
  and JPEG outputs are kept;
- what the grader saw go wrong (`grading.reporting.incidents`) is kept in the notebook's metadata,
  `nb.metadata["grading"]["incidents"]`, where the class's notes are read from;
- the lab's shared cells that the student's code cannot reach are left out of the run and show
  the master's outputs (`grading.execution.shared_cells`).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

from grading.cells import without_hidden_tests
from grading.course import Course
from grading.execution import prepared, shared_cells
from grading.execution.notebook_run import TimeLimits, error_output, follow_notebook
from grading.execution.work import checked_notebook
from grading.execution.worker import SANDBOX_ENV, lab_mounts
from grading.preprocessors.own_time import OwnTimeLimit
from grading.reporting.incidents import incident
from grading.sandbox.launch import SHARED_CACHE, Sandbox
from grading.sandbox.protocol import OutputLimits
from grading.sandbox.warm import ColdRun, missing_guarantees

NOT_RUN = "Not run: the kernel had stopped at an earlier cell."
UNSAFE_NOTE = "[graded without a sandbox (--unsafe-no-sandbox): this notebook's code ran as the grader's own user]\n"
WEAKER_LIMITS_NOTE = (
    "[graded with per-process limits only: the grading machine offered no cgroup to count this"
    " notebook's run as a whole]\n"
)


def release_folder(coursedir: CourseDirectory, lab: str) -> Path:
    return Path(coursedir.format_path(coursedir.release_directory, ".", lab))


def course_cache(coursedir: CourseDirectory) -> Path:
    """Costly results of the masters' runs (a trained network) that every sandbox may read."""
    return Course(Path(coursedir.root)).cache


def font_cache(folder: Path) -> Path:
    """matplotlib's font list, built once by the grader, so that no sandbox spends a second on it."""
    if not any(folder.glob("fontlist-*.json")):
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-I", "-c", "import matplotlib.font_manager"],
            check=False,
            env={"MPLCONFIGDIR": str(folder), "PATH": "/usr/bin:/bin"},
            capture_output=True,
        )
    return folder


class ExecuteInSandbox(NbGraderPreprocessor, OwnTimeLimit):
    """Run the notebook's code cells in a sandbox with time limits and output caps."""

    timeout = Integer(30, help="Seconds one cell may run before it is interrupted.").tag(config=True)
    responsive_wait = Integer(
        5, help="Seconds a cell may go on after its interrupt before the sandbox is stopped."
    ).tag(config=True)
    notebook_timeout = Integer(600, help="Seconds the whole notebook may run.").tag(config=True)
    max_output_chars = Integer(OutputLimits.text_chars_per_cell, help="Characters of text output kept per cell.").tag(
        config=True
    )
    max_image_bytes = Integer(OutputLimits.image_bytes_per_cell, help="Bytes of figures (base64) kept per cell.").tag(
        config=True
    )
    max_notebook_bytes = Integer(OutputLimits.notebook_bytes, help="Bytes of output kept for the whole notebook.").tag(
        config=True
    )

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        self.run(nb, info["assignment"], info.get("student", "a notebook"))
        return nb, resources

    def shared_plan(self, nb: NotebookNode, lab: str) -> shared_cells.Plan:
        """Which of the lab's shared cells this notebook's run leaves out (`grading.execution.shared_cells`)."""
        return shared_cells.plan(nb, shared_cells.load(course_cache(CourseDirectory(config=self.config)), lab))

    def request(self, nb: NotebookNode, left_out: object = ()) -> dict:
        """What the notebook runner is asked to run: every code cell but those `left_out`, hidden tests left out."""
        cells = [
            {"index": index, "source": without_hidden_tests(cell.source)}
            for index, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and index not in left_out
        ]
        return {
            "cells": cells,
            "cell_timeout": self.timeout,
            "cell_stretch": self.stretch(),
            "max_output_chars": self.max_output_chars,
        }

    def output_limits(self) -> OutputLimits:
        return OutputLimits(
            text_chars_per_cell=self.max_output_chars,
            image_bytes_per_cell=self.max_image_bytes,
            notebook_bytes=self.max_notebook_bytes,
        )

    def time_limits(self) -> TimeLimits:
        return TimeLimits(
            cell=self.timeout,
            responsive_wait=self.responsive_wait,
            notebook=self.notebook_timeout,
            stretch=self.stretch(),
        )

    def run(self, nb: NotebookNode, lab: str, who: str, cache_to: Path | None = None) -> NotebookNode:
        """Execute `nb` of `lab` in a sandbox, in place; or take the run a class's worker made of
        exactly these cells. `cache_to` (for the master's run only: every cell runs) is a folder the
        run may write the lab's cache into; otherwise the course's cache is read-only."""
        plan = shared_cells.Plan() if cache_to is not None else self.shared_plan(nb, lab)
        request = self.request(nb, plan.left_out)
        settings = Sandbox(config=self.config)
        result = None if cache_to is not None else prepared.notebook_answer(lab, who, request)
        if result is None:
            result = checked_notebook(self._run_here(request, lab, who, settings, cache_to), self.output_limits())
        self._place(nb, result, settings, plan)
        return nb

    def _run_here(self, request: dict, lab: str, who: str, settings: Sandbox, cache_to: Path | None) -> dict:
        coursedir = CourseDirectory(config=self.config)
        cache = course_cache(coursedir)
        font_cache(cache / "sandbox" / "matplotlib")
        mounts = lab_mounts(release_folder(coursedir, lab), cache, lab)
        if cache_to is not None:
            mounts.read_only = {
                outside: inside for outside, inside in mounts.read_only.items() if inside != SHARED_CACHE
            }
            mounts.writable[cache_to] = SHARED_CACHE
        run = ColdRun(settings, mounts, "notebook", json.dumps(request).encode(), SANDBOX_ENV)
        try:
            return follow_notebook(run, request, self.output_limits(), self.time_limits(), who, self.log)
        finally:
            run.close()

    @staticmethod
    def _place(nb: NotebookNode, result: dict, settings: Sandbox, plan: shared_cells.Plan | None = None) -> None:
        """Put each cell's outputs of the checked `result` in the notebook, and the master's in the
        shared cells the run left out (where the run got past them); after a stop, the cells
        never reached say so. The run's incidents go in the notebook's metadata, which holds
        nothing else but the cells RestoreReleasedCells saw changed: it has already replaced the
        submission's metadata by the release's, so nothing a student wrote there survives, and
        nothing of the run's outputs is read for them."""
        plan = plan or shared_cells.Plan()
        code = [(index, cell) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
        last_run = max(result["cells"], default=-1)
        for index, cell in code:
            entry = result["cells"].get(index)
            if entry is None and index in plan.left_out and (not result["stopped"] or index < last_run):
                entry = copy.deepcopy(plan.left_out[index])
                entry["outputs"] = [nbformat.from_dict(output) for output in entry["outputs"]]
            if entry is not None:
                cell.outputs, cell.execution_count = entry["outputs"], entry["execution_count"]
            else:
                cell.outputs, cell.execution_count = [], None
                if result["stopped"]:
                    cell.outputs = [error_output("NotRun", NOT_RUN)]
        if settings.unsafe_no_sandbox and code:
            code[0][1].outputs.insert(0, new_output("stream", name="stdout", text=UNSAFE_NOTE))
        elif code and missing_guarantees(settings):
            code[0][1].outputs.insert(0, new_output("stream", name="stdout", text=WEAKER_LIMITS_NOTE))
        nb.metadata["language_info"] = {"name": "python", "version": ".".join(map(str, sys.version_info[:3]))}
        shared_ran = [incident("shared_cell_ran", index) for index in plan.ran_as_usual]
        before = nb.metadata.get("grading")
        kept = (
            {"ignored_cells": before["ignored_cells"]} if isinstance(before, dict) and "ignored_cells" in before else {}
        )
        nb.metadata["grading"] = {**kept, "incidents": result["incidents"] + shared_ran}

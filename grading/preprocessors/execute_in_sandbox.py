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
  and JPEG outputs are kept.
"""
from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

from grading.sandbox.launch import HOME, PROGRAMS, SHARED_CACHE, Mounts, Sandbox, SandboxedRun
from grading.sandbox.protocol import OutputBudget, OutputLimits, ProtocolError, clean_outputs, read_lines

KERNEL_DIED = "The kernel died while running this cell ({why})."
KERNEL_STOPPED = "The kernel was stopped: it was still busy {seconds:g} s after the time limit and an interrupt."
NOTEBOOK_STOPPED = "The notebook ran past its time limit of {seconds:g} s and was stopped."
OUTPUT_STOPPED = "The kernel was stopped: this cell's output broke the output rules ({why})."
PROTOCOL_BROKEN = "The kernel was stopped: the notebook's run wrote to the grader's channel out of turn."
CELL_TIMED_OUT = "The cell ran past its time limit of {seconds:g} s and was interrupted."
NOT_RUN = "Not run: the kernel had stopped at an earlier cell."
UNSAFE_NOTE = "[graded without a sandbox (--unsafe-no-sandbox): this notebook's code ran as the grader's own user]\n"
HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def error_output(name: str, message: str) -> NotebookNode:
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


def without_hidden_tests(source: str) -> str:
    """A cell's source without its hidden-test region: those run only in the grader's verdict."""
    return HIDDEN_TESTS.sub("", source)


def lab_mounts(coursedir: CourseDirectory, lab: str) -> Mounts:
    """The lab's released files (read-only) in the working folder, and the course's read-only caches."""
    release = Path(coursedir.format_path(coursedir.release_directory, ".", lab))
    work = f"{HOME}/{lab}"
    mounts = Mounts(work=work)
    for entry in sorted(release.iterdir()):
        if entry.suffix != ".ipynb" and not entry.name.startswith(".") and entry.name != "__pycache__":
            mounts.read_only[entry.resolve()] = f"{work}/{entry.name}"
    cache = course_cache(coursedir)
    cache.mkdir(parents=True, exist_ok=True)
    mounts.read_only[cache] = SHARED_CACHE
    fonts = font_cache(cache / "sandbox" / "matplotlib")
    for font_list in fonts.glob("fontlist-*.json"):
        mounts.read_only[font_list] = f"{HOME}/.config/matplotlib/{font_list.name}"
    return mounts


def course_cache(coursedir: CourseDirectory) -> Path:
    """Costly results of the masters' runs (a trained network) that every sandbox may read."""
    return Path(coursedir.root) / "grading" / "cache"


def font_cache(folder: Path) -> Path:
    """matplotlib's font list, built once by the grader, so that no sandbox spends a second on it."""
    if not any(folder.glob("fontlist-*.json")):
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"], check=False,
                       env={"MPLCONFIGDIR": str(folder), "PATH": "/usr/bin:/bin"}, capture_output=True)
    return folder


class ExecuteInSandbox(NbGraderPreprocessor):
    """Run the notebook's code cells in a sandbox with time limits and output caps."""

    timeout = Integer(30, help="Seconds one cell may run before it is interrupted.").tag(config=True)
    responsive_wait = Integer(
        5, help="Seconds a cell may go on after its interrupt before the sandbox is stopped.").tag(config=True)
    notebook_timeout = Integer(600, help="Seconds the whole notebook may run.").tag(config=True)
    max_output_chars = Integer(100_000, help="Characters of text output kept per cell.").tag(config=True)
    max_image_bytes = Integer(2_000_000, help="Bytes of figures (base64) kept per cell.").tag(config=True)
    max_notebook_bytes = Integer(20_000_000, help="Bytes of output kept for the whole notebook.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        self.run(nb, info["assignment"], info.get("student", "a notebook"))
        return nb, resources

    def run(self, nb: NotebookNode, lab: str, who: str, cache_to: Path | None = None) -> NotebookNode:
        """Execute `nb` of `lab` in a sandbox, in place. `cache_to` (for the master's run only) is
        a folder the run may write the lab's cache into; otherwise the course's cache is read-only."""
        coursedir = CourseDirectory(config=self.config)
        code = [(index, cell) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
        for _, cell in code:
            cell.outputs, cell.execution_count = [], None
        request = {"cells": [{"index": index, "source": without_hidden_tests(cell.source)} for index, cell in code],
                   "cell_timeout": self.timeout, "max_output_chars": self.max_output_chars}
        settings = Sandbox(config=self.config)
        argv = [sys.executable, "-I", "-B", f"{PROGRAMS}/notebook_runner.py"]
        limits = OutputLimits(text_chars_per_cell=self.max_output_chars, image_bytes_per_cell=self.max_image_bytes,
                              notebook_bytes=self.max_notebook_bytes)
        mounts = lab_mounts(coursedir, lab)
        if cache_to is not None:
            mounts.read_only = {outside: inside for outside, inside in mounts.read_only.items() if inside != SHARED_CACHE}
            mounts.writable[cache_to] = SHARED_CACHE
        with SandboxedRun(settings, mounts, argv, {"COURSE_KIT_CACHE_DIR": SHARED_CACHE}) as run:
            stopped = self._follow(run, nb, request, limits, who)
        ran = {index for index, cell in code if cell.outputs or cell.execution_count is not None}
        for index, cell in code:
            if stopped and index not in ran:
                cell.outputs = [error_output("NotRun", NOT_RUN)]
        if settings.unsafe_no_sandbox and code:
            code[0][1].outputs.insert(0, new_output("stream", name="stdout", text=UNSAFE_NOTE))
        nb.metadata["language_info"] = {"name": "python", "version": ".".join(map(str, sys.version_info[:3]))}
        return nb

    def _follow(self, run: SandboxedRun, nb: NotebookNode, request: dict, limits: OutputLimits, who: str) -> bool:
        """Feed the request, then place each cell's outputs as they come; True when the run stopped early."""
        events: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_read_events, args=(run, limits, events), daemon=True)
        reader.start()
        try:
            run.stdin.write(json.dumps(request).encode())
            run.stdin.close()
        except OSError:
            pass  # the sandbox is already gone: its end says why
        budget = OutputBudget(limits)
        # Events must come in the request's order: start, end, start, end... A run that breaks it
        # (code that writes to the runner's pipe, say) is stopped; and however it paces its cells,
        # it cannot take longer than every cell's limit put together.
        order = [cell["index"] for cell in request["cells"]]
        started = time.monotonic()
        notebook_deadline = started + min(self.notebook_timeout, len(order) * (self.timeout + self.responsive_wait))
        current: int | None = None
        last_started: int | None = None
        position = 0
        cell_deadline = notebook_deadline
        while True:
            now = time.monotonic()
            try:
                event = events.get(timeout=max(0.0, min(cell_deadline, notebook_deadline) - now))
            except queue.Empty:
                run.kill()
                if current is not None and cell_deadline < notebook_deadline:
                    message = KERNEL_STOPPED.format(seconds=self.responsive_wait)
                    nb.cells[current].outputs.append(error_output("KernelStopped", message))
                elif current is not None:
                    nb.cells[current].outputs.append(
                        error_output("NotebookTimeLimit", NOTEBOOK_STOPPED.format(seconds=self.notebook_timeout)))
                self.log.warning("Stopped the sandbox of %s: past its time limit", who)
                return True
            if event is None or isinstance(event, ProtocolError):
                run.kill()
                finished = run.wait()
                if not run.killed or isinstance(event, ProtocolError):
                    self.log.warning("The sandbox of %s ended early: %s", who, run.stderr_tail() or event)
                if current is not None:
                    if isinstance(event, ProtocolError):
                        message = OUTPUT_STOPPED.format(why=event)
                        nb.cells[current].outputs.append(error_output("OutputLimit", message))
                    else:
                        why = finished.reason(otherwise="did the code exit Python?")
                        nb.cells[current].outputs.append(error_output("DeadKernelError", KERNEL_DIED.format(why=why)))
                return True
            kind, index = event.get("event"), event.get("index")
            if kind == "finished" and current is None and position == len(order):
                return False
            if kind == "start" and current is None and position < len(order) and index == order[position]:
                current, cell_deadline = index, time.monotonic() + self.timeout + self.responsive_wait
                last_started = index
                position += 1
            elif kind == "end" and current is not None and index == current:
                cell = nb.cells[index]
                try:
                    cell.outputs = clean_outputs(event.get("outputs"), budget)
                except ProtocolError as error:
                    cell.outputs = [error_output("OutputLimit", OUTPUT_STOPPED.format(why=error))]
                count = event.get("execution_count")
                cell.execution_count = count if isinstance(count, int) else None
                if event.get("timed_out") is True:
                    cell.outputs.append(error_output("CellTimeoutError", CELL_TIMED_OUT.format(seconds=self.timeout)))
                current, cell_deadline = None, notebook_deadline
            else:
                run.kill()
                if last_started is not None:  # the cell whose code wrote out of turn
                    nb.cells[last_started].outputs.append(error_output("ProtocolViolation", PROTOCOL_BROKEN))
                self.log.warning("Stopped the sandbox of %s: its run broke the protocol", who)
                return True


def _read_events(run: SandboxedRun, limits: OutputLimits, events: queue.Queue) -> None:
    """Put each event of the run on `events`, then None at the end (or the ProtocolError that ended it)."""
    try:
        for event in read_lines(run.stdout, limits):
            events.put(event)
    except ProtocolError as error:
        events.put(error)
        return
    except (OSError, ValueError):
        pass
    events.put(None)

"""Follow a sandboxed notebook run and collect each cell's outputs, with time limits and output caps.

The run (`grading.sandbox.warm.Run`, cold or warm) executes the request's cells one after
another and reports JSON events on its channel: start, end (with the cell's outputs), and
finished. This module is the grader's side of that exchange: events must come in the request's
order; a cell past its time limit, a run that dies, breaks the order or floods its output gets
an error output saying so, and the run is stopped. A cell's time limit counts its own time: the
time its run waited for a CPU that other work held (a busy grader) is added to its deadline, up
to `TimeLimits.stretch`, here as in the runner's own alarm. The result is plain data:

    {"cells": {"<index>": {"outputs": [...], "execution_count": n}}, "stopped": bool,
     "incidents": [{"kind": str, "cell": index | None}, ...]}

Each error output the grader adds has its incident (`grading.reporting.incidents`): the notes of a
submission come from those, never from outputs that the student's code could imitate.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from nbformat.v4 import new_output

from grading.reporting.incidents import incident
from grading.sandbox.protocol import (
    OutputBudget,
    OutputLimits,
    ProtocolError,
    clean_outputs,
    is_truncation_note,
    read_lines,
)
from grading.sandbox.warm import MIN_EXTENSION, Run

KERNEL_DIED = "The kernel died while running this cell ({why})."
KERNEL_STOPPED = "The kernel was stopped: it was still busy {seconds:g} s after the time limit and an interrupt."
NOTEBOOK_STOPPED = "The notebook ran past its time limit of {seconds:g} s and was stopped."
OUTPUT_STOPPED = "The kernel was stopped: this cell's output broke the output rules ({why})."
PROTOCOL_BROKEN = "The kernel was stopped: the notebook's run wrote to the grader's channel out of turn."
CELL_TIMED_OUT = "The cell ran past its time limit of {seconds:g} s and was interrupted."
INTERRUPT = "CellTimeout"  # the exception the notebook runner raises in a cell past its time


@dataclass(frozen=True)
class TimeLimits:
    """A cell's limit counts its own time: the wall clock, less the time the run waited for a CPU
    that other work held (a busy grader), up to `stretch` seconds more per cell."""

    cell: float  # seconds a cell may run before it is interrupted
    responsive_wait: float  # seconds it may go on after the interrupt before the run is stopped
    notebook: float  # seconds for the whole notebook
    stretch: float = 0.0  # seconds a cell's limit may grow by while the run waits for a CPU


def error_output(name: str, message: str) -> dict:
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


def follow_notebook(
    run: Run, request: dict, limits: OutputLimits, times: TimeLimits, who: str, log: logging.Logger
) -> dict:
    """Place each cell's outputs as the run reports them; the plain-data result described above."""
    return _Follower(run, request, limits, times, who, log).follow()


_SILENCE = object()  # no event before the deadline


class _Follower:
    """One run followed to its end: the cells so far, the incidents, the cell running and its deadlines.

    Events must come in the request's order: start, end, start, end... A run that breaks it (code
    that writes to the runner's channel, say) is stopped; and however it paces its cells, it
    cannot take longer than every cell's limit put together."""

    def __init__(self, run: Run, request: dict, limits: OutputLimits, times: TimeLimits, who: str, log):
        self.run, self.times, self.who, self.log = run, times, who, log
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=_read_events, args=(run, limits, self.events), daemon=True).start()
        self.budget = OutputBudget(limits)
        self.cells: dict[str, dict] = {}
        self.incidents: list[dict] = []
        self.order = [cell["index"] for cell in request["cells"]]
        self.position = 0  # how many cells of `order` have started
        self.current: int | None = None  # the cell running
        self.last_started: int | None = None
        self.notebook_deadline = time.monotonic() + min(
            times.notebook, len(self.order) * (times.cell + times.responsive_wait)
        )
        self.cell_deadline = self.notebook_deadline
        self.waited_at_start = self.granted = 0.0  # the run's wait for a CPU when the cell started; the time added

    def follow(self) -> dict:
        while True:
            event = self._next_event()
            if event is _SILENCE:
                result = self._on_silence()
            elif event is None or isinstance(event, ProtocolError):
                result = self._on_end_of_channel(event)
            else:
                result = self._on_event(event)
            if result is not None:
                return result

    def _next_event(self):
        timeout = max(0.0, min(self.cell_deadline, self.notebook_deadline) - time.monotonic())
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return _SILENCE

    def _stopped(self, kind: str | None = None, cell: int | None = None, output: dict | None = None) -> dict:
        """The result of a run the grader stopped: `output` and its incident `kind` added to `cell`."""
        if cell is not None and output is not None:
            self.cells.setdefault(str(cell), {"outputs": [], "execution_count": None})["outputs"].append(output)
            self.incidents.append(incident(kind, cell))
        return {"cells": self.cells, "stopped": True, "incidents": self.incidents}

    def _on_silence(self) -> dict | None:
        """A deadline passed: the cell's limit grows by the time its run waited for a CPU, or the run is stopped."""
        extra = (
            _waited_for_cpu(self.run, self.waited_at_start, self.granted, self.times.stretch)
            if self.current is not None
            else 0.0
        )
        if extra >= MIN_EXTENSION:  # the cell was kept from a CPU that long: its own time is not up
            self.granted += extra
            self.cell_deadline += extra
            self.notebook_deadline += extra
            return None
        self.run.kill()
        if self.current is not None and self.cell_deadline < self.notebook_deadline:
            why = KERNEL_STOPPED.format(seconds=self.times.responsive_wait)
            self._stopped("kernel_stopped", self.current, error_output("KernelStopped", why))
        elif self.current is not None:
            why = NOTEBOOK_STOPPED.format(seconds=self.times.notebook)
            self._stopped("notebook_timeout", self.current, error_output("NotebookTimeLimit", why))
        self.incidents += _limits_reached(self.run, self.incidents)  # a run stalled at its memory limit, say
        self.log.warning("Stopped the sandbox of %s: past its time limit", self.who)
        return self._stopped()

    def _on_end_of_channel(self, error: ProtocolError | None) -> dict:
        """The run's channel closed (the run died or exited) or broke the output rules."""
        self.run.kill()
        finished = self.run.wait()
        if not self.run.killed or error is not None:  # the grader's words, never the run's
            why = error if error is not None else finished.reason(f"exit status {finished.returncode}")
            self.log.warning("The sandbox of %s ended early: %s", self.who, why)
        if self.current is None:
            return self._stopped()
        if error is not None:
            return self._stopped(
                "output_limit", self.current, error_output("OutputLimit", OUTPUT_STOPPED.format(why=error))
            )
        why = finished.reason(otherwise="did the code exit Python?")
        return self._stopped(
            finished.kind(), self.current, error_output("DeadKernelError", KERNEL_DIED.format(why=why))
        )

    def _on_event(self, event: dict) -> dict | None:
        kind, index = event.get("event"), event.get("index")
        if kind == "finished" and self.current is None and self.position == len(self.order):
            self.incidents += _limits_reached(self.run, self.incidents)
            return {"cells": self.cells, "stopped": False, "incidents": self.incidents}
        if (
            kind == "start"
            and self.current is None
            and self.position < len(self.order)
            and index == self.order[self.position]
        ):
            self._start(index)
            return None
        if kind == "end" and self.current is not None and index == self.current:
            self._end(index, event)
            return None
        self.run.kill()
        if kind == "stopped" and self.current is not None and index == self.current:
            # the supervisor refused the kernel's answer: too large, too deep or malformed
            self.log.warning("Stopped the sandbox of %s: its output broke the output rules", self.who)
            why = OUTPUT_STOPPED.format(why="an answer too large or malformed")
            return self._stopped("output_limit", self.current, error_output("OutputLimit", why))
        self.log.warning("Stopped the sandbox of %s: its run broke the protocol", self.who)
        if self.last_started is None:
            return self._stopped()
        # the cell whose code wrote out of turn
        return self._stopped(
            "protocol_violation", self.last_started, error_output("ProtocolViolation", PROTOCOL_BROKEN)
        )

    def _start(self, index: int) -> None:
        self.current, self.last_started = index, index
        self.cell_deadline = time.monotonic() + self.times.cell + self.times.responsive_wait
        self.waited_at_start, self.granted = (self.run.waited() if self.times.stretch else 0.0), 0.0
        self.position += 1

    def _end(self, index: int, event: dict) -> None:
        """The cell's outputs, cleaned and within the budget, with the grader's note of a cut or a time-out."""
        try:
            outputs = clean_outputs(event.get("outputs"), self.budget)
        except ProtocolError as error:
            outputs = [error_output("OutputLimit", OUTPUT_STOPPED.format(why=error))]
            self.incidents.append(incident("output_limit", index))
        if any(is_truncation_note(output) for output in outputs):
            self.incidents.append(incident("output_truncated", index))
        if event.get("timed_out") is True:
            outputs = _with_timeout_error(outputs, CELL_TIMED_OUT.format(seconds=self.times.cell))
            self.incidents.append(incident("cell_timeout", index))
        count = event.get("execution_count")
        self.cells[str(index)] = {"outputs": outputs, "execution_count": count if isinstance(count, int) else None}
        self.current, self.cell_deadline = None, self.notebook_deadline


def _waited_for_cpu(run: Run, since: float, granted: float, most: float) -> float:
    """Seconds more the current cell may take: what the run waited for a CPU since the cell started
    (at most `most`), less what was added for it already."""
    return max(0.0, min(run.waited() - since, most) - granted) if most > 0 else 0.0


def _with_timeout_error(outputs: list, message: str) -> list:
    """The cell's outputs with one error saying it was interrupted: the grader's words, after the
    frames of the student's code where the interrupt came (from the kernel's own traceback, whose
    frames of the runner and last line are left out)."""
    interrupted = [
        output for output in outputs if output.get("output_type") == "error" and output.get("ename") == INTERRUPT
    ]
    frames = [
        entry
        for output in interrupted[-1:]
        for entry in output.get("traceback", [])
        if isinstance(entry, str) and entry.startswith("Cell In[")
    ]
    error = error_output("CellTimeoutError", message)
    error["traceback"] = frames + error["traceback"]
    return [output for output in outputs if output not in interrupted] + [error]


def _limits_reached(run: Run, incidents: list[dict]) -> list[dict]:
    """Limits the run reached without dying of them (a process it could not start, a full
    folder) or before the grader stopped it, as the grader counted them, for the notebook as a whole."""
    finished = run.wait(timeout=30)
    seen = {item["kind"] for item in incidents}
    return [incident(kind, None) for kind in finished.limits_hit if kind not in seen]


def _read_events(run: Run, limits: OutputLimits, events: queue.Queue) -> None:
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

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
from grading.sandbox.protocol import OutputBudget, OutputLimits, ProtocolError, clean_outputs, read_lines
from grading.sandbox.warm import MIN_EXTENSION, Run

KERNEL_DIED = "The kernel died while running this cell ({why})."
KERNEL_STOPPED = "The kernel was stopped: it was still busy {seconds:g} s after the time limit and an interrupt."
NOTEBOOK_STOPPED = "The notebook ran past its time limit of {seconds:g} s and was stopped."
OUTPUT_STOPPED = "The kernel was stopped: this cell's output broke the output rules ({why})."
PROTOCOL_BROKEN = "The kernel was stopped: the notebook's run wrote to the grader's channel out of turn."
CELL_TIMED_OUT = "The cell ran past its time limit of {seconds:g} s and was interrupted."
TRUNCATION_NOTE = "\n[output truncated"  # how grading.sandbox.protocol's note of a cut starts
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


def is_truncation_note(output: dict) -> bool:
    """Whether `output` is the note `grading.sandbox.protocol` puts where it cut a cell's text."""
    return output.get("output_type") == "stream" and output.get("text", "").startswith(TRUNCATION_NOTE)


def follow_notebook(
    run: Run, request: dict, limits: OutputLimits, times: TimeLimits, who: str, log: logging.Logger
) -> dict:
    """Place each cell's outputs as the run reports them; the plain-data result described above."""
    cells: dict[str, dict] = {}
    incidents: list[dict] = []

    def outputs_of(index: int) -> list:
        return cells.setdefault(str(index), {"outputs": [], "execution_count": None})["outputs"]

    events: queue.Queue = queue.Queue()
    threading.Thread(target=_read_events, args=(run, limits, events), daemon=True).start()
    budget = OutputBudget(limits)
    # Events must come in the request's order: start, end, start, end... A run that breaks it
    # (code that writes to the runner's channel, say) is stopped; and however it paces its cells,
    # it cannot take longer than every cell's limit put together.
    order = [cell["index"] for cell in request["cells"]]
    notebook_deadline = time.monotonic() + min(times.notebook, len(order) * (times.cell + times.responsive_wait))
    current: int | None = None
    last_started: int | None = None
    position = 0
    cell_deadline = notebook_deadline
    waited_at_start = granted = 0.0  # the run's wait for a CPU when the cell started; the time added for it

    def stopped() -> dict:
        return {"cells": cells, "stopped": True, "incidents": incidents}

    while True:
        try:
            event = events.get(timeout=max(0.0, min(cell_deadline, notebook_deadline) - time.monotonic()))
        except queue.Empty:
            extra = _waited_for_cpu(run, waited_at_start, granted, times.stretch) if current is not None else 0.0
            if extra >= MIN_EXTENSION:  # the cell was kept from a CPU that long: its own time is not up
                granted += extra
                cell_deadline, notebook_deadline = cell_deadline + extra, notebook_deadline + extra
                continue
            run.kill()
            if current is not None and cell_deadline < notebook_deadline:
                outputs_of(current).append(
                    error_output("KernelStopped", KERNEL_STOPPED.format(seconds=times.responsive_wait))
                )
                incidents.append(incident("kernel_stopped", current))
            elif current is not None:
                outputs_of(current).append(
                    error_output("NotebookTimeLimit", NOTEBOOK_STOPPED.format(seconds=times.notebook))
                )
                incidents.append(incident("notebook_timeout", current))
            incidents += _limits_reached(run, incidents)  # a run stalled at its memory limit, say
            log.warning("Stopped the sandbox of %s: past its time limit", who)
            return stopped()
        if event is None or isinstance(event, ProtocolError):
            run.kill()
            finished = run.wait()
            if not run.killed or isinstance(event, ProtocolError):  # the grader's words, never the run's
                log.warning(
                    "The sandbox of %s ended early: %s",
                    who,
                    event if event is not None else finished.reason(f"exit status {finished.returncode}"),
                )
            if current is not None:
                if isinstance(event, ProtocolError):
                    outputs_of(current).append(error_output("OutputLimit", OUTPUT_STOPPED.format(why=event)))
                    incidents.append(incident("output_limit", current))
                else:
                    why = finished.reason(otherwise="did the code exit Python?")
                    outputs_of(current).append(error_output("DeadKernelError", KERNEL_DIED.format(why=why)))
                    incidents.append(incident(finished.kind(), current))
            return stopped()
        kind, index = event.get("event"), event.get("index")
        if kind == "finished" and current is None and position == len(order):
            incidents += _limits_reached(run, incidents)
            return {"cells": cells, "stopped": False, "incidents": incidents}
        if kind == "start" and current is None and position < len(order) and index == order[position]:
            current, cell_deadline = index, time.monotonic() + times.cell + times.responsive_wait
            waited_at_start, granted = (run.waited() if times.stretch else 0.0), 0.0
            last_started = index
            position += 1
        elif kind == "end" and current is not None and index == current:
            try:
                outputs = clean_outputs(event.get("outputs"), budget)
            except ProtocolError as error:
                outputs = [error_output("OutputLimit", OUTPUT_STOPPED.format(why=error))]
                incidents.append(incident("output_limit", index))
            if any(is_truncation_note(output) for output in outputs):
                incidents.append(incident("output_truncated", index))
            if event.get("timed_out") is True:
                outputs = _with_timeout_error(outputs, CELL_TIMED_OUT.format(seconds=times.cell))
                incidents.append(incident("cell_timeout", index))
            count = event.get("execution_count")
            cells[str(index)] = {"outputs": outputs, "execution_count": count if isinstance(count, int) else None}
            current, cell_deadline = None, notebook_deadline
        elif kind == "stopped" and current is not None and index == current:
            run.kill()  # the supervisor refused the kernel's answer: too large, too deep or malformed
            outputs_of(current).append(
                error_output("OutputLimit", OUTPUT_STOPPED.format(why="an answer too large or malformed"))
            )
            incidents.append(incident("output_limit", current))
            log.warning("Stopped the sandbox of %s: its output broke the output rules", who)
            return stopped()
        else:
            run.kill()
            if last_started is not None:  # the cell whose code wrote out of turn
                outputs_of(last_started).append(error_output("ProtocolViolation", PROTOCOL_BROKEN))
                incidents.append(incident("protocol_violation", last_started))
            log.warning("Stopped the sandbox of %s: its run broke the protocol", who)
            return stopped()


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

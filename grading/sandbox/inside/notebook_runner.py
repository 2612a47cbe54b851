"""Run a notebook's code cells with IPython, as a Jupyter kernel would, and report each cell's outputs.

This module runs inside the sandbox and imports nothing of the kit. It has two sides, in two
processes, so that the channel to the grader belongs to a process the student's code does not
run in (`server.py` starts both):

- `kernel`, in the process that runs the student's code: it reads one cell at a time on a pipe
  ({"source": ...}, one JSON line), runs it with IPython and answers with one JSON line,
  {"outputs": [...], "timed_out": bool, "execution_count": n}, outputs in nbformat's shape
  (streams, display data, execute results, errors);
- `drive`, in the run's supervisor: it takes the request

      {"cells": [{"index": 3, "source": "..."}, ...], "cell_timeout": 30, "cell_stretch": 90,
       "max_output_chars": 100000}

  hands the kernel one cell after another, and writes on the grader's channel one
  {"event": "start", "index": i} before each cell and one {"event": "end", "index": i,
  "execution_count": n, "outputs": [...]} after it, then {"event": "finished"}. The index is the
  supervisor's own; a kernel that stops answering ends the run at that cell, and one whose answer
  is too large, too deep or malformed gets {"event": "stopped", "index": i} instead of an end.

The grader trusts none of the outputs: it reads these lines with limits and keeps only what it allows.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets import Type

TRUNCATED = "\n[output truncated: this cell printed more than {limit:,} characters]\n"


class CellTimeout(KeyboardInterrupt):
    """Raised in the student's code when its cell runs past the time limit (as an interrupt would be)."""


class CellOutputs:
    """The outputs of the cell that runs now, in nbformat's shape, text capped as it arrives."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.items: list[dict[str, Any]] = []
        self.chars = 0
        self.truncated = False

    def reset(self) -> None:
        self.items, self.chars, self.truncated = [], 0, False

    def _room(self, text: str) -> str | None:
        if self.truncated:
            return None
        if self.chars + len(text) > self.max_chars:
            self.truncated = True
            self.items.append(
                {"output_type": "stream", "name": "stdout", "text": TRUNCATED.format(limit=self.max_chars)}
            )
            return None
        self.chars += len(text)
        return text

    def stream(self, name: str, text: str) -> None:
        if self._room(text) is None:
            return
        last = self.items[-1] if self.items else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.items.append({"output_type": "stream", "name": name, "text": text})

    def rich(self, kind: str, data: dict, metadata: dict, **extra: Any) -> None:
        text = sum(len(value) for key, value in data.items() if isinstance(value, str) and not key.startswith("image/"))
        if self.truncated or self.chars + text > self.max_chars:
            data = {"text/plain": data.get("text/plain", "")[:200]} if not self.truncated else {}
            if not data:
                return
        self.chars += text
        self.items.append({"output_type": kind, "data": data, "metadata": metadata, **extra})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self.items.append({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback})


OUTPUTS = CellOutputs(100_000)


class CapturedStream(io.TextIOBase):
    """sys.stdout or sys.stderr of the student's code: what is written becomes a stream output."""

    def __init__(self, name: str):
        self.name = name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        OUTPUTS.stream(self.name, text)
        return len(text)

    def isatty(self) -> bool:
        return False


class CapturingDisplayPublisher(DisplayPublisher):
    """display(...) in the student's code becomes a display_data output, as in a kernel."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:
        OUTPUTS.rich("display_data", dict(data), dict(metadata or {}))

    def clear_output(self, wait: bool = False) -> None:
        OUTPUTS.reset()


class CapturingDisplayHook(DisplayHook):
    """The value of a cell's last expression becomes an execute_result output, as in a kernel."""

    def start_displayhook(self) -> None:
        pass

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict, md_dict=None) -> None:
        OUTPUTS.rich("execute_result", dict(format_dict), dict(md_dict or {}), execution_count=self.prompt_count)

    def finish_displayhook(self) -> None:
        pass


class NotebookShell(InteractiveShell):
    """IPython as a kernel runs it, with outputs captured instead of sent to a frontend."""

    display_pub_class = Type(CapturingDisplayPublisher)
    displayhook_class = Type(CapturingDisplayHook)

    def enable_gui(self, gui=None) -> None:
        """No event loop to hook: figures are sent as images, as the inline backend of a kernel does."""

    def _showtraceback(self, etype, evalue, stb) -> None:
        OUTPUTS.error(getattr(etype, "__name__", str(etype)), str(evalue), list(stb))


def _run_queue_wait() -> float:
    """Seconds this process has waited for a CPU held by other work (the scheduler's run-queue delay)."""
    try:
        with open("/proc/self/schedstat") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class CellClock:
    """A cell's time limit in the cell's own time: the wall clock, less the time the cell waited for
    a CPU that other work held (a busy grader), up to `stretch` seconds more. SIGALRM marks the
    limit; while the cell was kept waiting, the alarm is set again for that long."""

    MIN_EXTENSION = 0.05

    def __init__(self, limit: float, stretch: float):
        self.limit, self.stretch = limit, stretch
        self.waited_at_start = self.granted = 0.0

    def start(self) -> None:
        self.waited_at_start, self.granted = _run_queue_wait(), 0.0
        signal.setitimer(signal.ITIMER_REAL, self.limit)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)

    def on_alarm(self, signum, frame) -> None:
        extra = min(_run_queue_wait() - self.waited_at_start, self.stretch) - self.granted
        if extra >= self.MIN_EXTENSION:
            self.granted += extra
            signal.setitimer(signal.ITIMER_REAL, extra)
            return
        raise CellTimeout("the cell ran past its time limit")


def kernel(settings: dict, cells, replies) -> None:
    """Run each cell read from `cells` (a binary pipe), answering on `replies`, until the pipe ends.

    Standard input and output are /dev/null: what C code or child processes print goes nowhere
    (the student's prints go to the cell's outputs)."""
    sys.stdin = io.StringIO("")
    OUTPUTS.max_chars = int(settings.get("max_output_chars", 100_000))
    sys.path.insert(0, os.getcwd())  # the lab folder, as a kernel started there has it
    shell = NotebookShell.instance(colors="nocolor")
    stdout, stderr = CapturedStream("stdout"), CapturedStream("stderr")
    clock = CellClock(float(settings.get("cell_timeout", 30)), float(settings.get("cell_stretch", 0)))
    signal.signal(signal.SIGALRM, clock.on_alarm)
    for line in cells:
        OUTPUTS.reset()
        sys.stdout, sys.stderr = stdout, stderr
        clock.start()
        timed_out = False
        try:
            result = shell.run_cell(json.loads(line)["source"], store_history=True)
        except CellTimeout:  # raised outside the student's code, in IPython's own
            result, timed_out = None, True
        finally:
            clock.stop()
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        if result is not None and isinstance(result.error_in_exec, CellTimeout):
            timed_out = True
        replies.write(
            json.dumps(
                {
                    "outputs": OUTPUTS.items,
                    "timed_out": timed_out,
                    "execution_count": getattr(result, "execution_count", None),
                }
            ).encode()
            + b"\n"
        )
        replies.flush()


MAX_REPLY = 32_000_000  # one cell's answer; the grader's own limit is lower


def drive(request: dict, to_kernel, from_kernel, channel) -> None:
    """Hand the kernel the request's cells one by one; write the events on `channel`."""

    def send(event: dict) -> None:
        channel.write(json.dumps(event).encode() + b"\n")
        channel.flush()

    settings = {key: request[key] for key in ("cell_timeout", "cell_stretch", "max_output_chars") if key in request}
    to_kernel.write(json.dumps(settings).encode() + b"\n")
    for cell in request["cells"]:
        send({"event": "start", "index": cell["index"]})
        to_kernel.write(json.dumps({"source": cell["source"]}).encode() + b"\n")
        to_kernel.flush()
        line = from_kernel.readline(MAX_REPLY + 1)
        if not line:
            return  # the kernel died: the run ends at this cell
        reply = _reply(line)
        if reply is None:  # too large, too deep or not an answer: the run is stopped at this cell
            send({"event": "stopped", "index": cell["index"]})
            return
        send({"event": "end", "index": cell["index"], **reply})
    send({"event": "finished"})


def _reply(line: bytes) -> dict | None:
    """The kernel's answer for one cell, re-encoded field by field, or None when it is not one."""
    if not line.endswith(b"\n") or len(line) > MAX_REPLY:
        return None
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("outputs"), list):
        return None
    count = raw.get("execution_count")
    return {
        "outputs": raw["outputs"],
        "timed_out": raw.get("timed_out") is True,
        "execution_count": count if isinstance(count, int) and not isinstance(count, bool) else None,
    }

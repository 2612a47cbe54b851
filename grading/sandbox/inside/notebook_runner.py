"""Run a notebook's code cells with IPython, as a Jupyter kernel would, and report each cell's outputs.

This program runs inside the sandbox, in the same process as the student's code: it imports
nothing of the kit. It reads one JSON request on standard input:

    {"cells": [{"index": 3, "source": "..."}, ...], "cell_timeout": 30, "max_output_chars": 100000}

and writes JSON lines on its original standard output, one {"event": "start", "index": i}
before each cell and one {"event": "end", "index": i, "execution_count": n, "outputs": [...]}
after it, with outputs in nbformat's shape (streams, display data, execute results, errors).
The grader trusts none of it: it reads these lines with limits and keeps only what it allows.
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
            self.items.append({"output_type": "stream", "name": "stdout",
                               "text": TRUNCATED.format(limit=self.max_chars)})
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


def _on_alarm(signum, frame):
    raise CellTimeout("the cell ran past its time limit")


def serve(request: dict, protocol) -> None:
    """Run the request's cells, writing events on `protocol` (a text stream the student's code
    does not get: standard input and output are /dev/null from here on)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    sys.stdin = io.StringIO("")
    OUTPUTS.max_chars = int(request.get("max_output_chars", 100_000))
    sys.path.insert(0, os.getcwd())  # the lab folder, as a kernel started there has it

    shell = NotebookShell.instance(colors="nocolor")
    stdout, stderr = CapturedStream("stdout"), CapturedStream("stderr")
    signal.signal(signal.SIGALRM, _on_alarm)
    timeout = float(request.get("cell_timeout", 30))

    def send(event: dict) -> None:
        protocol.write(json.dumps(event) + "\n")
        protocol.flush()

    for cell in request["cells"]:
        OUTPUTS.reset()
        send({"event": "start", "index": cell["index"]})
        sys.stdout, sys.stderr = stdout, stderr
        signal.setitimer(signal.ITIMER_REAL, timeout)
        timed_out = False
        try:
            result = shell.run_cell(cell["source"], store_history=True)
        except CellTimeout:  # raised outside the student's code, in IPython's own
            result, timed_out = None, True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        if result is not None and isinstance(result.error_in_exec, CellTimeout):
            timed_out = True
        send({"event": "end", "index": cell["index"], "outputs": OUTPUTS.items, "timed_out": timed_out,
              "execution_count": getattr(result, "execution_count", None)})
    send({"event": "finished"})


def main() -> None:
    request = json.loads(sys.stdin.read())
    # What C code or child processes write to standard output goes nowhere (the student's
    # prints go to the cell's outputs); standard error is the sandbox's, shown in the grader's
    # log when a run fails.
    serve(request, os.fdopen(os.dup(1), "w", encoding="utf-8"))


if __name__ == "__main__":
    main()

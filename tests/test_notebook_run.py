"""The grader's side of a notebook's run (`grading.execution.notebook_run`).

First with scripted runs (a pipe that says what a run would say, with no sandbox): events placed
in order, and every way a run can misbehave (out of turn, dead, silent, flooding) stopped with
the grader's own error and incident. Then the time limit that counts a cell's own time, so that
a busy grader does not time out an honest student: real cells run in a real warm sandbox while
busy loops (plain processes beside it, three per core: `busy.py`) keep the CPUs full, and the
same cell that finishes in its own time is interrupted when the limit counts the wall clock alone.
"""

from __future__ import annotations

import json
import logging
import os
import time

import pytest
from busy import busy_machine

from grading.execution.notebook_run import TimeLimits, follow_notebook
from grading.sandbox.launch import HOME, Finished, Mounts, Sandbox
from grading.sandbox.protocol import OutputLimits
from grading.sandbox.warm import WarmSandbox

LOG = logging.getLogger("test")


class ScriptedRun:
    """A run that reports `events` on its channel, then ends (or, with `hang`, says nothing more
    until the grader kills it)."""

    def __init__(self, events: list, hang: bool = False, returncode: int = 0):
        read, self._writer = os.pipe()
        self.stdout = os.fdopen(read, "rb")
        for event in events:
            os.write(self._writer, (event if isinstance(event, bytes) else json.dumps(event).encode()) + b"\n")
        self.killed, self.returncode = False, returncode
        if not hang:
            self._end()

    def _end(self) -> None:
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None

    def kill(self) -> None:
        self.killed = self._writer is not None  # as a real run: killing one that ended kills nothing
        self._end()

    def wait(self, timeout: float | None = None) -> Finished:
        return Finished(-9 if self.killed else self.returncode, timed_out=self.killed)

    def ended(self, timeout: float) -> bool:
        time.sleep(timeout)
        return self._writer is None

    def waited(self) -> float:
        return 0.0

    def stderr_tail(self, limit: int = 600) -> str:
        return ""

    def close(self) -> None:
        self._end()
        self.stdout.close()


REQUEST = {"cells": [{"index": 1, "source": "a = 1"}, {"index": 3, "source": "print(a)"}]}
FAST = TimeLimits(cell=0.3, responsive_wait=0.3, notebook=60)


def printed_cell(index: int, text: str) -> list:
    return [
        {"event": "start", "index": index},
        {
            "event": "end",
            "index": index,
            "execution_count": index,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": text}],
        },
    ]


def followed(run: ScriptedRun, times: TimeLimits = FAST) -> dict:
    try:
        return follow_notebook(run, REQUEST, OutputLimits(), times, "a test", LOG)
    finally:
        run.close()


def kinds(result: dict) -> list:
    return [(item["kind"], item["cell"]) for item in result["incidents"]]


def test_each_cells_outputs_are_placed_as_the_run_reports_them():
    result = followed(ScriptedRun([*printed_cell(1, ""), *printed_cell(3, "1\n"), {"event": "finished"}]))
    assert result["stopped"] is False and result["incidents"] == []
    assert result["cells"]["3"]["outputs"][0]["text"] == "1\n" and result["cells"]["3"]["execution_count"] == 3


def test_events_for_a_cell_that_never_started_stop_the_run_as_out_of_turn():
    """Code in cell 1 that writes cell 3's start and end (outputs that never ran) is caught."""
    forged = [{"event": "start", "index": 1}, *printed_cell(3, "All tests passed!\n")]
    result = followed(ScriptedRun(forged, hang=True))
    assert result["stopped"] is True and kinds(result) == [("protocol_violation", 1)]
    assert "3" not in result["cells"]
    assert result["cells"]["1"]["outputs"][-1]["ename"] == "ProtocolViolation"


def test_a_run_that_ends_in_a_cell_gives_that_cell_the_kernels_death():
    result = followed(ScriptedRun([{"event": "start", "index": 1}], returncode=1))
    assert kinds(result) == [("kernel_died", 1)]
    assert "did the code exit Python?" in result["cells"]["1"]["outputs"][-1]["evalue"]


def test_a_silent_cell_is_stopped_after_its_limit_and_the_grace():
    started = time.monotonic()
    run = ScriptedRun([{"event": "start", "index": 1}], hang=True)
    result = followed(run)
    assert run.killed and kinds(result) == [("kernel_stopped", 1)]
    assert FAST.cell + FAST.responsive_wait <= time.monotonic() - started < 5
    assert result["cells"]["1"]["outputs"][-1]["ename"] == "KernelStopped"


def test_a_cell_the_runner_interrupted_gets_the_graders_timeout_error():
    interrupted = {
        "output_type": "error",
        "ename": "CellTimeout",
        "evalue": "",
        "traceback": ["Cell In[1], line 3", "runner frame", "CellTimeout"],
    }
    events = [
        {"event": "start", "index": 1},
        {"event": "end", "index": 1, "timed_out": True, "outputs": [interrupted]},
        *printed_cell(3, "1\n"),
        {"event": "finished"},
    ]
    result = followed(ScriptedRun(events))
    [error] = result["cells"]["1"]["outputs"]
    assert error["ename"] == "CellTimeoutError" and error["traceback"][0] == "Cell In[1], line 3"
    assert kinds(result) == [("cell_timeout", 1)]


def test_a_line_that_is_not_an_event_stops_the_run_with_an_output_error():
    result = followed(ScriptedRun([{"event": "start", "index": 1}, b"not json"], hang=True))
    assert kinds(result) == [("output_limit", 1)]
    assert result["cells"]["1"]["outputs"][-1]["ename"] == "OutputLimit"


# ---------------------------------------------------------------------------------------------
# A cell's own time, on a busy machine (a real sandbox)
# ---------------------------------------------------------------------------------------------

CPU_SECONDS = 1.5  # what the cell computes, in CPU time: well inside its limit on an idle machine
LIMIT = 2.0
BUSY = """
import time
_start = time.process_time()
while time.process_time() - _start < {seconds}:
    pass
print("finished")
"""


@pytest.fixture(scope="module")
def warm():
    sandbox = WarmSandbox(Sandbox(), Mounts(work=f"{HOME}/lab"), {})
    run_cell(sandbox, "print('warm')", stretch=0)  # started before the load: its imports are not timed here
    yield sandbox
    sandbox.stop()


def run_cell(sandbox: WarmSandbox, source: str, stretch: float) -> dict:
    request = {"cells": [{"index": 0, "source": source}], "cell_timeout": LIMIT, "cell_stretch": stretch}
    run = sandbox.run("notebook", json.dumps(request).encode())
    try:
        return follow_notebook(
            run, request, OutputLimits(), TimeLimits(LIMIT, 2, 60, stretch), "a test", logging.getLogger("test")
        )
    finally:
        run.close()


def printed(result: dict) -> str:
    return "".join(output.get("text", "") for output in result["cells"].get("0", {}).get("outputs", []))


@pytest.mark.sandbox
def test_a_cell_kept_from_the_cpu_by_a_busy_grader_finishes_in_its_own_time(warm):
    with busy_machine():
        started = time.monotonic()
        result = run_cell(warm, BUSY.format(seconds=CPU_SECONDS), stretch=3 * LIMIT)
        took = time.monotonic() - started
    assert took > LIMIT + 2  # the wall clock alone would have stopped it
    assert result["incidents"] == [] and printed(result) == "finished\n", (took, result)


@pytest.mark.sandbox
def test_the_same_cell_times_out_when_its_limit_counts_the_wall_clock(warm):
    with busy_machine():
        result = run_cell(warm, BUSY.format(seconds=CPU_SECONDS), stretch=0)
    assert "finished" not in printed(result)
    assert {item["kind"] for item in result["incidents"]} & {"cell_timeout", "kernel_stopped"}, result


@pytest.mark.sandbox
def test_a_cell_that_computes_past_its_limit_is_stopped_however_busy_the_grader(warm):
    """The allowance is bounded: at most `stretch` seconds more, however long the wait."""
    with busy_machine():
        started = time.monotonic()
        result = run_cell(warm, BUSY.format(seconds=60), stretch=3 * LIMIT)
        took = time.monotonic() - started
    assert "finished" not in printed(result)
    assert {item["kind"] for item in result["incidents"]} & {"cell_timeout", "kernel_stopped"}, result
    assert took < LIMIT + 3 * LIMIT + 2 + 5


@pytest.mark.sandbox
def test_a_sleeping_cell_gets_no_more_time_than_its_limit(warm):
    started = time.monotonic()
    result = run_cell(warm, "import time\ntime.sleep(30)\nprint('finished')", stretch=3 * LIMIT)
    took = time.monotonic() - started
    assert [item["kind"] for item in result["incidents"]] == ["cell_timeout"] and took < LIMIT + 1.5, (took, result)

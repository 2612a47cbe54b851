"""The grader's side of a notebook's run (`grading.execution.notebook_run`): a cell's time limit
counts the cell's own time, so that a busy grader does not time out an honest student.

Real cells run in a real warm sandbox while busy loops (plain processes beside it, three per
core: `busy.py`) keep the CPUs full: the same cell that finishes in its own time is
interrupted when the limit counts the wall clock alone.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from busy import busy_machine

from grading.execution.notebook_run import TimeLimits, follow_notebook
from grading.sandbox.launch import HOME, Mounts, Sandbox
from grading.sandbox.protocol import OutputLimits
from grading.sandbox.warm import WarmSandbox

pytestmark = pytest.mark.sandbox

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


def test_a_cell_kept_from_the_cpu_by_a_busy_grader_finishes_in_its_own_time(warm):
    with busy_machine():
        started = time.monotonic()
        result = run_cell(warm, BUSY.format(seconds=CPU_SECONDS), stretch=3 * LIMIT)
        took = time.monotonic() - started
    assert took > LIMIT + 2  # the wall clock alone would have stopped it
    assert result["incidents"] == [] and printed(result) == "finished\n", (took, result)


def test_the_same_cell_times_out_when_its_limit_counts_the_wall_clock(warm):
    with busy_machine():
        result = run_cell(warm, BUSY.format(seconds=CPU_SECONDS), stretch=0)
    assert "finished" not in printed(result)
    assert {item["kind"] for item in result["incidents"]} & {"cell_timeout", "kernel_stopped"}, result


def test_a_cell_that_computes_past_its_limit_is_stopped_however_busy_the_grader(warm):
    """The allowance is bounded: at most `stretch` seconds more, however long the wait."""
    with busy_machine():
        started = time.monotonic()
        result = run_cell(warm, BUSY.format(seconds=60), stretch=3 * LIMIT)
        took = time.monotonic() - started
    assert "finished" not in printed(result)
    assert {item["kind"] for item in result["incidents"]} & {"cell_timeout", "kernel_stopped"}, result
    assert took < LIMIT + 3 * LIMIT + 2 + 5


def test_a_sleeping_cell_gets_no_more_time_than_its_limit(warm):
    started = time.monotonic()
    result = run_cell(warm, "import time\ntime.sleep(30)\nprint('finished')", stretch=3 * LIMIT)
    took = time.monotonic() - started
    assert [item["kind"] for item in result["incidents"]] == ["cell_timeout"] and took < LIMIT + 1.5, (took, result)

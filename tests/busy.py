"""A grading machine kept busy: plain processes that spin on every core beside the code under test.

Each spins in a session of its own, as each sandbox of a busy grader does: the scheduler shares the
CPUs between sessions (autogroups) first, so loops in the tests' own session would count as one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

PER_CORE = 3  # a run beside them gets about a quarter of a core


class BusyMachine:
    """PER_CORE spinning processes on every core, from `start()` to `stop()`: a test can keep the
    machine busy for one stretch of a longer call (told by its progress lines), not the whole call."""

    def __init__(self) -> None:
        self.loops: list[subprocess.Popen] = []
        self.started = False

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        for _ in range(PER_CORE * (os.cpu_count() or 1)):
            self.loops.append(subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True))
        time.sleep(0.5)  # every loop spinning before what follows

    def stop(self) -> None:
        """Kill the loops (nothing if none was started)."""
        for loop in self.loops:
            loop.kill()
            loop.wait()
        self.loops = []


@contextmanager
def busy_machine():
    """Every core kept busy by PER_CORE spinning processes each, stopped at the end."""
    machine = BusyMachine()
    try:
        machine.start()
        yield
    finally:
        machine.stop()

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


@contextmanager
def busy_machine():
    """Every core kept busy by PER_CORE spinning processes each, stopped at the end."""
    loops = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        for _ in range(PER_CORE * (os.cpu_count() or 1))
    ]
    try:
        time.sleep(0.5)
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()

"""Find and stop the processes a student's code leaves behind when its kernel shuts down.

A kernel's children normally die with it, but code can start a detached process (a new
session, a double fork) that outlives the kernel and acts later, for instance on the
gradebook after the grades were saved. The grader declares itself a "child subreaper"
(Linux), so such orphans become its own children instead of init's, and can be found and
killed once the kernel is gone. On other systems this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants; returns whether the system supports it."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def child_pids(parent: int) -> list[int]:
    """The live children of process `parent`, from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command name, in parentheses, may hold spaces: split after its end.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            children.append(int(entry))
    return children


def descendants() -> set[int]:
    """Every live descendant of this process."""
    if not os.path.isdir("/proc"):
        return set()
    found, frontier = set(), [os.getpid()]
    while frontier:
        children = child_pids(frontier.pop())
        found.update(children)
        frontier += children
    return found


def kill_descendants(keep: set[int]) -> list[int]:
    """Kill every live descendant of this process that is not in `keep`; return their pids."""
    killed = []
    for pid in descendants() - keep:
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    for pid in killed:  # collect those that became our own children
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return killed

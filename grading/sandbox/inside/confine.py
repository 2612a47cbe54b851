"""Install the grader's seccomp filter on this process before it runs submitted code.

This program runs inside the sandbox, next to the student's code, and imports nothing of the
kit: the grader builds the filter (`grading/sandbox/seccomp.py`) and passes its bytes here.

The filter binds the calling thread and every process and thread it starts afterwards, and
cannot be removed. It does not reach threads that already run, so call `install_filter` while
the process has a single thread: before an import that starts worker threads (numpy's BLAS),
or in a freshly forked child. It refuses to install itself otherwise.
"""

from __future__ import annotations

import ctypes
import os

PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
SOCK_FILTER_SIZE = 8  # struct sock_filter {u16 code; u8 jt; u8 jf; u32 k;}


class SockFprog(ctypes.Structure):
    """struct sock_fprog: the number of instructions, then (after padding) a pointer to them."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _prctl(name: str, option: int, arg2: int, arg3: int = 0) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    arguments = (option, arg2, arg3, 0, 0)
    if libc.prctl(*(ctypes.c_ulong(value) for value in arguments)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"seccomp: prctl({name}) failed: {os.strerror(error)}")


def install_filter(program: bytes) -> None:
    """Forbid new privileges and install `program` (struct sock_filter bytes) on this process."""
    if not program or len(program) % SOCK_FILTER_SIZE:
        raise ValueError(f"seccomp: a program is {SOCK_FILTER_SIZE}-byte instructions, not {len(program)} bytes")
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        raise RuntimeError(f"seccomp: {threads} threads run, the filter would bind only this one")
    instructions = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // SOCK_FILTER_SIZE, ctypes.addressof(instructions))
    _prctl("PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS, 1)
    _prctl("PR_SET_SECCOMP", PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))

"""A worker: runs students' work (`StudentWork`) in sandboxes on this machine, one student at a time.

Each worker keeps a warm sandbox per lab (`grading.sandbox.warm.WarmSandbox`): Python and the
libraries start once, and every run (the notebook, then each graded function's verdict) gets
namespaces, folders and a cgroup of its own in it. As root, each worker's runs use a user id of
its own (`claim_uid`), so that no process of one worker's runs can signal another's; as an
ordinary user, each run has a user namespace of its own. The same worker
serves the local pool's threads and, on a cluster, each Dask worker process (`perform_on_dask`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

from grading.execution.notebook_run import TimeLimits, follow_notebook
from grading.execution.work import StudentWork
from grading.sandbox.launch import HOME, SHARED_CACHE, Mounts, Sandbox, as_root
from grading.sandbox.protocol import OutputLimits
from grading.sandbox.warm import ColdRun, Run, WarmSandbox
from grading.verdicts.isolated_call import VERDICT_WORK, receive_verdict

LOG = logging.getLogger("grading.worker")
UID_LOCKS = Path("/tmp/course-sandbox-uids")
MAX_SLOTS = 64


def lab_mounts(release: Path, cache: Path, lab: str) -> Mounts:
    """The lab's released files (read-only) in the working folder, and the course's read-only caches."""
    work = f"{HOME}/{lab}"
    mounts = Mounts(work=work)
    for entry in sorted(release.iterdir()):
        if entry.suffix != ".ipynb" and not entry.name.startswith(".") and entry.name != "__pycache__":
            mounts.read_only[entry.resolve()] = f"{work}/{entry.name}"
    cache.mkdir(parents=True, exist_ok=True)
    mounts.read_only[cache] = SHARED_CACHE
    for font_list in (cache / "sandbox" / "matplotlib").glob("fontlist-*.json"):
        mounts.read_only[font_list] = f"{HOME}/.config/matplotlib/{font_list.name}"
    return mounts


SANDBOX_ENV = {"COURSE_KIT_CACHE_DIR": SHARED_CACHE}


def claim_uid(first: int) -> tuple[int, int]:
    """A user id for one worker's sandboxes, counting down from `first`, held (with a lock file)
    while the worker lives: (uid, the lock's file descriptor)."""
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        uid = first - slot
        fd = os.open(UID_LOCKS / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, fd
        except BlockingIOError:
            os.close(fd)
    raise RuntimeError(f"more than {MAX_SLOTS} workers on this machine: no sandbox user id left below {first}")


class Worker:
    """Runs one student's work at a time in warm sandboxes of its own user id."""

    def __init__(self, warm: bool = True, name: str = ""):
        self.warm = warm
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._uid: int | None = None
        self._lock_fd: int | None = None
        self._sandboxes: dict[tuple, WarmSandbox] = {}

    def _settings(self, values: dict) -> Sandbox:
        settings = Sandbox(**values)
        if not as_root():
            return settings
        if self._uid is None:
            self._uid, self._lock_fd = claim_uid(settings.uid)
        settings.uid = self._uid
        return settings

    def _start(self, work: StudentWork, settings: Sandbox, program: str, payload: bytes) -> Run:
        """A run of `program`: a fork of the lab's warm sandbox (the mounts are read when it starts),
        or, without warm sandboxes, a sandbox of its own (a verdict's holds nothing of the lab)."""
        if not self.warm or settings.unsafe_no_sandbox:
            mounts = self._mounts(work) if program == "notebook" else Mounts(work=VERDICT_WORK)
            return ColdRun(settings, mounts, program, payload, SANDBOX_ENV)
        key = (work.lab, work.release, work.cache, json.dumps(work.sandbox, sort_keys=True))
        if key not in self._sandboxes:
            self._sandboxes[key] = WarmSandbox(settings, self._mounts(work), SANDBOX_ENV)
        return self._sandboxes[key].run(program, payload)

    @staticmethod
    def _mounts(work: StudentWork) -> Mounts:
        return lab_mounts(Path(work.release), Path(work.cache), work.lab)

    def perform(self, work: StudentWork) -> dict:
        """Run the student's notebook, then each graded function's verdict; the plain-data answer."""
        started = time.monotonic()
        settings = self._settings(work.sandbox)
        run = self._start(work, settings, "notebook", json.dumps(work.notebook).encode())
        try:
            notebook = follow_notebook(
                run, work.notebook, OutputLimits(**work.limits), TimeLimits(**work.times), work.student, LOG
            )
        finally:
            run.close()
        verdicts = {}
        for job in work.verdicts:
            run = self._start(work, settings, "verdict", job.payload)
            try:
                verdicts[job.function] = receive_verdict(run, job.timeout, job.stretch)
            finally:
                run.close()
        return {
            "student": work.student,
            "notebook": notebook,
            "verdicts": verdicts,
            "seconds": time.monotonic() - started,
            "worker": self.name,
        }

    def close(self) -> None:
        for sandbox in self._sandboxes.values():
            sandbox.stop()
        self._sandboxes.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd, self._uid = None, None


_DASK_WORKERS = threading.local()


def perform_on_dask(wire: dict) -> dict:
    """A Dask task: one student's work, on this Dask worker's own warm worker (one per thread)."""
    worker = getattr(_DASK_WORKERS, "worker", None)
    if worker is None:
        worker = _DASK_WORKERS.worker = Worker(
            name=f"dask {socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 1000}"
        )
    return worker.perform(StudentWork.from_wire(wire))

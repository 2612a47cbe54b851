"""Runs of submitted code, served by a sandbox that starts once and gives every run a world of its own.

A `WarmSandbox` is one bubblewrap sandbox whose run server (`inside/server.py`) imports Python's
libraries once, then serves a worker's runs one after another. Each run (a notebook's run, a
verdict run) has its own namespaces, folders, processes and user, and is counted in the
sandbox's run cgroup (`grading.sandbox.cgroups`): its memory (shared memory and private
folders included), its processes and its CPU time together, and whatever is left of it killed
at its end. Nothing a run makes is there for the next.

A `ColdRun` is the same with a sandbox of its own for one run (nbgrader's own autograde, the
master's run). Both look alike to the code that reads them (`Run`): the run's channel on
`stdout`, `wait()` for how it ended (`launch.Finished`), `kill()`. A sandbox whose run goes past
its time, breaks a frame or uses up its CPU time is killed, and the next run starts a fresh one.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import os
import re
import shutil
import struct
import sys
import threading
from typing import IO, Protocol

from grading.errors import SandboxUnavailable
from grading.sandbox import cgroups
from grading.sandbox.launch import (
    CGROUP_MOUNT,
    HOME,
    INSTALL_HINT,
    SERVER,
    Finished,
    Mounts,
    Sandbox,
    SandboxedRun,
    as_root,
    printable_tail,
    run_folders,
    run_limits,
)
from grading.sandbox.seccomp import filter_program

READY_SECONDS = 120  # a warm sandbox's imports (numpy, matplotlib, IPython, scikit-learn)
END_SECONDS = 30  # between a run's last output and the end of its clean-up
CPU_POLL_SECONDS = 0.5
MIN_EXTENSION = 0.05  # seconds: a shorter wait for a CPU does not move a run's deadline
MAX_FRAME = 1 << 20
_SLOT_NAMES = itertools.count(1)


class Run(Protocol):
    """A running program of submitted code, whichever way it was started."""

    killed: bool

    @property
    def stdout(self) -> IO[bytes]: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> Finished: ...

    def ended(self, timeout: float) -> bool: ...

    def waited(self) -> float: ...

    def stderr_tail(self, limit: int = 600) -> str: ...

    def close(self) -> None: ...


def cgroup_slot(settings: Sandbox) -> cgroups.Slot | None:
    """The cgroups of one sandbox's runs, or None when the machine offers none (a weaker mode that
    `missing_guarantees` names)."""
    if settings.unsafe_no_sandbox:
        return None
    try:
        made = cgroups.slot(f"sandbox-{os.getpid()}-{next(_SLOT_NAMES)}", settings.cgroup)
    except cgroups.CgroupsUnavailable:
        return None
    _remove_stale_slots(made, settings.cgroup)
    return made


def _remove_stale_slots(made: cgroups.Slot, parent: str) -> None:
    """Remove the slots of graders that died without closing theirs (a killed process)."""
    for sibling in made.run_dirs[0].parent.parent.iterdir():
        owner = re.fullmatch(r"sandbox-(\d+)-\d+", sibling.name)
        if owner and not os.path.exists(f"/proc/{owner[1]}"):
            try:
                cgroups.slot(sibling.name, parent).close()
            except (OSError, RuntimeError, cgroups.CgroupsUnavailable):
                pass  # another grader is removing it


def missing_guarantees(settings: Sandbox) -> str:
    """One line naming what runs lack on this machine ("" when nothing): a cgroup for every run."""
    if settings.unsafe_no_sandbox:
        return ""
    return _missing_guarantees(settings.cgroup)


@functools.cache
def _missing_guarantees(parent: str) -> str:
    try:
        probe = cgroups.slot(f"probe-{os.getpid()}-{next(_SLOT_NAMES)}", parent)
    except cgroups.CgroupsUnavailable as error:
        return f"memory, processes and CPU are limited per process only, not per run ({error})"
    probe.close()
    return ""


class WarmSandbox:
    """One sandbox with a lab's mounts whose server gives each run a fresh world of its own."""

    def __init__(self, settings: Sandbox, mounts: Mounts, env: dict[str, str], preload: bool = True):
        self.settings, self.mounts, self.env, self.preload = settings, mounts, env, preload
        self._server: SandboxedRun | None = None
        self.slot: cgroups.Slot | None = None
        self._stopping = threading.RLock()
        self.starts = 0  # sandboxes started so far (one, unless runs misbehaved)

    def run(self, program: str, payload: bytes) -> WarmRun:
        """Start `program` on `payload` in a run of its own; starts the sandbox first if needed."""
        if self._server is None or self._server.process.poll() is not None:
            self._start()
        assert self._server is not None
        if self.slot is not None:
            self.slot.start_run(
                cgroups.RunLimits(self.settings.memory_mb << 20, self.settings.max_processes, self.settings.cpus)
            )
        header = json.dumps({"program": program, "bytes": len(payload)}).encode() + b"\n"
        try:
            self._server.stdin.write(header + payload)
            self._server.stdin.flush()
        except OSError:
            pass  # the server is gone: the run's end says why
        return WarmRun(self, self._server)

    def _server_settings(self, server: SandboxedRun) -> dict:
        isolate = not self.settings.unsafe_no_sandbox
        return {
            "isolate": isolate,
            "uid": self.settings.uid if as_root() else None,
            "cgroups": [f"{CGROUP_MOUNT}/{number}" for number in range(len(self.slot.run_dirs))] if self.slot else [],
            "folders": run_folders(self.settings, self.mounts),
            "limits": self._process_limits(),
            "seccomp": base64.b64encode(filter_program()).decode() if isolate else None,
            "preload": self.preload,
            "lab_folder": server.outside(self.mounts.work),
        }

    def _process_limits(self) -> dict[str, int]:
        """The per-process limits of a run. With a cgroup, it counts the run's memory and processes
        (and the grader sees a run reach either); without, the address space of each process is
        limited, and the user's processes as root only (an ordinary user's count holds every
        process of theirs on the machine)."""
        limits = run_limits(self.settings)
        if self.slot is not None or not as_root():
            del limits["RLIMIT_NPROC"]
        if self.slot is not None:  # the cgroup counts memory; a run that uses it all is seen to
            del limits["RLIMIT_AS"]
        return limits

    def _start(self) -> None:
        self.stop()
        self.slot = cgroup_slot(self.settings)
        server = SandboxedRun(
            self.settings,
            self.mounts,
            [sys.executable, "-I", "-B", SERVER],
            self.env,
            cgroup_folders=self.slot.run_dirs if self.slot else (),
            before_start=self.slot.join_server if self.slot else None,
        )
        self.starts += 1
        try:
            server.stdin.write(json.dumps(self._server_settings(server)).encode() + b"\n")
            server.stdin.flush()
        except OSError:
            pass  # it did not start: the ready signal is missing
        ready: list[bytes] = []
        reader = threading.Thread(target=lambda: ready.append(server.stdout.read(5)), daemon=True)
        reader.start()
        reader.join(READY_SECONDS)
        if not ready or ready[0] != b"R" + struct.pack(">I", 0):
            tail = server.stderr_tail()
            server.__exit__(None, None, None)
            self._close_slot()
            raise SandboxUnavailable(f"a sandbox did not start: {tail or 'no ready signal'}")
        self._server = server

    def serves(self, server: SandboxedRun) -> bool:
        """Whether `server` is this sandbox's current server (its cgroup counts that server's runs)."""
        return self._server is server

    def discard(self, server: SandboxedRun) -> None:
        """Kill `server` (a run went wrong in it); the next run starts a fresh sandbox."""
        server.kill()
        if self.serves(server):
            self.stop()

    def limits_reached(self) -> tuple[str, ...]:
        """The limits the current run has reached so far, as its cgroup counted them."""
        with self._stopping:
            if self.slot is None:
                return ()
            usage = self.slot.usage()
        return tuple(
            kind
            for kind, reached in (
                ("memory_limit", usage.memory_limit_hit),
                ("process_limit", usage.process_limit_hit),
                ("cpu_limit", usage.cpu_seconds > self.settings.cpu_seconds),
            )
            if reached
        )

    def run_queue_wait(self) -> float:
        """How long the current run has waited for a CPU held by other work (0 without a cgroup)."""
        with self._stopping:
            return self.slot.run_queue_wait() if self.slot is not None else 0.0

    def end_of_run(self) -> tuple[str, ...]:
        """The limits the last run reached, as its cgroup counted them; whatever is left of it killed."""
        hit = self.limits_reached()
        if self.slot is not None:
            self.slot.kill_run()
        return hit

    def cpu_seconds(self) -> float:
        with self._stopping:
            return self.slot.usage().cpu_seconds if self.slot is not None else 0.0

    def stop(self) -> None:
        with self._stopping:  # a run's watchdog and its reader may both stop the sandbox
            if self._server is not None:
                self._server.__exit__(None, None, None)
                self._server = None
            self._close_slot()

    def _close_slot(self) -> None:
        if self.slot is not None:
            self.slot.close()
            self.slot = None


class WarmRun:
    """One run served by a warm sandbox: its data frames become `stdout`, its end frame `wait()`."""

    def __init__(self, sandbox: WarmSandbox, server: SandboxedRun):
        self._sandbox, self._server = sandbox, server
        self.killed = False
        self._cpu_limit_hit = False
        self._reached_before_kill: tuple[str, ...] = ()
        self._outcome: dict | None = None
        self._finished: Finished | None = None
        self._ended = threading.Event()
        read_end, self._write_end = os.pipe()
        self._stdout = os.fdopen(read_end, "rb")
        threading.Thread(target=self._relay, daemon=True).start()
        if sandbox.slot is not None:
            threading.Thread(target=self._watch_cpu, daemon=True).start()

    def _relay(self) -> None:
        """Copy the run's data frames into this run's pipe until its end frame (or the server's end)."""
        out = os.fdopen(self._write_end, "wb")
        stream = self._server.stdout
        try:
            while True:
                head = stream.read(5)
                if len(head) != 5:
                    break
                kind, size = head[:1], struct.unpack(">I", head[1:])[0]
                if size > MAX_FRAME:
                    break
                data = stream.read(size)
                if len(data) != size:
                    break
                if kind == b"D":
                    try:
                        out.write(data)
                        out.flush()
                    except (BrokenPipeError, ValueError):
                        pass  # the reader stopped listening; keep draining to the end frame
                elif kind == b"E":
                    outcome = json.loads(data)
                    self._outcome = outcome if isinstance(outcome, dict) else {}
                    break
                else:
                    break
        except (OSError, ValueError):
            pass
        finally:
            self._ended.set()  # before the reader sees the end: a run that ended is not killed
            try:
                out.close()
            except OSError:
                pass

    def _watch_cpu(self) -> None:
        """Stop the run when its processes together used up its CPU time."""
        while not self._ended.wait(CPU_POLL_SECONDS):
            if self._sandbox.slot is None:
                return
            if self._sandbox.cpu_seconds() > self._sandbox.settings.cpu_seconds:
                self._cpu_limit_hit = True
                self.kill()
                return

    @property
    def stdout(self) -> IO[bytes]:
        return self._stdout

    def kill(self) -> None:
        """Stop the run: the whole warm sandbox goes (the next run starts a fresh one)."""
        if not self._ended.is_set() or self._outcome is None:
            self.killed = True
            if self._sandbox.serves(self._server):  # its cgroup still counts this run
                self._reached_before_kill = self._sandbox.limits_reached()
            self._sandbox.discard(self._server)
            self._stop_listening()

    def ended(self, timeout: float) -> bool:
        """Whether the run ends within `timeout` seconds (it is left running if not)."""
        return self._ended.wait(timeout)

    def waited(self) -> float:
        """Seconds the run has waited for a CPU held by other work (a busy grader), so far."""
        return self._sandbox.run_queue_wait() if self._sandbox.serves(self._server) else 0.0

    def _stop_listening(self) -> None:
        """Close this run's pipe: what the run still sends is drained and dropped."""
        try:
            self._stdout.close()
        except OSError:
            pass

    def wait(self, timeout: float | None = None) -> Finished:
        if not self._ended.wait(timeout):
            self.kill()
            self._ended.wait()
        if self._finished is None:
            self._finished = self._finish()
        return self._finished

    def _finish(self) -> Finished:
        outcome = self._outcome
        if outcome is None:  # the sandbox died with the run
            self._sandbox.discard(self._server)
            hit = self._reached_before_kill + (("cpu_limit",) if self._cpu_limit_hit else ())
            return Finished(1, self.killed and not self._cpu_limit_hit, tuple(dict.fromkeys(hit)))
        if outcome.get("setup_error"):
            self._sandbox.discard(self._server)
            raise SandboxUnavailable(f"a run could not be given its own sandbox: {str(outcome['setup_error'])[:300]}")
        status = outcome.get("status")
        hit = self._sandbox.end_of_run()
        if outcome.get("full"):
            hit += ("disk_full",)
        largest = outcome.get("largest_file")
        if isinstance(largest, int) and largest >= self._sandbox.settings.max_file_mb << 20:
            hit += ("file_size_limit",)
        return Finished(status if isinstance(status, int) else 1, self.killed, hit)

    def stderr_tail(self, limit: int = 600) -> str:
        """The end of what the run wrote below Python, printable characters only (for the grader's log)."""
        text = str((self._outcome or {}).get("stderr", ""))[-limit:]
        return printable_tail(text) if text else self._server.stderr_tail(limit)

    def close(self) -> None:
        self._stop_listening()
        if not self._ended.wait(END_SECONDS):
            self.kill()
            self._ended.wait()
        if self._finished is None:
            try:
                self._finished = self._finish()
            except SandboxUnavailable:
                pass


class ColdRun:
    """A run in a sandbox of its own, started for it and stopped after it (no libraries preloaded)."""

    def __init__(self, settings: Sandbox, mounts: Mounts, program: str, payload: bytes, env: dict[str, str]):
        self._sandbox = WarmSandbox(settings, mounts, env, preload=False)
        self._run = self._sandbox.run(program, payload)

    @property
    def killed(self) -> bool:
        return self._run.killed

    @property
    def stdout(self) -> IO[bytes]:
        return self._run.stdout

    def kill(self) -> None:
        self._run.kill()

    def wait(self, timeout: float | None = None) -> Finished:
        return self._run.wait(timeout)

    def ended(self, timeout: float) -> bool:
        return self._run.ended(timeout)

    def waited(self) -> float:
        return self._run.waited()

    def stderr_tail(self, limit: int = 600) -> str:
        return self._run.stderr_tail(limit)

    def close(self) -> None:
        try:
            self._run.close()
        finally:
            self._sandbox.stop()


PROBE = b'{"sources": [], "function": "f", "n_outputs": 1, "arg_items": [], "inputs_bytes": 0}\n'


def check_available(settings: Sandbox) -> None:
    """Raise SandboxUnavailable (one line: the cause, and what to do) unless a run works here.

    It starts a real sandbox and a real run in it (namespaces, folders, cgroup, the unprivileged
    user and the seccomp filter), so that what fails is named as it is."""
    if settings.unsafe_no_sandbox:
        return
    if not sys.platform.startswith("linux") or shutil.which("bwrap") is None:
        raise SandboxUnavailable(f"grading needs a sandbox and bubblewrap (bwrap) was not found: {INSTALL_HINT}")
    probe_run(settings)


def probe_run(settings: Sandbox) -> None:
    """One real run in a real sandbox; raise SandboxUnavailable naming what failed."""
    run = ColdRun(settings, Mounts(work=f"{HOME}/probe"), "verdict", PROBE, {})
    try:
        report = run.stdout.readline(10_000)
        finished = run.wait(60)
    finally:
        run.close()
    if b'"missing"' not in report:
        raise SandboxUnavailable(
            f"a sandbox started but its run did not answer ({finished.reason('exit code ' + str(finished.returncode))}"
            f"; {run.stderr_tail(300) or 'nothing on its standard error'})"
        )

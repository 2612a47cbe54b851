"""Runs of submitted code, started cold (a sandbox each) or served by a warm sandbox.

Both kinds of run look alike to the code that reads them (`Run`): the program's protocol on
`stdout`, `wait()` for how it ended, `kill()`. A cold run is a sandbox of its own
(`launch.SandboxedRun`); a warm run is one fork of `inside/warm_runner.py` in a sandbox that
serves a worker's runs one after another, so that Python and the libraries start once per
worker instead of once per run. A warm sandbox that misbehaves (a run past its time, a broken
frame, a run that changed the server process) is killed and the next run starts a fresh one.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import threading
from typing import IO, Protocol

from grading.sandbox.launch import PROGRAMS, Finished, Mounts, Sandbox, SandboxedRun

PROGRAM_FILES = {"notebook": "notebook_runner.py", "verdict": "verdict_runner.py"}
READY_SECONDS = 120  # a warm sandbox's imports (numpy, matplotlib, IPython, scikit-learn)
END_SECONDS = 30     # between a run's last output and the end of its clean-up
MAX_FRAME = 1 << 20


class Run(Protocol):
    """A running program of submitted code, whichever way it was started."""

    killed: bool

    @property
    def stdout(self) -> IO[bytes]: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> Finished: ...

    def stderr_tail(self, limit: int = 600) -> str: ...

    def close(self) -> None: ...


class ColdRun:
    """A program in a sandbox of its own, its input written by a thread (it may exceed a pipe's buffer)."""

    def __init__(self, settings: Sandbox, mounts: Mounts, program: str, payload: bytes, env: dict[str, str]):
        argv = [sys.executable, "-I", "-B", f"{PROGRAMS}/{PROGRAM_FILES[program]}"]
        self._run = SandboxedRun(settings, mounts, argv, env)
        threading.Thread(target=self._feed, args=(payload,), daemon=True).start()

    def _feed(self, payload: bytes) -> None:
        try:
            self._run.stdin.write(payload)
            self._run.stdin.close()
        except (OSError, ValueError):
            pass  # the sandbox is already gone: its end says why

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

    def stderr_tail(self, limit: int = 600) -> str:
        return self._run.stderr_tail(limit)

    def close(self) -> None:
        self._run.__exit__(None, None, None)


class WarmSandbox:
    """One sandbox with a lab's mounts whose server forks a fresh process for each run."""

    def __init__(self, settings: Sandbox, mounts: Mounts, env: dict[str, str]):
        self.settings, self.mounts, self.env = settings, mounts, env
        self._server: SandboxedRun | None = None
        self.starts = 0  # sandboxes started so far (one, unless runs misbehaved)

    def run(self, program: str, payload: bytes) -> "WarmRun":
        """Start `program` on `payload` in a fresh fork; starts the sandbox first if needed."""
        if self._server is None or self._server.process.poll() is not None:
            self._start()
        assert self._server is not None
        header = json.dumps({"program": program, "bytes": len(payload)}).encode() + b"\n"
        try:
            self._server.stdin.write(header + payload)
            self._server.stdin.flush()
        except OSError:
            pass  # the server is gone: the run's end says why
        return WarmRun(self, self._server)

    def _start(self) -> None:
        self.stop()
        argv = [sys.executable, "-I", "-B", f"{PROGRAMS}/warm_runner.py"]
        server = SandboxedRun(self.settings, self.mounts, argv, self.env)
        self.starts += 1
        ready: list[bytes] = []
        reader = threading.Thread(target=lambda: ready.append(server.stdout.read(5)), daemon=True)
        reader.start()
        reader.join(READY_SECONDS)
        if not ready or ready[0] != b"R" + struct.pack(">I", 0):
            tail = server.stderr_tail()
            server.__exit__(None, None, None)
            raise RuntimeError(f"a warm sandbox did not start: {tail or 'no ready signal'}")
        self._server = server

    def discard(self, server: SandboxedRun) -> None:
        """Kill `server` (a run went wrong in it); the next run starts a fresh sandbox."""
        server.kill()
        if self._server is server:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None


class WarmRun:
    """One run served by a warm sandbox: its data frames become `stdout`, its end frame `wait()`."""

    def __init__(self, sandbox: WarmSandbox, server: SandboxedRun):
        self._sandbox, self._server = sandbox, server
        self.killed = False
        self._status: int | None = None
        self._ended = threading.Event()
        read_end, self._write_end = os.pipe()
        self._stdout = os.fdopen(read_end, "rb")
        threading.Thread(target=self._relay, daemon=True).start()

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
                    status = json.loads(data).get("status")
                    self._status = status if isinstance(status, int) else 1
                    break
                else:
                    break
        except (OSError, ValueError):
            pass
        finally:
            try:
                out.close()
            except OSError:
                pass
            self._ended.set()

    @property
    def stdout(self) -> IO[bytes]:
        return self._stdout

    def kill(self) -> None:
        """Stop the run: the whole warm sandbox goes (the next run starts a fresh one)."""
        if not self._ended.is_set() or self._status is None:
            self.killed = True
            self._sandbox.discard(self._server)
            self._stop_listening()

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
        if self._status is None:  # the server died with the run: the run's code stopped it
            self._sandbox.discard(self._server)
            return Finished(1, self.killed)
        return Finished(self._status, self.killed)

    def stderr_tail(self, limit: int = 600) -> str:
        return self._server.stderr_tail(limit)

    def close(self) -> None:
        self._stop_listening()
        if not self._ended.wait(END_SECONDS):
            self.kill()
            self._ended.wait()
        if self._status is None:
            self._sandbox.discard(self._server)

"""Serve runs of submitted code one after another from one sandbox: imports paid once, each run alone.

This program is the first process of a worker's sandbox (`grading.sandbox.warm`). It imports
nothing of the kit. It reads its settings (one JSON line: see `Settings`), imports what runs
need (numpy, matplotlib, IPython, scikit-learn), says it is ready, then serves one run at a time:

1. it reads a header line, {"program": "notebook" | "verdict", "bytes": N}, and N bytes: the
   notebook's request, or the verdict runner's request and inputs;
2. it forks the run's **setup** process, which joins the run's cgroup and takes new namespaces
   and new writable folders (`isolation.py`), then forks the run's **supervisor**, PID 1 of the
   run's namespace, which forks the **kernel**: the only process that runs the student's code,
   as an unprivileged user with no capabilities, limits and a seccomp filter;
3. the supervisor alone writes the run's channel: the notebook's events (it hands the kernel
   one cell at a time: `notebook_runner.drive`), or the verdict's report and arrays as the
   kernel wrote them; this process relays the channel in frames (b"D", 4-byte length, data), so
   that nothing a run writes can pass for the relay's own frames;
4. when the supervisor ends, everything of the run ends with its namespaces; this process sends
   b"E" with {"status": the kernel's exit status (negative: the signal that killed it),
   "full": the writable folders the run filled, "stderr": the end of what it wrote below Python}.

The server itself is never reachable from a run: it is not in the run's PID, IPC, network or
mount namespace, holds no descriptor a run inherits, and is not dumpable. Frames: b"R" (ready),
b"D" (data), b"E" (end of a run).
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import signal
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import isolation  # noqa: E402  (beside this file)

PR_SET_DUMPABLE = 4
MAX_VERDICT_BYTES = 41_000_000
STDERR_TAIL = 2000
KERNEL_EXIT_SECONDS = 2


class Settings:
    """What the grader tells the server once, on its first line of input.

    {"isolate": bool (false only without a sandbox), "uid": int | null (the run's user; null in a
    user namespace), "cgroups": [run cgroup folders], "folders": [{"path", "bytes", "mode"}],
    "limits": {"RLIMIT_...": n}, "seccomp": base64 | null, "preload": bool, "lab_folder": path}
    """

    def __init__(self, raw: dict):
        self.isolate = bool(raw.get("isolate", True))
        self.uid = raw.get("uid")
        self.cgroups = list(raw.get("cgroups", []))
        self.folders = list(raw.get("folders", []))
        self.limits = dict(raw.get("limits", {}))
        self.seccomp = base64.b64decode(raw["seccomp"]) if raw.get("seccomp") else None
        self.preload = bool(raw.get("preload", True))
        self.lab_folder = raw.get("lab_folder") or os.getcwd()
        self.owner = self.uid if self.uid is not None else os.getuid()


def preload() -> None:
    """Import what every run needs, so that no run pays for it."""
    import matplotlib.pyplot  # noqa: F401
    import matplotlib_inline.backend_inline  # noqa: F401
    import numpy  # noqa: F401
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401
    from IPython.core.interactiveshell import InteractiveShell  # noqa: F401

    try:
        import sklearn.covariance  # noqa: F401
        import sklearn.ensemble  # noqa: F401
        import sklearn.neighbors  # noqa: F401
    except ImportError:
        pass
    import notebook_runner  # noqa: F401
    import verdict_runner  # noqa: F401


# ---------------------------------------------------------------------------------------------
# The server's side: frames on standard output
# ---------------------------------------------------------------------------------------------


def send(kind: bytes, data: bytes = b"") -> None:
    os.write(1, kind + struct.pack(">I", len(data)))
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def read_exactly(fd: int, count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_line(fd: int, limit: int = 1_000_000) -> bytes | None:
    line = b""
    while not line.endswith(b"\n"):
        char = os.read(fd, 1)
        if not char:
            return None
        line += char
        if len(line) > limit:
            raise ValueError("line too long")
    return line


LEFT_TO_REAP: list[int] = []


def reap_setups() -> None:
    """Reap the setup processes of earlier runs that have ended (each ends when its run's namespaces
    are gone); the others are reaped later, so that no run waits for another's teardown."""
    for pid in list(LEFT_TO_REAP):
        if os.waitpid(pid, os.WNOHANG)[0]:
            LEFT_TO_REAP.remove(pid)


class Standby:
    """The next run's world, made ahead while the server waits or serves: its setup process, and its
    supervisor waiting on `go` for the request. Its pipes: `channel` and `report` come back."""

    def __init__(self, settings: Settings):
        go_read, self.go = os.pipe()
        self.channel, channel_write = os.pipe()
        self.report, report_write = os.pipe()
        self.setup = os.fork()
        if self.setup == 0:
            for fd in (self.go, self.channel, self.report):
                os.close(fd)
            run_setup(settings, go_read, channel_write, report_write)
        for fd in (go_read, channel_write, report_write):
            os.close(fd)


def serve_one(settings: Settings, standby: Standby, program: str, payload: bytes) -> tuple[dict, Standby]:
    """Hand the request to the waiting run, make the next one's world while it goes, and relay it
    to its end: what the E frame says of it, and the next run's standby."""
    try:
        request = json.dumps({"program": program, "bytes": len(payload)}).encode() + b"\n"
        with os.fdopen(standby.go, "wb") as go:
            go.write(request + payload)
    except (BrokenPipeError, OSError):
        pass  # the run could not be set up: its report says why
    upcoming = Standby(settings)
    while True:
        data = os.read(standby.channel, 1 << 16)
        if not data:
            break
        send(b"D", data)
    os.close(standby.channel)
    with os.fdopen(standby.report, "rb") as report:  # ends with the supervisor, before the run's namespaces
        raw = report.read(100_000)
    LEFT_TO_REAP.append(standby.setup)  # it ends when they are gone: reaped after
    try:
        outcome = json.loads(raw)
    except ValueError:
        outcome = {"status": 1, "setup_error": "the run's supervisor ended without a report"}
    return outcome, upcoming


def main() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    line = read_line(0)
    if line is None:
        return
    settings = Settings(json.loads(line))
    if settings.preload:
        preload()
    standby = Standby(settings)
    send(b"R")
    while True:
        header = read_line(0)
        if header is None:
            return
        request = json.loads(header)
        payload = read_exactly(0, int(request["bytes"]))
        reap_setups()
        outcome, standby = serve_one(settings, standby, str(request["program"]), payload)
        send(b"E", json.dumps(outcome).encode())


# ---------------------------------------------------------------------------------------------
# The run's setup process: namespaces and folders, made ahead of the request
# ---------------------------------------------------------------------------------------------


def _keep_only(*keep: int) -> None:
    """Close every descriptor but `keep`; 0, 1 and 2 become /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd not in keep:
            os.dup2(devnull, fd)
    highest = max(keep + (devnull, 2))
    for fd in range(3, highest + 1):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    os.closerange(highest + 1, 1 << 16)


def run_setup(settings: Settings, go: int, channel: int, report: int) -> None:
    """In the server's fork: give the next run its own world, then wait for its supervisor. Never returns."""
    try:
        _keep_only(go, channel, report)
        if settings.isolate:
            isolation.new_namespaces()
            isolation.fresh_folders(settings.folders, settings.owner)
        supervisor = os.fork()
        if supervisor == 0:
            supervise(settings, go, channel, report)
        for fd in (go, channel, report):
            os.close(fd)
        os.waitpid(supervisor, 0)
        os._exit(0)
    except BaseException as error:  # the run could not be set up: the grader reports it as such
        os.write(report, json.dumps({"status": 1, "setup_error": f"{type(error).__name__}: {error}"[:500]}).encode())
        os._exit(1)


# ---------------------------------------------------------------------------------------------
# The run's supervisor (PID 1 of the run) and its kernel
# ---------------------------------------------------------------------------------------------


class Reaper:
    """Reap every process that ends in the run (orphans come to PID 1), noting the kernel's status."""

    def __init__(self, kernel: int):
        self.kernel, self.status = kernel, None
        self.ended = threading.Event()
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        while True:
            try:
                pid, raw = os.wait()
            except ChildProcessError:
                self.ended.set()
                return
            except InterruptedError:
                continue
            if pid == self.kernel:
                self.status = os.waitstatus_to_exitcode(raw)
                self.ended.set()


class TailReader:
    """Keeps the last bytes the kernel wrote on its standard error, draining the pipe."""

    def __init__(self, fd: int):
        self.tail = b""
        self._thread = threading.Thread(target=self._read, args=(fd,), daemon=True)
        self._thread.start()

    def _read(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:
                return
            if not data:
                return
            self.tail = (self.tail + data)[-STDERR_TAIL:]

    def text(self) -> str:
        self._thread.join(timeout=1)
        return self.tail.decode("utf-8", errors="replace")


def supervise(settings: Settings, go: int, channel: int, report: int) -> None:
    """PID 1 of the run: wait for the request, enter the run's cgroup, start the kernel, drive it,
    write the channel and the report. Never returns."""
    status = 1
    try:
        if settings.isolate:
            isolation.mount_proc()
        with os.fdopen(go, "rb") as requests:
            request = json.loads(requests.readline(10_000))
            program, payload = str(request["program"]), requests.read(int(request["bytes"]))
        if settings.isolate:
            isolation.join_cgroups(settings.cgroups)
            isolation.hide_cgroups()
        cells_read, cells_write = os.pipe()
        replies_read, replies_write = os.pipe()
        errors_read, errors_write = os.pipe()
        kernel = os.fork()
        if kernel == 0:
            run_kernel(settings, program, cells_read, replies_write, errors_write)
        for fd in (cells_read, replies_write, errors_write):
            os.close(fd)
        reaper, errors = Reaper(kernel), TailReader(errors_read)
        to_kernel, from_kernel = os.fdopen(cells_write, "wb"), os.fdopen(replies_read, "rb")
        out = os.fdopen(channel, "wb")
        try:
            if program == "notebook":
                import notebook_runner

                notebook_runner.drive(json.loads(payload), to_kernel, from_kernel, out)
            else:
                relay_verdict(payload, to_kernel, from_kernel, out)
        except (BrokenPipeError, ConnectionError):
            pass  # the kernel is gone: its status says why
        _close_quietly(to_kernel, out)
        reaper.ended.wait(KERNEL_EXIT_SECONDS)  # its work is done: let it end by itself first
        _end_every_process(settings)
        reaper.ended.wait(10)
        status = reaper.status if reaper.status is not None else 1
        outcome = {
            "status": status,
            "full": _full_folders(settings),
            "largest_file": _largest_file(settings),
            "stderr": errors.text(),
        }
        os.write(report, json.dumps(outcome).encode())
    finally:
        os._exit(0)


def relay_verdict(payload: bytes, to_kernel, from_kernel, out) -> None:
    """Give the kernel the verdict's request and inputs; pass on what it answers, up to a size."""
    writer = threading.Thread(target=_feed, args=(to_kernel, payload), daemon=True)
    writer.start()
    sent = 0
    while sent <= MAX_VERDICT_BYTES:
        data = from_kernel.read1(1 << 16)
        if not data:
            break
        out.write(data)
        sent += len(data)
    out.flush()


def _feed(stream, payload: bytes) -> None:
    try:
        stream.write(payload)
        stream.close()
    except (OSError, ValueError):
        pass


def _close_quietly(*streams) -> None:
    for stream in streams:
        try:
            stream.close()
        except OSError:
            pass


def _end_every_process(settings: Settings) -> None:
    """Kill everything the run started (as PID 1, this reaches every process of the run)."""
    if settings.isolate:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _full_folders(settings: Settings) -> list[str]:
    """The writable folders the run filled (less than 1 MiB left), as the grader observed them."""
    full = []
    for folder in settings.folders:
        try:
            stats = os.statvfs(folder["path"])
        except OSError:
            continue
        if stats.f_bavail * stats.f_frsize < (1 << 20):
            full.append(folder["path"])
    return full


def _largest_file(settings: Settings) -> int:
    """The size of the largest file the run left in its writable folders (for the file-size limit):
    the folders' own files only, never what is mounted in them (the release, an environment)."""
    largest = 0
    for folder in settings.folders:
        try:
            device = os.stat(folder["path"]).st_dev
        except OSError:
            continue
        for root, folders, files in os.walk(folder["path"]):
            folders[:] = [name for name in folders if _on_device(os.path.join(root, name), device)]
            for name in files:
                try:
                    info = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                if info.st_dev == device:
                    largest = max(largest, info.st_size)
    return largest


def _on_device(path: str, device: int) -> bool:
    try:
        return os.lstat(path).st_dev == device
    except OSError:
        return False


def run_kernel(settings: Settings, program: str, cells: int, replies: int, errors: int) -> None:
    """The kernel: the only process of the run that runs the student's code. Never returns."""
    status = 1
    try:
        os.dup2(errors, 2)
        _keep_only(cells, replies, 2)
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(number, signal.SIG_DFL)
        if settings.isolate:
            isolation.set_limits(settings.limits)
            isolation.drop_privileges(settings.uid, settings.seccomp)
        os.chdir(settings.lab_folder if program == "notebook" else _verdict_folder())
        import numpy

        numpy.random.seed()  # fresh entropy, as a new process would have
        incoming, outgoing = os.fdopen(cells, "rb"), os.fdopen(replies, "wb")
        if program == "notebook":
            import notebook_runner

            notebook_runner.kernel(json.loads(incoming.readline()), incoming, outgoing)
        else:
            import verdict_runner

            request = json.loads(incoming.readline())
            inputs = incoming.read(int(request["inputs_bytes"]))
            verdict_runner.serve(request, inputs, outgoing)
        status = 0
    finally:
        os._exit(status)


def _verdict_folder() -> str:
    folder = os.path.join(os.environ.get("HOME", "/tmp"), "verdict")
    os.makedirs(folder, exist_ok=True)
    return folder


if __name__ == "__main__":
    main()

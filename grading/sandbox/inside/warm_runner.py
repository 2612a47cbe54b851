"""Serve runs one after another from one warm sandbox: imports paid once, each run in a fresh fork.

This program runs inside the sandbox, as its unprivileged user, and imports nothing of the kit.
It imports what the runs need (numpy, matplotlib and its inline backend, IPython, scikit-learn),
says it is ready, then serves one run at a time:

1. it reads a header line on standard input, {"program": "notebook" | "verdict", "bytes": N},
   and N bytes: what that program (notebook_runner.py, verdict_runner.py) reads on its own
   standard input when it runs alone;
2. it forks; the child runs the program on those bytes, in the lab folder (a notebook) or in an
   empty folder (a verdict), writing its protocol into a pipe of its own;
3. it relays that pipe to standard output in frames (b"D", 4-byte length, data), so that nothing
   a run writes can pass for the relay's own frames;
4. when the child has exited, it kills every process the run left behind, empties the writable
   folders (/tmp, the home and the lab folder, but for the release's read-only files), and
   sends b"E" with {"status": the child's exit status} (negative: the signal that killed it).

Runs share the user of this process, so a run could try to reach into it: the process is not
dumpable (no ptrace, no /proc/<pid>/mem for the same user), and after each run it compares its
limits, priority and CPU affinity with those it started with, and exits if a run changed them
(the grader then starts a fresh sandbox). Frames: b"R" (ready), b"D" (data), b"E" (end of a run).
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import stat
import struct
import sys

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
HOME = os.environ.get("HOME", "/home/student")
VERDICT_FOLDER = os.path.join(HOME, "verdict")
WRITABLE_ROOTS = ("/tmp", HOME, "/dev/shm")


def preload() -> None:
    """Import what every run needs, so that no run pays for it."""
    import numpy  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import matplotlib_inline.backend_inline  # noqa: F401
    from IPython.core.interactiveshell import InteractiveShell  # noqa: F401
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401
    try:
        import sklearn.ensemble  # noqa: F401
        import sklearn.neighbors  # noqa: F401
        import sklearn.covariance  # noqa: F401
    except ImportError:
        pass
    import notebook_runner  # noqa: F401  (beside this file)
    import verdict_runner  # noqa: F401


def send(kind: bytes, data: bytes = b"") -> None:
    os.write(1, kind + struct.pack(">I", len(data)))
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


def read_exactly(count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = os.read(0, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_header() -> dict | None:
    line = b""
    while not line.endswith(b"\n"):
        char = os.read(0, 1)
        if not char:
            return None
        line += char
        if len(line) > 1000:
            raise ValueError("header too long")
    return json.loads(line)


def own_state() -> tuple:
    """What a run of the same user could change in this process from outside."""
    limits = tuple(resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
                   if name.startswith("RLIMIT_"))
    return (limits, os.getpriority(os.PRIO_PROCESS, 0), tuple(sorted(os.sched_getaffinity(0))),
            os.sched_getscheduler(0))


def run_child(program: str, payload: bytes, channel: int, lab_folder: str) -> None:
    """In the forked child: run `program` on `payload`, its protocol on `channel`. Never returns."""
    status = 1
    try:
        os.closerange(3, channel)
        os.closerange(channel + 1, 1 << 16)
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(number, signal.SIG_DFL)
        import numpy
        numpy.random.seed()  # fresh entropy, as a new process would have
        if program == "notebook":
            import notebook_runner
            os.chdir(lab_folder)
            notebook_runner.serve(json.loads(payload), os.fdopen(channel, "w", encoding="utf-8"))
        elif program == "verdict":
            import verdict_runner
            os.makedirs(VERDICT_FOLDER, exist_ok=True)
            os.chdir(VERDICT_FOLDER)
            header, _, inputs = payload.partition(b"\n")
            verdict_runner.serve(json.loads(header), inputs, os.fdopen(channel, "wb"))
        status = 0
    finally:
        os._exit(status)


def relay(channel: int, child: int) -> int:
    """Forward the child's channel as data frames until it ends; the child's exit status."""
    status = None
    open_channel = True
    while open_channel or status is None:
        if open_channel:
            ready, _, _ = select.select([channel], [], [], 0.05)
            if ready:
                data = os.read(channel, 1 << 16)
                if data:
                    send(b"D", data)
                    continue
                open_channel = False
        if status is None:
            pid, raw = os.waitpid(child, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(raw)
                end_leftover_processes()  # they may hold the channel open
    return status


def end_leftover_processes() -> None:
    """Kill every process of this user in the sandbox but this one, and reap them."""
    me = os.getpid()
    for _ in range(100):
        try:
            os.kill(-1, signal.SIGKILL)  # every process we may signal, but us (and the sandbox's init)
        except ProcessLookupError:
            pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
        if not [pid for pid in _live_pids() if pid != me and pid != 1]:
            return


def _live_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat_file:
                    if stat_file.read().rsplit(")", 1)[1].split()[0] != "Z":
                        pids.append(int(entry))
            except (OSError, IndexError):
                pass
    return pids


def _mounts() -> dict[str, bool]:
    """Mount points of the sandbox -> whether they are read-only."""
    found = {}
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            found[point] = "ro" in fields[5].split(",")
    return found


def empty_writable_folders() -> None:
    """Remove everything a run left in the folders it could write, keeping the mounts in them."""
    mounts = _mounts()

    def clean(folder: str) -> None:
        try:
            os.chmod(folder, 0o777) if os.stat(folder).st_uid == os.getuid() else None
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            path = entry.path
            if path in mounts:
                if not mounts[path]:
                    clean(path)
            elif any(point.startswith(path + "/") for point in mounts):
                clean(path)
            else:
                _remove(path)

    for root in WRITABLE_ROOTS:
        if os.path.isdir(root):
            clean(root)


def _remove(path: str) -> None:
    def allow_and_retry(function, target, _error):
        try:
            os.chmod(os.path.dirname(target), 0o777)
            if not os.path.islink(target) and os.path.isdir(target):
                os.chmod(target, 0o777)
            function(target)
        except OSError:
            pass

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, stat.S_IRWXU)
            shutil.rmtree(path, onerror=allow_and_retry)
        else:
            os.unlink(path)
    except OSError:
        pass


def main() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    lab_folder = os.getcwd()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    preload()
    started = own_state()
    send(b"R")
    while True:
        header = read_header()
        if header is None:
            return
        payload = read_exactly(int(header["bytes"]))
        channel_read, channel_write = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(channel_read)
            run_child(str(header["program"]), payload, channel_write, lab_folder)
        os.close(channel_write)
        status = relay(channel_read, child)
        os.close(channel_read)
        empty_writable_folders()
        os.chdir(lab_folder)
        send(b"E", json.dumps({"status": status}).encode())
        if own_state() != started:
            return  # a run changed this process: the grader starts a fresh sandbox


if __name__ == "__main__":
    main()

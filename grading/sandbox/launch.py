"""Start a sandbox that sees only what a run needs, and know how each run in it ended.

Inside, the file system holds the system folders and the Python environment (read-only),
the programs of `grading/sandbox/inside/` (read-only), the lab's released files (read-only)
in a size-limited, writable working folder, and private `/tmp` and home folders. Nothing
else of the course is there: no solutions, hidden tests, gradebook, submissions, nor the
kit's code. The sandbox has no network, its own PID namespace (it cannot see or signal the
grader), and dies with its parent.

Its first process is the run server (`inside/server.py`), which keeps the capabilities it needs
to give each run its own namespaces, folders and cgroup, and runs the student's code as an
unprivileged user with no capabilities. As root, that user is `Sandbox.uid` (one per worker);
as an ordinary user, bubblewrap starts in a user namespace and each run gets one of its own.
The mounts are made in an order that keeps the environment and the release visible wherever
the course lives (under /tmp, in a home folder, on a path with spaces).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from traitlets import Bool, Float, Integer, Unicode
from traitlets.config import Configurable

from grading.sandbox.reaping import become_subreaper, descendants, kill_descendants

INSIDE = Path(__file__).resolve().parent / "inside"
# Where things appear inside the sandbox.
HOME = "/home/student"
PROGRAMS = "/opt/course-sandbox"
SHARED_CACHE = "/var/cache/course"
CGROUP_MOUNT = "/run/course-cgroup"  # the run's cgroup folders, for the server only (inside/isolation.py)
SERVER = f"{PROGRAMS}/server.py"

# How to get bubblewrap (the Makefile, which runs before Python is set up, says the same).
INSTALL_BWRAP = "apt-get install bubblewrap (Debian/Ubuntu) or dnf install bubblewrap (Fedora)"
INSTALL_HINT = (
    f"install bubblewrap ({INSTALL_BWRAP}) and allow it to create namespaces, or pass"
    " --unsafe-no-sandbox to grade without one (not for real classes)"
)
# What the run server needs as root to give each run its own world; the student's code has none of them.
SERVER_CAPABILITIES = (
    "CAP_SYS_ADMIN",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_CHOWN",
    "CAP_FOWNER",
    "CAP_DAC_OVERRIDE",
    "CAP_KILL",
)


class Sandbox(Configurable):
    """Limits of every run of submitted code (the notebook's run, each verdict run)."""

    uid = Integer(
        65534,
        help="Unprivileged user id (and group id) the student's code runs as when grading as root; "
        "parallel workers take the ids below it, one each (grading/execution/worker.py).",
    ).tag(config=True)
    memory_mb = Integer(
        4096,
        help="Memory of one run, in MiB: every process, shared memory and private folders "
        "together (a cgroup); without a cgroup, the address space of each process.",
    ).tag(config=True)
    max_processes = Integer(128, help="Processes and threads one run may have at once.").tag(config=True)
    cpus = Float(1.0, help="CPU bandwidth of one run, in cores.").tag(config=True)
    max_file_mb = Integer(64, help="Largest file a sandboxed process may write, in MiB.").tag(config=True)
    max_open_files = Integer(256, help="Files a sandboxed process may hold open.").tag(config=True)
    cpu_seconds = Integer(600, help="CPU seconds of one run (one notebook run), all its processes together.").tag(
        config=True
    )
    work_mb = Integer(256, help="Size of the writable working folder (the lab folder), in MiB.").tag(config=True)
    tmp_mb = Integer(128, help="Size of the private /tmp, the home folder and /dev/shm, each, in MiB.").tag(config=True)
    cgroup = Unicode(
        "",
        help="The cgroup under which runs are counted: empty to let the kit make one (as root), or a "
        "cgroup delegated to this user by an administrator (see the README).",
    ).tag(config=True)
    unsafe_no_sandbox = Bool(
        False,
        help="Run submitted code without a sandbox, as the grader's own user. Only for trying the kit "
        "where bubblewrap cannot run; it is printed in the output and recorded in reports and feedback.",
    ).tag(config=True)


@dataclass
class Mounts:
    """What a sandboxed run sees besides the system and the environment.

    `read_only` and `writable` map a path outside to the path it has inside; `work` is the
    inside path of the working folder (a fresh, size-limited tmpfs per run) where the program starts.
    """

    work: str
    read_only: dict[Path, str] = field(default_factory=dict)
    writable: dict[Path, str] = field(default_factory=dict)


def python_roots() -> list[Path]:
    """The folders of this Python environment (the venv and the interpreter it was made from)."""
    roots = {
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(os.path.realpath(sys.executable)).parent.parent,
    }
    return sorted(roots)


def as_root() -> bool:
    """Whether the grader runs as root (runs get a user id each) or as an ordinary user (a user namespace)."""
    return os.geteuid() == 0


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """The clean environment of a sandboxed program: none of the grader's variables, plus `extra`."""
    env = {
        "HOME": HOME,
        "USER": "student",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
        "IPYTHONDIR": f"{HOME}/.ipython",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # joblib (scikit-learn) would warn on stderr that it cannot use its shared-memory
        # semaphores, an error-looking output in the student's notebook; it runs serially.
        "JOBLIB_MULTIPROCESSING": "0",
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # machine-specific numpy fixes
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env


def run_folders(settings: Sandbox, mounts: Mounts) -> list[dict]:
    """The folders each run finds empty and may write (a new tmpfs each, of this size and mode)."""
    return [
        {"path": "/tmp", "bytes": settings.tmp_mb << 20, "mode": "1777"},
        {"path": "/dev/shm", "bytes": settings.tmp_mb << 20, "mode": "1777"},
        {"path": HOME, "bytes": settings.tmp_mb << 20, "mode": "0700"},
        {"path": mounts.work, "bytes": settings.work_mb << 20, "mode": "0700"},
    ]


def run_limits(settings: Sandbox) -> dict[str, int]:
    """Per-process limits of the student's code, on top of the run's cgroup."""
    return {
        "RLIMIT_AS": settings.memory_mb << 20,
        "RLIMIT_NPROC": settings.max_processes,
        "RLIMIT_FSIZE": settings.max_file_mb << 20,
        "RLIMIT_NOFILE": settings.max_open_files,
        "RLIMIT_CPU": settings.cpu_seconds,
        "RLIMIT_CORE": 0,
    }


class _Layout:
    """bubblewrap arguments that build the sandbox's file system, each mount's parent folders made
    readable first (bubblewrap would otherwise create them private to root)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self._made = {"/"}

    def _parents(self, inside: str) -> None:
        for parent in reversed(Path(inside).parents):
            if str(parent) not in self._made:
                self.args += ["--perms", "0755", "--dir", str(parent)]
                self._made.add(str(parent))

    def add(self, option: str, source: str | None, inside: str, perms: str | None = None) -> None:
        self._parents(inside)
        self.args += ["--perms", perms] if perms else []
        self.args += [option] + ([source] if source is not None else []) + [inside]
        self._made.add(inside)


def bwrap_command(
    mounts: Mounts, cgroup_folders: Sequence[Path], argv: Sequence[str], env: dict[str, str]
) -> list[str]:
    """The full bubblewrap command line for the run server `argv` with `mounts`.

    The private folders come first and everything bound inside them after, so that a course or
    an environment under /tmp or in a home stays visible; each run then gets new folders with the
    same read-only mounts in them (`inside/isolation.py`).
    """
    layout = _Layout()
    layout.add("--ro-bind", "/usr", "/usr")
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            layout.add("--symlink", os.readlink(path), f"/{name}")
        elif path.is_dir():
            layout.add("--ro-bind", str(path), f"/{name}")
    for name in ("fonts", "localtime", "ld.so.cache", "alternatives", "mime.types"):
        if (Path("/etc") / name).exists():
            layout.add("--ro-bind", f"/etc/{name}", f"/etc/{name}")
    layout.add("--proc", None, "/proc")
    layout.add("--dev", None, "/dev")
    for folder in ("/tmp", HOME, mounts.work):
        layout.add("--tmpfs", None, folder, perms="0755")
    for root in python_roots():
        layout.add("--ro-bind", str(root), str(root))
    layout.add("--ro-bind", str(INSIDE), PROGRAMS)
    for outside, inside in sorted(mounts.read_only.items(), key=lambda item: item[1]):
        layout.add("--ro-bind", str(outside), inside)
    for outside, inside in mounts.writable.items():
        layout.add("--bind", str(outside), inside)
    for number, folder in enumerate(cgroup_folders):
        layout.add("--bind", str(folder), f"{CGROUP_MOUNT}/{number}")
    if as_root():
        identity = [arg for capability in SERVER_CAPABILITIES for arg in ("--cap-add", capability)]
    else:
        identity = ["--unshare-user", "--uid", "0", "--gid", "0", "--cap-add", "ALL"]
    args = [
        "bwrap",
        *identity,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        *layout.args,
        "--chdir",
        mounts.work,
        "--clearenv",
    ]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--"] + list(argv)


@dataclass
class Finished:
    """How a sandboxed run ended: its exit code (negative: killed by that signal), whether the
    grader killed it at its deadline, and the limits the grader saw it reach ("memory_limit",
    "process_limit", "cpu_limit", "disk_full", "file_size_limit")."""

    returncode: int
    timed_out: bool
    limits_hit: tuple[str, ...] = ()

    @property
    def signal_name(self) -> str | None:
        code = self.returncode
        # bwrap reports a program killed by signal N as exit code 128 + N.
        number = -code if code < 0 else code - 128 if code > 128 else None
        try:
            return signal.Signals(number).name if number else None
        except ValueError:
            return None

    def _limit(self) -> str | None:
        """The limit reached that best explains the end, in LIMIT_REACHED's order, if any."""
        return next((kind for kind in LIMIT_REACHED if kind in self.limits_hit), None)

    def kind(self) -> str:
        """Why the run died, as an incident kind (`grading.reporting.incidents`): a limit the grader saw it
        reach, else the signal that ended it, else "kernel_died"."""
        return self._limit() or ENDED_BY.get(self.signal_name or "", ("kernel_died", ""))[0]

    def reason(self, otherwise: str) -> str:
        """Why the run died, in the student's terms (or `otherwise`)."""
        limit = self._limit()
        return LIMIT_REACHED[limit] if limit else ENDED_BY.get(self.signal_name or "", ("", otherwise))[1]


LIMIT_REACHED = {  # a limit the grader saw a run reach -> what the student and the instructor read (first: likeliest end)
    "memory_limit": "it used up the memory of its sandbox",
    "cpu_limit": "it used up its CPU time limit",
    "disk_full": "it filled its private disk space",
    "file_size_limit": "it wrote a file as large as the file-size limit",
    "process_limit": "it reached the limit on processes",
}
ENDED_BY = {  # the signal that ended a sandboxed run -> (incident kind, what the student and the instructor read)
    "SIGXCPU": ("cpu_limit", "it used up its CPU time limit"),
    "SIGXFSZ": ("file_size_limit", "it wrote a file larger than the file-size limit"),
    "SIGSEGV": ("crashed", "the code crashed Python (segmentation fault)"),
    "SIGKILL": ("kernel_died", "it was killed"),
}


def printable_tail(text: str) -> str:
    """What a sandbox wrote below Python, for the grader's log: printable characters and line breaks only."""
    return "".join(char if char.isprintable() or char == "\n" else "?" for char in text).strip()


class SandboxedRun:
    """A running sandboxed program (the run server) with pipes to its standard input and output.

    `cgroup_folders` are bound inside for the server (the run's cgroup, see `grading.sandbox.cgroups`);
    `before_start` runs in the child before bubblewrap starts (joining the server's cgroup).
    Use as a context manager: leaving it kills whatever still runs (the whole sandbox).
    """

    def __init__(
        self,
        settings: Sandbox,
        mounts: Mounts,
        argv: Sequence[str],
        extra_env: dict[str, str] | None = None,
        cgroup_folders: Sequence[Path] = (),
        before_start=None,
    ):
        self.settings = settings
        self.killed = False
        env = _environment(extra_env or {})
        self._unsafe: _UnsafeLayout | None = None
        if settings.unsafe_no_sandbox:
            self._unsafe = _UnsafeLayout(mounts)
            command, cwd = [self._unsafe.outside(arg) for arg in argv], self._unsafe.outside(mounts.work)
            env = {
                **{k: v for k, v in os.environ.items() if k in ("PATH", "LANG")},
                **{key: self._unsafe.outside(value) for key, value in env.items()},
            }
        else:
            command, cwd = bwrap_command(mounts, cgroup_folders, argv, env), None
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # Only bubblewrap and the server write here (each run's own stderr goes to its supervisor):
        # the grader's log shows its tail when a sandbox fails to start.
        self._stderr = tempfile.TemporaryFile()

        def prepare() -> None:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if before_start is not None:
                before_start()

        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=prepare,
        )

    def outside(self, value: str) -> str:
        """An inside path as the program sees it (the same, but without a sandbox)."""
        return self._unsafe.outside(value) if self._unsafe is not None else value

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    def stderr_tail(self, limit: int = 600) -> str:
        """The end of what the run wrote below Python, printable characters only (for the grader's log)."""
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - limit))
        return printable_tail(self._stderr.read().decode("utf-8", errors="replace"))

    def kill(self) -> None:
        """Kill the sandbox and everything in it."""
        if self.process.poll() is None:
            self.killed = True
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float | None = None) -> Finished:
        """Wait for the end, killing the sandbox after `timeout` seconds."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        return Finished(self.process.returncode, self.killed)

    def __enter__(self) -> SandboxedRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._stderr.close()
        if self._unsafe is not None:
            self._unsafe.close()


class _UnsafeLayout:
    """Without a sandbox: the inside paths laid out in a temporary folder (copies of the read-only
    files, links to the writable ones), and every process the run leaves behind stopped after it."""

    def __init__(self, mounts: Mounts):
        self._folder = tempfile.TemporaryDirectory(prefix="course-unsafe-run-")
        self.root = Path(self._folder.name)
        become_subreaper()
        self._before = descendants()
        for inside in (HOME, "/tmp", mounts.work):
            (self.root / inside.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for outside, inside in {INSIDE: PROGRAMS, **mounts.read_only}.items():
            target = self.root / inside.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if outside.is_dir():
                shutil.copytree(outside, target, dirs_exist_ok=True)
            else:
                shutil.copy(outside, target)
        for outside, inside in mounts.writable.items():
            target = self.root / inside.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                target.rmdir()
            target.symlink_to(outside)

    def outside(self, value: str) -> str:
        """`value` with a leading inside path (of the layout) replaced by where it lies here. /tmp
        itself is the layout's, but not what lies in it: the environment may live under /tmp."""
        for prefix in (HOME, PROGRAMS, SHARED_CACHE):
            if value == prefix or value.startswith(prefix + "/"):
                return str(self.root / value.lstrip("/"))
        return str(self.root / "tmp") if value == "/tmp" else value

    def close(self) -> None:
        kill_descendants(keep=self._before)
        self._folder.cleanup()

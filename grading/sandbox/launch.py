"""Start a program in a bubblewrap sandbox that sees only what the run needs.

Inside, the file system holds the system folders and the Python environment (read-only),
the programs of `grading/sandbox/inside/` (read-only), the lab's released files (read-only)
in a size-limited, writable working folder, and private `/tmp` and home folders. Nothing
else of the course is there: no solutions, hidden tests, gradebook, submissions, nor the
kit's code. The sandbox has no network, its own PID namespace (it cannot see or signal the
grader), and dies with its parent. Its program runs as an unprivileged user with a clean
environment and resource limits; what it writes disappears with it.

bubblewrap runs as root here only to set up the mounts and namespaces; `setpriv` then drops
to `Sandbox.uid` with no capabilities before the program starts.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Sequence

from traitlets import Bool, Integer
from traitlets.config import Configurable

from grading.reaping import become_subreaper, descendants, kill_descendants

INSIDE = Path(__file__).resolve().parent / "inside"
# Where things appear inside the sandbox.
HOME = "/home/student"
PROGRAMS = "/opt/course-sandbox"
SHARED_CACHE = "/var/cache/course"

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) and allow it to create"
                " namespaces, or pass --unsafe-no-sandbox to grade without one (not for real classes)")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here; the message says what to do."""


class Sandbox(Configurable):
    """Limits of every process that runs submitted code (the notebook's run, each verdict run)."""

    uid = Integer(65534, help="Unprivileged user id (and group id) the sandboxed program runs as; parallel "
                              "workers take the ids below it, one each (grading/execution/worker.py).").tag(config=True)
    memory_mb = Integer(4096, help="Address space of each sandboxed process, in MiB.").tag(config=True)
    max_processes = Integer(128, help="Processes and threads the sandbox user may have at once.").tag(config=True)
    max_file_mb = Integer(64, help="Largest file a sandboxed process may write, in MiB.").tag(config=True)
    max_open_files = Integer(256, help="Files a sandboxed process may hold open.").tag(config=True)
    cpu_seconds = Integer(600, help="CPU seconds of one sandboxed process (one notebook run).").tag(config=True)
    work_mb = Integer(256, help="Size of the writable working folder (the lab folder), in MiB.").tag(config=True)
    tmp_mb = Integer(128, help="Size of the private /tmp and of the home folder, each, in MiB.").tag(config=True)
    unsafe_no_sandbox = Bool(
        False, help="Run submitted code without a sandbox, as the grader's own user. Only for trying the kit "
                    "where bubblewrap cannot run; it is printed in the output and recorded in reports and feedback."
    ).tag(config=True)


@dataclass
class Mounts:
    """What a sandboxed run sees besides the system and the environment.

    `read_only` and `writable` map a path outside to the path it has inside; `work` is the
    inside path of the working folder (a fresh, size-limited tmpfs) where the program starts.
    """

    work: str
    read_only: dict[Path, str] = field(default_factory=dict)
    writable: dict[Path, str] = field(default_factory=dict)


def python_roots() -> list[Path]:
    """The folders of this Python environment (the venv and the interpreter it was made from)."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(os.path.realpath(sys.executable)).parent.parent}
    return sorted(roots)


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
        # No shared-memory semaphores in the sandbox: joblib (scikit-learn) would say so on stderr
        # when first imported, an error-looking output in the student's notebook; it runs serially.
        "JOBLIB_MULTIPROCESSING": "0",
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # machine-specific numpy fixes
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env


class _Layout:
    """bubblewrap arguments that build the sandbox's file system, each mount's parent folders made
    readable first (bubblewrap would otherwise create them private to root)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self._made = {"/"}

    def _parents(self, inside: str) -> None:
        for parent in reversed(Path(inside).parents):
            if str(parent) not in self._made:
                # Folders made in the home (say ~/.config) stay the student's to write in.
                perms = "0777" if str(parent).startswith(HOME + "/") else "0755"
                self.args += ["--perms", perms, "--dir", str(parent)]
                self._made.add(str(parent))

    def add(self, option: str, source: str | None, inside: str, perms: str | None = None, size: int | None = None) -> None:
        self._parents(inside)
        self.args += ["--perms", perms] if perms else []
        self.args += ["--size", str(size)] if size else []
        self.args += [option] + ([source] if source is not None else []) + [inside]
        self._made.add(inside)


def bwrap_command(settings: Sandbox, mounts: Mounts, argv: Sequence[str], env: dict[str, str]) -> list[str]:
    """The full bubblewrap command line for `argv` with `mounts`."""
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
    for root in python_roots():
        layout.add("--ro-bind", str(root), str(root))
    layout.add("--proc", None, "/proc")
    layout.add("--dev", None, "/dev")
    layout.add("--tmpfs", None, "/tmp", perms="1777", size=settings.tmp_mb << 20)
    layout.add("--tmpfs", None, HOME, perms="0777", size=settings.tmp_mb << 20)
    layout.add("--tmpfs", None, mounts.work, perms="0777", size=settings.work_mb << 20)
    layout.add("--ro-bind", str(INSIDE), PROGRAMS)
    for outside, inside in sorted(mounts.read_only.items(), key=lambda item: item[1]):
        layout.add("--ro-bind", str(outside), inside)
    for outside, inside in mounts.writable.items():
        layout.add("--bind", str(outside), inside)
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", *layout.args,
            "--chdir", mounts.work, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    # bwrap keeps these two capabilities only for setpriv, which drops them and every other.
    args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
             "setpriv", f"--reuid={settings.uid}", f"--regid={settings.uid}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return args + list(argv)


def _limits(settings: Sandbox) -> None:
    """Applied in the child before bubblewrap starts; every process of the sandbox inherits them."""
    for limit, value in ((resource.RLIMIT_AS, settings.memory_mb << 20),
                         (resource.RLIMIT_NPROC, settings.max_processes),
                         (resource.RLIMIT_FSIZE, settings.max_file_mb << 20),
                         (resource.RLIMIT_NOFILE, settings.max_open_files),
                         (resource.RLIMIT_CPU, settings.cpu_seconds),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))


def check_available(settings: Sandbox) -> None:
    """Raise SandboxUnavailable (one line: what to install or enable) unless a sandbox starts here."""
    if settings.unsafe_no_sandbox:
        return
    if not sys.platform.startswith("linux") or shutil.which("bwrap") is None or shutil.which("setpriv") is None:
        raise SandboxUnavailable(f"grading needs a sandbox and bubblewrap (bwrap) was not found: {INSTALL_HINT}")
    mounts = Mounts(work=f"{HOME}/work")
    probe = bwrap_command(settings, mounts, [sys.executable, "-c", "pass"], _environment({}))
    done = subprocess.run(probe, capture_output=True, text=True, preexec_fn=lambda: _limits(settings))
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise SandboxUnavailable(f"grading needs a sandbox and bubblewrap could not start one ({detail}): {INSTALL_HINT}")


@dataclass
class Finished:
    """How a sandboxed run ended: its exit code (negative: killed by that signal), and whether
    the grader killed it at its deadline."""

    returncode: int
    timed_out: bool

    @property
    def signal_name(self) -> str | None:
        code = self.returncode
        # bwrap reports a program killed by signal N as exit code 128 + N.
        number = -code if code < 0 else code - 128 if code > 128 else None
        try:
            return signal.Signals(number).name if number else None
        except ValueError:
            return None

    def reason(self, otherwise: str) -> str:
        """Why the run died, in the student's terms, from the signal that ended it (or `otherwise`)."""
        return ENDED_BY.get(self.signal_name or "", otherwise)


ENDED_BY = {  # the signal that ended a sandboxed run -> what the student and the instructor read
    "SIGXCPU": "it used up its CPU time limit",
    "SIGXFSZ": "it wrote a file larger than the file-size limit",
    "SIGSEGV": "the code crashed Python (segmentation fault)",
    "SIGKILL": "it was killed, most likely for using up the memory",
}


class SandboxedRun:
    """A running sandboxed program with pipes to its standard input and output.

    Use as a context manager: leaving it kills whatever still runs (the whole sandbox).
    """

    def __init__(self, settings: Sandbox, mounts: Mounts, argv: Sequence[str],
                 extra_env: dict[str, str] | None = None):
        self.settings = settings
        self.killed = False
        env = _environment(extra_env or {})
        self._unsafe: _UnsafeLayout | None = None
        if settings.unsafe_no_sandbox:
            self._unsafe = _UnsafeLayout(mounts)
            command, cwd = [self._unsafe.outside(arg) for arg in argv], self._unsafe.outside(mounts.work)
            env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "LANG")},
                   **{key: self._unsafe.outside(value) for key, value in env.items()}}
        else:
            command, cwd = bwrap_command(settings, mounts, argv, env), None
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # Below Python, only bubblewrap and the interpreter write here (the runners send the
        # student's stderr to /dev/null): the grader's log shows its tail when a run fails.
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=cwd, env=env,
            start_new_session=True, preexec_fn=lambda: _limits(settings))

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
        text = self._stderr.read().decode("utf-8", errors="replace")
        return "".join(char if char.isprintable() or char == "\n" else "?" for char in text).strip()

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

    def __enter__(self) -> "SandboxedRun":
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
        """`value` with a leading inside path (of the layout) replaced by where it lies here."""
        for prefix in (HOME, PROGRAMS, SHARED_CACHE, "/tmp"):
            if value == prefix or value.startswith(prefix + "/"):
                return str(self.root / value.lstrip("/"))
        return value

    def close(self) -> None:
        kill_descendants(keep=self._before)
        self._folder.cleanup()

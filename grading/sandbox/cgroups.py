"""Limits per run of submitted code, counted over the run as a whole (Linux control groups).

Resource limits (rlimits) count each process on its own, and only what a process maps: a
System V shared memory segment that was detached, or a file written to a tmpfs, belongs to no
process and escapes them (one run held 6 GB of the host's memory that way). A control group
counts everything charged while its processes ran (their own memory, shared memory and tmpfs
pages, even after they detached or exited), every process they start and their CPU time, and
can be killed as a whole. So each run of student code runs in a cgroup of its own:

    <parent>/<name>/server   the warm sandbox's server process (not limited)
    <parent>/<name>/run      one run of student code at a time (limited, emptied after each run)

`<parent>` is "course-kit" under each hierarchy's root when grading as root, or a cgroup an
administrator delegated to the grading user. Both cgroup versions work, mixed too: each
controller is taken from the v2 hierarchy when it offers it (cgroup.controllers), else from the
v1 hierarchy it is mounted with (/proc/self/mountinfo). The v2 hierarchy, when there is one,
is always used as well: it kills a cgroup at once (cgroup.kill) and counts CPU time (cpu.stat)
even where it holds no controller.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PARENT = "course-kit"
PERIOD_US = 100_000  # CPU bandwidth period; a run gets `cpus` times this per period
KILL_SECONDS = 10.0  # how long killed processes may take to leave a cgroup
HINT = (
    "as root the kit sets up its cgroups itself; as another user ask an administrator for a delegated "
    "cgroup and pass it as the parent (README: Grading as an ordinary user)"
)

REQUIRED = ("memory", "pids")
OPTIONAL = {"cpu": "cpu bandwidth", "cpuacct": "cpu accounting"}  # controller -> what is missing without it
V1_CONTROLLERS = frozenset({"memory", "pids", "cpu", "cpuacct", "freezer"})
V2_ENABLED = ("memory", "pids", "cpu")  # controllers a v2 cgroup enables for its children (cgroup.subtree_control)

# What start_run writes, in order, per (version, controller): file -> value from the RunLimits.
# v1 keeps memory <= memory+swap at every step: lift memsw first, then set both to the same value (no swap).
LIMITS = {
    (1, "memory"): (
        ("memory.memsw.limit_in_bytes", lambda limits: -1),
        ("memory.limit_in_bytes", lambda limits: limits.memory_bytes),
        ("memory.memsw.limit_in_bytes", lambda limits: limits.memory_bytes),
    ),
    (2, "memory"): (("memory.max", lambda limits: limits.memory_bytes), ("memory.swap.max", lambda limits: 0)),
    (1, "pids"): (("pids.max", lambda limits: limits.processes),),
    (2, "pids"): (("pids.max", lambda limits: limits.processes),),
    (1, "cpu"): (
        ("cpu.cfs_period_us", lambda limits: PERIOD_US),
        ("cpu.cfs_quota_us", lambda limits: _quota_us(limits)),
    ),
    (2, "cpu"): (("cpu.max", lambda limits: f"{_quota_us(limits)} {PERIOD_US}"),),
}
ONLY_WHERE_PRESENT = {"memory.memsw.limit_in_bytes", "memory.swap.max"}  # absent without swap accounting

# Counters that usage() reports as a difference from start_run, per (version, controller):
# (name, file, key in a flat-keyed file or "" for a file holding one number, unit of RunUsage per count).
COUNTERS = {
    (1, "memory"): ("oom_kills", "memory.oom_control", "oom_kill", 1),  # Linux 4.13+
    (2, "memory"): ("oom_kills", "memory.events", "oom_kill", 1),
    (1, "pids"): ("limit_hits", "pids.events", "max", 1),
    (2, "pids"): ("limit_hits", "pids.events", "max", 1),
    (1, "cpuacct"): ("cpu_seconds", "cpuacct.usage", "", 1e-9),
    (2, "cpuacct"): ("cpu_seconds", "cpu.stat", "usage_usec", 1e-6),
}
# Highest memory use. A write resets it: in v1 for every reader, in v2 (Linux 6.12+) for reads through
# the descriptor that wrote; older v2 kernels count since the slot was made (5.19+) or not at all.
PEAK = {1: "memory.max_usage_in_bytes", 2: "memory.peak"}


class CgroupsUnavailable(RuntimeError):
    """Memory or processes cannot be limited per run here; the message says what is missing and what to do."""


@dataclass(frozen=True)
class RunLimits:
    """Limits of one run as a whole: memory in bytes (shared memory and tmpfs included, no swap),
    processes and threads at once, and CPU bandwidth (1.0 = one core)."""

    memory_bytes: int
    processes: int
    cpus: float


@dataclass(frozen=True)
class RunUsage:
    """What a run used since start_run, and which limits stopped it."""

    peak_memory_bytes: int
    memory_limit_hit: bool
    process_limit_hit: bool
    cpu_seconds: float


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup hierarchy and the controllers it holds (v2: those its root offers)."""

    mount: Path
    version: int
    controllers: frozenset[str]


@dataclass(frozen=True)
class _Leaves:
    """A slot's folders in one hierarchy and what the slot uses that hierarchy for: controllers,
    plus "kill" (v2 cgroup.kill) or "freezer" (v1) to stop a cgroup's processes at once."""

    version: int
    base: Path
    uses: frozenset[str]


def _quota_us(limits: RunLimits) -> int:
    return max(1000, round(limits.cpus * PERIOD_US))  # the kernel's smallest quota is 1 ms


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, value: object) -> None:
    with open(path, "w") as file:
        file.write(str(value))


def _keyed(text: str, key: str) -> int:
    """The value of `key` in a flat-keyed file ("key value" lines); a whole-file number when key is ""."""
    if not key:
        return int(text.split()[0])
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), field)


def hierarchies() -> list[Hierarchy]:
    """The mounted cgroup hierarchies, v2 first, each once (a hierarchy may be mounted several times)."""
    found, seen = [], set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        tail = fields[fields.index("-") + 1 :]
        fstype, options = tail[0], tail[2].split(",")
        if fstype not in ("cgroup", "cgroup2") or fields[2] in seen:
            continue
        seen.add(fields[2])
        mount = Path(_unescape(fields[4]))
        if fstype == "cgroup2":
            found.append(Hierarchy(mount, 2, frozenset(_read(mount / "cgroup.controllers").split())))
        elif V1_CONTROLLERS & set(options):
            found.append(Hierarchy(mount, 1, V1_CONTROLLERS & frozenset(options)))
    return sorted(found, key=lambda hierarchy: -hierarchy.version)


def _relative(parent: str, mounted: list[Hierarchy]) -> Path:
    """`parent` as a path from a hierarchy's root: a folder under a cgroup mount, or already relative."""
    for hierarchy in sorted(mounted, key=lambda h: -len(str(h.mount))):
        if Path(parent).is_relative_to(hierarchy.mount):
            return Path(parent).relative_to(hierarchy.mount)
    return Path(parent.lstrip("/"))


def _parent_folder(hierarchy: Hierarchy, parent: str, mounted: list[Hierarchy]) -> Path | None:
    """The slot's parent in `hierarchy` if this process may create cgroups there (automatic: may create it)."""
    top = hierarchy.mount if not parent else hierarchy.mount / _relative(parent, mounted)
    if (top / "cgroup.procs").is_file() and os.access(top, os.W_OK):
        return top / DEFAULT_PARENT if not parent else top
    return None


def _unavailable(controller: str, parent: str, detail: str = "") -> CgroupsUnavailable:
    where = f" under {parent!r}" if parent else ""
    return CgroupsUnavailable(f"no writable {controller} controller{where}{detail}: {HINT}")


def _assign(usable: list[Hierarchy], parent: str) -> dict[Hierarchy, set[str]]:
    """What the slot uses each hierarchy for: each controller from v2 when it offers it, else from the
    v1 hierarchy mounted with it; CPU accounting ("cpuacct") and killing from v2 whenever there is one."""
    v2 = next((h for h in usable if h.version == 2), None)
    uses: dict[Hierarchy, set[str]] = {h: set() for h in usable}
    if v2 is not None:
        uses[v2] = (v2.controllers & set(V2_ENABLED)) | {"cpuacct", "kill"}
    for controller in (*REQUIRED, "cpu", "cpuacct", "freezer"):
        if any(controller in used for used in uses.values()):
            continue
        holder = next((h for h in usable if h.version == 1 and controller in h.controllers), None)
        if holder is not None:
            uses[holder].add(controller)
        elif controller in REQUIRED:
            raise _unavailable(controller, parent)
    return {h: used for h, used in uses.items() if used}


def _enable(folders: list[Path], controllers: set[str], parent: str) -> set[str]:
    """Enable v2 `controllers` for the children of each of `folders`; returns those that could not be."""
    failed: set[str] = set()
    for folder in folders:
        for controller in sorted(controllers - failed):
            try:
                _write(folder / "cgroup.subtree_control", f"+{controller}")
            except OSError as error:
                if controller in REQUIRED:
                    detail = f" ({folder}/cgroup.subtree_control: {error.strerror})"
                    raise _unavailable(controller, parent, detail) from None
                failed.add(controller)
    return failed


def _make(folder: Path) -> None:
    try:
        folder.mkdir(exist_ok=True)
    except OSError as error:
        raise CgroupsUnavailable(f"cannot create the cgroup {folder} ({error.strerror}): {HINT}") from None


def _make_leaves(hierarchy: Hierarchy, top: Path, name: str, uses: set[str], parent: str) -> _Leaves:
    """Create "<top>/<name>/{server,run}", enabling the v2 controllers used along the way (from the
    hierarchy's root when the parent is automatic, else from the delegated parent down)."""
    base = top / name
    _make(top)
    if hierarchy.version == 2:
        uses -= _enable([hierarchy.mount, top] if not parent else [top], uses & set(V2_ENABLED), parent)
    _make(base)
    if hierarchy.version == 2:
        uses -= _enable([base], uses & set(V2_ENABLED), parent)
        uses -= set() if (base / "cgroup.kill").exists() else {"kill"}  # Linux 5.14+
    for leaf in ("server", "run"):
        _make(base / leaf)
    return _Leaves(hierarchy.version, base, frozenset(uses))


def slot(name: str, parent: str = "") -> Slot:
    """A worker's server and run cgroups, "<parent>/<name>/{server,run}" in each hierarchy used.

    parent "" is automatic: "course-kit" under each hierarchy's root, which only root may create.
    Otherwise it names a delegated cgroup: a folder under a cgroup mount (say in the v2 hierarchy),
    or a path from each hierarchy's root (v1 delegations are one folder per controller).
    """
    mounted = hierarchies()
    parents = {h: folder for h in mounted if (folder := _parent_folder(h, parent, mounted)) is not None}
    leaves: list[_Leaves] = []
    for hierarchy, uses in _assign(list(parents), parent).items():  # v2 first: with cgroup.kill, no freezer
        if any("kill" in made.uses for made in leaves):
            uses -= {"freezer"}
        if uses:
            leaves.append(_make_leaves(hierarchy, parents[hierarchy], name, uses, parent))
    used = set().union(*(leaf.uses for leaf in leaves))
    return Slot(leaves, ", ".join(what for controller, what in OPTIONAL.items() if controller not in used))


def cpu_seconds_charged(parent: str = "") -> float | None:
    """CPU seconds charged so far to everything under `parent`: every slot's server and runs, those
    already removed included (the kernel keeps their time in their ancestors); None where no
    hierarchy counts CPU or the parent is not there yet. What graded code has cost, for the benchmarks."""
    mounted = hierarchies()
    parents = {h: folder for h in mounted if (folder := _parent_folder(h, parent, mounted)) is not None}
    try:
        assigned = _assign(list(parents), parent)
    except CgroupsUnavailable:
        return None
    for hierarchy, uses in assigned.items():
        if "cpuacct" in uses:
            _, file, key, unit = COUNTERS[hierarchy.version, "cpuacct"]
            try:
                return _keyed(_read(parents[hierarchy] / file), key) * unit
            except FileNotFoundError:
                return None
    return None


class Slot:
    """A worker's pair of cgroups: its warm sandbox's server, and one run of student code at a time."""

    def __init__(self, leaves: list[_Leaves], missing: str):
        self._leaves = leaves
        self.missing = missing
        self.server_dirs = [leaf.base / "server" for leaf in leaves]
        self.run_dirs = [leaf.base / "run" for leaf in leaves]
        self._server_procs = [str(folder / "cgroup.procs") for folder in self.server_dirs]
        self._baseline: dict[str, float] = {}
        self._peak_fd: int | None = None
        self._peak_is_this_runs = False  # the peak was reset at start_run (not on older v2 kernels)
        self._memory_bytes = 0

    def join_server(self) -> None:
        """Move the calling process into the server cgroups (plain system calls: fit for a Popen preexec_fn)."""
        for path in self._server_procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    def start_run(self, limits: RunLimits) -> None:
        """Empty the run cgroups, set `limits` on them, and start the run's counters from zero."""
        if limits.memory_bytes <= 0 or limits.processes <= 0 or limits.cpus <= 0:
            raise ValueError(f"run limits must be positive: {limits}")
        self.kill_run()
        for leaf in self._leaves:
            for controller in leaf.uses:
                for file, value in LIMITS.get((leaf.version, controller), ()):
                    if file not in ONLY_WHERE_PRESENT or (leaf.base / "run" / file).exists():
                        _set_limit(leaf.base / "run" / file, value(limits))
        self._reset_peak()
        self._memory_bytes = limits.memory_bytes
        self._baseline = self._counters()

    def _reset_peak(self) -> None:
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        self._peak_is_this_runs = False
        leaf = next(leaf for leaf in self._leaves if "memory" in leaf.uses)
        path = leaf.base / "run" / PEAK[leaf.version]
        try:
            self._peak_fd = os.open(path, os.O_RDWR)
            os.write(self._peak_fd, b"0")
            self._peak_is_this_runs = True
        except FileNotFoundError:
            return
        except PermissionError:  # v2 before Linux 6.12: read-only, since the cgroup was made
            self._peak_fd = os.open(path, os.O_RDONLY)

    def _counters(self) -> dict[str, float]:
        counts = {"oom_kills": 0.0, "limit_hits": 0.0, "cpu_seconds": 0.0}
        for leaf in self._leaves:
            for controller in leaf.uses:
                if (leaf.version, controller) in COUNTERS:
                    name, file, key, unit = COUNTERS[leaf.version, controller]
                    counts[name] = _keyed(_read(leaf.base / "run" / file), key) * unit
        return counts

    def usage(self) -> RunUsage:
        """What the current (or last) run used since start_run."""
        now = self._counters()
        delta = {name: now[name] - self._baseline.get(name, 0.0) for name in now}
        peak = int(os.pread(self._peak_fd, 64, 0).split()[0]) if self._peak_fd is not None else 0
        # A run held at its limit (reclaiming until it is stopped for time) kills nothing, but its peak
        # is the limit.
        at_limit = self._peak_is_this_runs and peak >= self._memory_bytes
        return RunUsage(
            peak_memory_bytes=peak,
            memory_limit_hit=delta["oom_kills"] > 0 or at_limit,
            process_limit_hit=delta["limit_hits"] > 0,
            cpu_seconds=max(0.0, delta["cpu_seconds"]),
        )

    def run_queue_wait(self) -> float:
        """The time, in seconds, that the threads of the current run have waited for a CPU held by
        other work (the scheduler's run-queue delay, /proc/<tid>/schedstat), added up."""
        leaf = self._leaves[0]
        try:
            threads = _read(leaf.base / "run" / ("tasks" if leaf.version == 1 else "cgroup.threads")).split()
        except OSError:
            return 0.0
        waited = 0
        for thread in threads:
            try:
                waited += int(Path(f"/proc/{thread}/schedstat").read_text().split()[1])
            except (OSError, ValueError, IndexError):
                continue  # it ended meanwhile
        return waited / 1e9

    def kill_run(self) -> None:
        """Kill every process in the run cgroups and wait until they are empty."""
        self._kill("run")

    def _kill(self, leaf_name: str) -> None:
        folders = [leaf.base / leaf_name for leaf in self._leaves]
        for leaf in self._leaves:
            if "kill" in leaf.uses:
                _write(leaf.base / leaf_name / "cgroup.kill", 1)
        frozen = [leaf.base / leaf_name / "freezer.state" for leaf in self._leaves if "freezer" in leaf.uses]
        for state in frozen:  # frozen processes cannot fork while they are being killed
            _write(state, "FROZEN")
            deadline = time.monotonic() + 1.0
            while _read(state).strip() != "FROZEN" and time.monotonic() < deadline:
                time.sleep(0.001)
        _signal_all(folders)
        for state in frozen:  # killed frozen processes die when thawed
            _write(state, "THAWED")
        _wait_empty(folders)

    def close(self) -> None:
        """Kill everything in the slot and remove its cgroups."""
        self._kill("run")
        self._kill("server")
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        for leaf in self._leaves:
            for folder in (leaf.base / "run", leaf.base / "server", leaf.base):
                _remove(folder)


def _set_limit(path: Path, value: object) -> None:
    try:
        _write(path, value)
    except OSError as error:
        # v1 refuses a memory limit below what the cgroup holds; with no process left, that is
        # memory earlier runs left behind (shared memory segments, tmpfs files) where it still exists.
        held = (
            (
                ": the run cgroup still holds more, left by earlier runs (shared memory or tmpfs files that"
                " outlived them); end the sandbox that keeps them"
            )
            if error.errno == errno.EBUSY
            else ""
        )
        raise RuntimeError(f"cannot set {path} to {value} ({error.strerror}){held}") from None


def _pids(folders: list[Path]) -> set[int]:
    pids: set[int] = set()
    for folder in folders:
        pids.update(int(pid) for pid in _read(folder / "cgroup.procs").split())
    return pids


def _signal_all(folders: list[Path]) -> set[int]:
    pids = _pids(folders)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def _wait_empty(folders: list[Path]) -> None:
    """SIGKILL what is left in `folders` until none is left (forks racing the kill included)."""
    deadline, pause = time.monotonic() + KILL_SECONDS, 0.0005
    while pids := _signal_all(folders):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"processes {sorted(pids)[:10]} in {folders[0]} outlived SIGKILL for {KILL_SECONDS:.0f} s"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _remove(folder: Path) -> None:
    """rmdir a cgroup whose processes were killed (they may take a moment to leave)."""
    deadline = time.monotonic() + KILL_SECONDS
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)

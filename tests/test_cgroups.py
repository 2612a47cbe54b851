"""A run of student code is limited as a whole by its cgroup, memory that no process holds included.

Each test runs real processes in real cgroups (`grading.sandbox.cgroups`): the same code once in a
slot's run cgroup, where a limit stops it, and once outside, where it gets further. Processes join
the run cgroup as the sandbox's trusted process does, by writing "0" to each run folder's
cgroup.procs before the code starts. Needs root and a writable memory controller.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grading.sandbox import cgroups
from grading.sandbox.cgroups import CgroupsUnavailable, RunLimits

if os.geteuid() != 0:
    pytest.skip("cgroups are created by root here (run the tests as root)", allow_module_level=True)

MiB = 1 << 20
LIMITS = RunLimits(memory_bytes=64 * MiB, processes=32, cpus=2.0)
CLOCKS_DIFFER = 0.01  # the process's own CPU clock and the cgroup's counter are read apart: seen 1 ms off
IPC_RMID = 0
_names = itertools.count()

SHARED_MEMORY = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
size = int(sys.argv[1]) << 20
shmid = libc.shmget(0, ctypes.c_size_t(size), 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
print(shmid, flush=True)
address = libc.shmat(shmid, None, 0)
ctypes.memset(address, 1, size)
libc.shmdt(ctypes.c_void_p(address))
print("detached", flush=True)
"""

FORK_BOMB = """
import os, sys
bound, (read_end, write_end), started = int(sys.argv[1]), os.pipe(), 0
try:
    while started < bound:
        if os.fork() == 0:  # each child waits for the parent's end (end of file on the pipe)
            os.close(write_end)
            os.read(read_end, 1)
            os._exit(0)
        started += 1
except BlockingIOError:
    pass
print(started)
"""

BREEDERS = """
import os, time
go, start = os.pipe()
def breed():
    os.close(start)
    os.read(go, 1)  # end of file once all four are started: the parent cannot hit the limit first
    while True:
        try:
            if os.fork() == 0:
                os.setsid()
        except OSError:
            time.sleep(0.05)
for _ in range(4):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            breed()
        os._exit(0)
os.close(start)
print("started", flush=True)
time.sleep(60)
"""

BUSY = """
import sys, time
clock = getattr(time, sys.argv[1])  # process_time: spend that much CPU; monotonic: spin that long
end = clock() + float(sys.argv[2])
while clock() < end:
    pass
print(time.process_time())
"""


@pytest.fixture(scope="module", autouse=True)
def course_parent():
    """Skip without a writable memory controller; remove the "course-kit" parents the tests made."""
    before = {h.mount for h in cgroups.hierarchies() if (h.mount / cgroups.DEFAULT_PARENT).exists()}
    try:
        cgroups.slot(f"test-{os.getpid()}-probe").close()
    except CgroupsUnavailable as error:
        pytest.skip(f"needs a writable memory controller: {error}")
    yield
    for hierarchy in cgroups.hierarchies():
        if hierarchy.mount not in before:
            try:
                (hierarchy.mount / cgroups.DEFAULT_PARENT).rmdir()
            except OSError:
                pass  # another slot (a grading worker) uses it


@pytest.fixture
def slot():
    made = cgroups.slot(f"test-{os.getpid()}-{next(_names)}")
    try:
        made.start_run(LIMITS)
        yield made
    finally:
        made.close()


def joining(run_dirs: list[Path]):
    """A preexec_fn that moves the child into `run_dirs`, as the sandbox's trusted process does."""
    paths = [str(folder / "cgroup.procs") for folder in run_dirs]

    def join() -> None:
        for path in paths:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)

    return join


def run(argv: list[str], slot=None) -> subprocess.CompletedProcess:
    """Run `argv` to its end, in `slot`'s run cgroup if given."""
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, preexec_fn=joining(slot.run_dirs) if slot else None
    )


def python(code: str, *args: object, slot=None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-c", code, *map(str, args)], slot)


def remove_segments(*outputs: str) -> None:
    """IPC_RMID every shared memory segment whose id a SHARED_MEMORY run printed first."""
    libc = ctypes.CDLL(None, use_errno=True)
    for output in outputs:
        lines = output.split()
        if lines and lines[0].lstrip("-").isdigit() and int(lines[0]) >= 0:
            libc.shmctl(int(lines[0]), IPC_RMID, None)


def procs(folders: list[Path]) -> set[int]:
    return {int(pid) for folder in folders for pid in (folder / "cgroup.procs").read_text().split()}


def start_breeders(run_dirs: list[Path]) -> subprocess.Popen:
    """BREEDERS in `run_dirs`, once they fill half the process limit."""
    breeders = subprocess.Popen(
        [sys.executable, "-c", BREEDERS], stdout=subprocess.PIPE, text=True, preexec_fn=joining(run_dirs)
    )
    assert select.select([breeders.stdout], [], [], 30)[0] and breeders.stdout.readline() == "started\n"
    deadline = time.monotonic() + 30
    while len(procs(run_dirs)) < LIMITS.processes // 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return breeders


def test_a_shared_memory_segment_larger_than_the_limit_is_oom_killed_with_the_cgroup(slot):
    free = confined = None
    try:
        free = python(SHARED_MEMORY, 128)
        confined = python(SHARED_MEMORY, 128, slot=slot)
    finally:
        remove_segments(*(done.stdout for done in (free, confined) if done))
    assert free.returncode == 0 and "detached" in free.stdout
    assert confined.returncode == -9 and "detached" not in confined.stdout
    usage = slot.usage()
    assert usage.memory_limit_hit and LIMITS.memory_bytes // 2 < usage.peak_memory_bytes <= LIMITS.memory_bytes


def test_shared_memory_a_finished_process_left_behind_still_counts_against_the_run(slot):
    outputs = []
    try:
        for target in (None, slot):
            first, second = python(SHARED_MEMORY, 40, slot=target), python(SHARED_MEMORY, 40, slot=target)
            outputs += [first.stdout, second.stdout]
            if target is None:
                assert first.returncode == second.returncode == 0
            else:
                assert first.returncode == 0 and second.returncode == -9
                assert slot.usage().memory_limit_hit and slot.usage().peak_memory_bytes > 40 * MiB
    finally:
        remove_segments(*outputs)


def test_a_run_held_at_its_memory_limit_counts_as_having_hit_it_before_anything_is_killed(slot):
    memory = next(
        folder
        for folder in slot.run_dirs
        if (folder / "memory.oom_control").exists() or (folder / "memory.max").exists()
    )
    if not (memory / "memory.oom_control").exists():
        pytest.skip("v1 only: v2 cannot hold a process at its limit without the OOM killer")
    (memory / "memory.oom_control").write_text("1")  # the OOM killer off: the writer waits at the limit
    stalled = subprocess.Popen([sys.executable, "-c", "bytearray(128 << 20)"], preexec_fn=joining(slot.run_dirs))
    try:
        deadline = time.monotonic() + 30
        while not slot.usage().memory_limit_hit and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slot.usage().memory_limit_hit and stalled.poll() is None
    finally:
        slot.kill_run()
        (memory / "memory.oom_control").write_text("0")
        stalled.wait(timeout=30)
    assert stalled.returncode == -9


def test_memory_a_run_leaves_behind_counts_into_the_next_and_bars_a_lower_limit(slot):
    if not any((folder / "memory.limit_in_bytes").exists() for folder in slot.run_dirs):
        pytest.skip("v1 only: v2 takes a lower memory.max and reclaims or OOM-kills at the next charge")
    left = python(SHARED_MEMORY, 40, slot=slot)
    try:
        slot.start_run(LIMITS)
        assert slot.usage().peak_memory_bytes > 40 * MiB
        with pytest.raises(RuntimeError, match="left by earlier runs") as raised:
            slot.start_run(RunLimits(32 * MiB, LIMITS.processes, LIMITS.cpus))
        assert "\n" not in str(raised.value)
    finally:
        remove_segments(left.stdout)
    slot.start_run(RunLimits(32 * MiB, LIMITS.processes, LIMITS.cpus))


def test_pages_written_to_a_tmpfs_file_count_against_the_run(slot, tmp_path):
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    # A tmpfs in a private mount namespace: it goes with the namespace, whatever the test's end.
    script = (
        f"mount -t tmpfs -o size=512m course-kit-test {mount} && "
        f"head -c {128 * MiB} /dev/zero > {mount}/file && echo written"
    )
    free = run(["unshare", "-m", "sh", "-c", script])
    confined = run(["unshare", "-m", "sh", "-c", script], slot)
    assert free.returncode == 0 and "written" in free.stdout, free.stderr
    assert confined.returncode != 0 and "written" not in confined.stdout
    assert slot.usage().memory_limit_hit


def test_a_fork_bomb_stops_at_the_process_limit(slot):
    bound = 2 * LIMITS.processes  # without the cgroup it stops here, not at the machine's limit
    assert int(python(FORK_BOMB, bound).stdout) == bound
    assert not slot.usage().process_limit_hit
    assert int(python(FORK_BOMB, bound, slot=slot).stdout) == LIMITS.processes - 1
    assert slot.usage().process_limit_hit


def test_kill_run_empties_the_run_cgroup_of_processes_that_fork_and_leave_their_session(slot):
    breeders = start_breeders(slot.run_dirs)
    try:
        assert len(procs(slot.run_dirs)) >= LIMITS.processes // 2
        slot.kill_run()
        assert procs(slot.run_dirs) == set() and breeders.wait(5) == -9
    finally:
        breeders.kill()
        breeders.wait()


def test_kill_run_leaves_the_server_alone_and_close_removes_the_whole_slot():
    made = cgroups.slot(f"test-{os.getpid()}-{next(_names)}")
    server = subprocess.Popen(["sleep", "60"], preexec_fn=made.join_server)
    try:
        made.start_run(LIMITS)
        made.kill_run()
        assert server.poll() is None and procs(made.server_dirs) == {server.pid}
    finally:
        made.close()
        server.wait(5)
    assert server.returncode == -9
    assert not any(folder.parent.exists() for folder in made.run_dirs + made.server_dirs)


def test_counters_start_again_from_zero_at_start_run(slot):
    python(FORK_BOMB, 2 * LIMITS.processes, slot=slot)
    python("bytearray(100 << 20)", slot=slot)
    python(BUSY, "process_time", 0.3, slot=slot)
    spent = slot.usage()
    assert spent.memory_limit_hit and spent.process_limit_hit and spent.cpu_seconds > 0.3
    slot.start_run(LIMITS)
    fresh = slot.usage()
    assert not fresh.memory_limit_hit and not fresh.process_limit_hit
    assert fresh.cpu_seconds < 0.01 and fresh.peak_memory_bytes < 8 * MiB


def test_cpu_seconds_of_a_busy_loop_is_about_its_cpu_time(slot):
    busy = subprocess.Popen(
        [sys.executable, "-c", BUSY, "process_time", "1.0"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=joining(slot.run_dirs),
    )
    time.sleep(0.5)
    meanwhile = slot.usage().cpu_seconds
    own = float(busy.communicate(timeout=30)[0])
    total = slot.usage().cpu_seconds
    assert 0 < meanwhile < total
    assert own - CLOCKS_DIFFER <= total < own + 0.3  # plus the interpreter's start before it measures


def test_the_parent_keeps_the_cpu_time_of_a_slot_that_was_closed():
    before = cgroups.cpu_seconds_charged()
    made = cgroups.slot(f"test-{os.getpid()}-{next(_names)}")
    try:
        made.start_run(LIMITS)
        own = float(python(BUSY, "process_time", 0.5, slot=made).stdout)
    finally:
        made.close()
    assert not any(made_folder.exists() for made_folder in made.run_dirs)
    assert cgroups.cpu_seconds_charged() >= before + own - CLOCKS_DIFFER  # other slots may run meanwhile


def test_cpu_bandwidth_holds_a_busy_loop_to_its_share_of_a_core(slot):
    slot.start_run(RunLimits(LIMITS.memory_bytes, LIMITS.processes, cpus=0.1))
    confined = float(python(BUSY, "monotonic", 1.0, slot=slot).stdout)
    free = float(python(BUSY, "monotonic", 1.0).stdout)
    assert confined < 0.2 and free > 2 * confined
    assert slot.usage().cpu_seconds == pytest.approx(confined, abs=0.15)


def test_on_v1_hierarchies_alone_the_freezer_kills_and_cpuacct_counts(tmp_path):
    """A v1-only delegation (one folder per controller, none in the v2 hierarchy) works as well."""
    name = f"course-kit-test-v1-{os.getpid()}"
    parents = [
        h.mount / name
        for h in cgroups.hierarchies()
        if h.version == 1 and h.controllers & {"memory", "pids", "freezer", "cpu", "cpuacct"}
    ]
    if not {"freezer", "cpuacct"} <= set().union(*(h.controllers for h in cgroups.hierarchies() if h.version == 1)):
        pytest.skip("needs v1 freezer and cpuacct hierarchies")
    for parent in parents:
        parent.mkdir()
    try:
        made = cgroups.slot("slot", parent=name)
        try:
            assert {folder.parent for folder in made.run_dirs} == {parent / "slot" for parent in parents}
            made.start_run(LIMITS)
            breeders = start_breeders(made.run_dirs)
            made.kill_run()
            assert procs(made.run_dirs) == set() and breeders.wait(5) == -9
            made.start_run(LIMITS)
            own = float(python(BUSY, "process_time", 0.3, slot=made).stdout)
            assert own - CLOCKS_DIFFER <= made.usage().cpu_seconds < own + 0.3
        finally:
            made.close()
    finally:
        for parent in parents:
            parent.rmdir()


@pytest.mark.parametrize("parent", ["/nonexistent/grader", "{tmp_path}"], ids=["missing folder", "plain folder"])
def test_a_parent_that_is_not_a_cgroup_gives_a_one_line_error(parent, tmp_path):
    with pytest.raises(CgroupsUnavailable) as raised:
        cgroups.slot("slot", parent=parent.format(tmp_path=tmp_path))
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("no writable memory controller under") and "delegated cgroup" in message


def test_a_v2_parent_without_the_memory_controller_gives_the_same_error():
    v2 = next((h for h in cgroups.hierarchies() if h.version == 2 and "memory" not in h.controllers), None)
    if v2 is None:
        pytest.skip("the v2 hierarchy here holds the memory controller")
    parent = v2.mount / f"course-kit-test-v2-{os.getpid()}"
    parent.mkdir()
    try:
        with pytest.raises(CgroupsUnavailable, match="^no writable memory controller under"):
            cgroups.slot("slot", parent=str(parent))
    finally:
        parent.rmdir()

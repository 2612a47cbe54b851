"""Each student graded as if alone: nothing one run of submitted code makes reaches the next run,
another worker's runs, or the host, and each run is counted as a whole against its limits.

Every channel is tried twice with the same code: by two runs of one warm sandbox (as a worker
serves two students one after another), where the second must find nothing; and by two plain
processes of this machine (no sandbox), where the second finds what the first left, which shows
the test would see a leak. Run as root, like the grader on these machines.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grading.execution.notebook_run import TimeLimits, follow_notebook
from grading.sandbox.launch import HOME, Mounts, Sandbox
from grading.sandbox.protocol import OutputLimits
from grading.sandbox.warm import WarmSandbox, missing_guarantees

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(os.geteuid() != 0, reason="compares the sandbox with plain processes of root"),
]

LAB = f"{HOME}/lab"
KEY = 0x4C3A9  # the System V key both sides use
MARK = "course-isolation-test"


def run(sandbox: WarmSandbox, code: str, cell_timeout: float = 20) -> tuple[str, dict]:
    """Run `code` as one notebook cell; its text (errors as 'ename: evalue') and the run's result."""
    request = {"cells": [{"index": 0, "source": code}], "cell_timeout": cell_timeout}
    started = sandbox.run("notebook", json.dumps(request).encode())
    try:
        result = follow_notebook(
            started, request, OutputLimits(), TimeLimits(cell_timeout, 3, 120), "a test", logging.getLogger("test")
        )
    finally:
        started.close()
    outputs = result["cells"].get("0", {}).get("outputs", [])
    text = "".join(
        o.get("text", "") if o["output_type"] == "stream" else f"{o.get('ename')}: {o.get('evalue')}\n" for o in outputs
    )
    return text, result


def on_host(code: str, **kwargs) -> subprocess.CompletedProcess:
    """The same code as a plain process of this machine, without any sandbox."""
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run([sys.executable, "-c", code], text=True, timeout=60, **streams)


@pytest.fixture(scope="module")
def warm():
    sandbox = WarmSandbox(Sandbox(), Mounts(work=LAB), {})
    yield sandbox
    sandbox.stop()


# ---------------------------------------------------------------------------------------------
# Channels between two runs: what the first leaves, what the second looks for
# ---------------------------------------------------------------------------------------------

LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmat.restype = ctypes.c_void_p\n"

CHANNELS = {
    "sysv-shared-memory": (
        LIBC + f"sid = libc.shmget({KEY}, 4096, 0o1000 | 0o666)\naddr = libc.shmat(sid, None, 0)\n"
        "ctypes.memmove(addr, b'hidden cases', 12)\nlibc.shmdt(ctypes.c_void_p(addr))\n",
        LIBC + f"sid = libc.shmget({KEY}, 4096, 0)\n"
        "print(('FOUND', ctypes.string_at(libc.shmat(sid, None, 0), 12)) if sid >= 0 else 'none')\n",
        f"import ctypes; l = ctypes.CDLL(None); l.shmctl(l.shmget({KEY}, 0, 0), 0, None)",
    ),
    "sysv-semaphores": (
        LIBC + f"libc.semget({KEY}, 1, 0o1000 | 0o666)\n",
        LIBC + f"print('FOUND' if libc.semget({KEY}, 1, 0) >= 0 else 'none')\n",
        f"import ctypes; l = ctypes.CDLL(None); l.semctl(l.semget({KEY}, 0, 0), 0, 0)",
    ),
    "sysv-message-queue": (
        LIBC + f"libc.msgget({KEY}, 0o1000 | 0o666)\n",
        LIBC + f"print('FOUND' if libc.msgget({KEY}, 0) >= 0 else 'none')\n",
        f"import ctypes; l = ctypes.CDLL(None); l.msgctl(l.msgget({KEY}, 0), 0, None)",
    ),
    "posix-message-queue": (
        "import ctypes\nrt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
        f"print(rt.mq_open(b'/{MARK}', 0o100 | 0o2, 0o666, None))\n",
        "import ctypes\nrt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
        f"print('FOUND' if rt.mq_open(b'/{MARK}', 0o2) >= 0 else 'none')\n",
        f"import ctypes; ctypes.CDLL('librt.so.1').mq_unlink(b'/{MARK}')",
    ),
    "abstract-unix-socket": (
        "import os, socket, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        s = socket.socket(socket.AF_UNIX)\n        s.bind('\\0{MARK}')\n        s.listen()\n"
        "        while True:\n            c, _ = s.accept()\n            c.sendall(b'hidden cases')\n            c.close()\n"
        "    os._exit(0)\ntime.sleep(0.5)\n",
        f"import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect('\\0{MARK}')\n"
        "    print('FOUND', s.recv(100))\nexcept OSError:\n    print('none')\n",
        f"import subprocess; subprocess.run(['pkill', '-f', 'socket.*{MARK}'])",
    ),
    "dev-shm": (
        f"open('/dev/shm/{MARK}', 'w').write('hidden cases')\n",
        f"import os\nprint('FOUND' if os.path.exists('/dev/shm/{MARK}') else 'none')\n",
        f"import os; os.path.exists('/dev/shm/{MARK}') and os.remove('/dev/shm/{MARK}')",
    ),
    "standard-error": (
        "import os\nos.write(2, b'hidden cases')\n",
        "import os\ntry:\n    os.lseek(2, 0, 0)\n    data = os.read(2, 100)\nexcept OSError:\n    data = b''\n"
        "print('FOUND' if b'hidden' in data else 'none')\n",
        "",
    ),
}
FOLDERS = {"tmp": "/tmp", "home": HOME, "lab folder": LAB}


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_what_one_run_leaves_in_a_channel_the_next_run_does_not_find(warm, channel):
    leave, find, _ = CHANNELS[channel]
    run(warm, leave)
    found, _ = run(warm, find)
    assert found.strip() == "none", found


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_without_a_sandbox_the_same_channel_carries_it(channel, tmp_path):
    leave, find, clean = CHANNELS[channel]
    shared_stderr = open(tmp_path / "stderr", "w+b")  # one file for both, as a server's standard error was
    try:
        on_host(leave, stdout=subprocess.DEVNULL, stderr=shared_stderr)
        found = subprocess.run(
            [sys.executable, "-c", find], stdout=subprocess.PIPE, stderr=shared_stderr, text=True, timeout=60
        ).stdout
        assert "FOUND" in found, found
    finally:
        shared_stderr.close()
        if clean:
            on_host(clean)


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_a_file_written_in_a_writable_folder_is_gone_for_the_next_run(warm, folder):
    path = f"{FOLDERS[folder]}/{MARK}"
    wrote, _ = run(warm, f"open({path!r}, 'w').write('x')\nprint('written')")
    found, _ = run(warm, f"import os\nprint(os.path.exists({path!r}))")
    assert wrote == "written\n" and found == "False\n", (wrote, found)


def test_a_process_left_behind_is_not_there_for_the_next_run(warm):
    run(
        warm,
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(30)\n"
        "    os._exit(0)\nprint('left')",
    )
    found, _ = run(warm, "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    assert found == "[1, 2]\n", found  # the run's supervisor and its kernel


# ---------------------------------------------------------------------------------------------
# Other workers' sandboxes
# ---------------------------------------------------------------------------------------------

KILL_EVERYTHING = (
    "import os, signal\nfor pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
    "    try:\n        os.kill(pid, signal.SIGKILL) if pid != os.getpid() else None\n"
    "    except OSError:\n        pass\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"
    "print('done')"
)


def test_a_run_cannot_signal_another_workers_run():
    import threading

    first = WarmSandbox(Sandbox(uid=65534), Mounts(work=LAB), {}, preload=False)
    second = WarmSandbox(Sandbox(uid=65533), Mounts(work=LAB), {}, preload=False)
    try:
        victim: list[str] = []
        waiting = threading.Thread(
            target=lambda: victim.append(run(second, "import time\ntime.sleep(4)\nprint('alive')")[0])
        )
        waiting.start()
        time.sleep(1.5)
        killer, _ = run(first, KILL_EVERYTHING)
        waiting.join()
        assert killer == "done\n" and victim == ["alive\n"], (killer, victim)
    finally:
        first.stop()
        second.stop()


def test_without_a_sandbox_the_same_code_kills_a_classmates_process():
    victim = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep(30)  # {MARK}-victim"])
    try:
        killer = (
            f"import os, signal\nfor pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
            f"    try:\n        if b'{MARK}-victim' in open(f'/proc/{{pid}}/cmdline', 'rb').read():\n"
            f"            os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
        )
        on_host(killer)
        assert victim.wait(10) == -9
    finally:
        victim.kill()


# ---------------------------------------------------------------------------------------------
# Limits that count the whole run
# ---------------------------------------------------------------------------------------------

needs_cgroups = pytest.mark.skipif(missing_guarantees(Sandbox()) != "", reason="no cgroup controllers usable here")

DETACHED_SEGMENTS = LIBC + textwrap.dedent("""
    size = 64 << 20
    made = 0
    for _ in range({count}):
        sid = libc.shmget(0, size, 0o1000 | 0o600)
        addr = libc.shmat(sid, None, 0)
        ctypes.memset(addr, 1, size)
        libc.shmdt(ctypes.c_void_p(addr))
        made += 1
    print('made', made)
""")


def _segments() -> set[str]:
    """The ids of the System V shared memory segments of this machine's IPC namespace."""
    return {line.split()[1] for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:] if line.strip()}


@needs_cgroups
def test_detached_shared_memory_counts_against_the_runs_memory_and_dies_with_it():
    sandbox = WarmSandbox(Sandbox(memory_mb=512), Mounts(work=LAB), {}, preload=False)
    before = _segments()
    try:
        text, result = run(sandbox, DETACHED_SEGMENTS.format(count=16))  # 1 GiB in a 512 MiB sandbox
    finally:
        sandbox.stop()
    assert "made" not in text
    assert {"kind": "memory_limit", "cell": 0} in result["incidents"], result
    assert _segments() == before


def test_without_a_sandbox_detached_shared_memory_outlives_its_process():
    before = _segments()
    done = on_host(DETACHED_SEGMENTS.format(count=2))
    left = _segments() - before
    for segment in left:
        subprocess.run(["ipcrm", "-m", segment], capture_output=True)
    assert done.stdout.strip() == "made 2" and len(left) == 2


THREADS = (
    "import threading, time\nstarted = 0\ntry:\n    for _ in range({count}):\n"
    "        threading.Thread(target=time.sleep, args=(3,), daemon=True).start()\n        started += 1\n"
    "except RuntimeError:\n    pass\nprint('started', started)"
)


@needs_cgroups
def test_processes_and_threads_are_counted_for_the_whole_run():
    sandbox = WarmSandbox(Sandbox(max_processes=40), Mounts(work=LAB), {}, preload=False)
    try:
        text, result = run(sandbox, THREADS.format(count=100))
    finally:
        sandbox.stop()
    assert int(text.split()[-1]) < 40
    assert {"kind": "process_limit", "cell": None} in result["incidents"], result


def test_without_a_sandbox_the_same_threads_all_start():
    assert on_host(THREADS.format(count=100)).stdout.strip() == "started 100"


BUSY_PROCESSES = (
    "import multiprocessing, time\n"
    "def spin():\n    end = time.process_time() + 1.5\n    while time.process_time() < end:\n        pass\n"
    "workers = [multiprocessing.get_context('fork').Process(target=spin) for _ in range(3)]\n"
    "[w.start() for w in workers]\n[w.join() for w in workers]\nprint('finished', [w.exitcode for w in workers])"
)


@needs_cgroups
def test_cpu_time_is_counted_for_the_whole_run():
    sandbox = WarmSandbox(Sandbox(cpu_seconds=2, cpus=2.0), Mounts(work=LAB), {}, preload=False)
    try:
        text, result = run(sandbox, BUSY_PROCESSES)
    finally:
        sandbox.stop()
    assert "finished" not in text
    assert any(item["kind"] == "cpu_limit" for item in result["incidents"]), result


def test_without_a_sandbox_each_process_stays_under_a_per_process_cpu_limit():
    done = on_host("import resource\nresource.setrlimit(resource.RLIMIT_CPU, (2, 2))\n" + BUSY_PROCESSES)
    assert done.stdout.strip() == "finished [0, 0, 0]"


# ---------------------------------------------------------------------------------------------
# A small kernel surface, and an environment wherever the course lives
# ---------------------------------------------------------------------------------------------

NEW_USER_NAMESPACE = (
    "import subprocess\ndone = subprocess.run(['unshare', '-Ur', 'id', '-u'], capture_output=True, text=True)\n"
    "print(done.returncode, done.stdout.strip())"
)


def test_student_code_cannot_make_a_user_namespace(warm):
    text, _ = run(warm, NEW_USER_NAMESPACE)
    assert text.split()[0] != "0", text


def test_without_a_sandbox_the_same_code_makes_one():
    assert on_host(NEW_USER_NAMESPACE).stdout.split() == ["0", "0"]


def test_student_code_has_no_capabilities_and_a_seccomp_filter(warm):
    text, _ = run(
        warm,
        "status = dict(line.split(':\\t') for line in open('/proc/self/status').read().splitlines()"
        " if ':\\t' in line)\nprint(status['CapEff'], status['CapBnd'], status['NoNewPrivs'],"
        " status['Seccomp'])",
    )
    assert text.split() == ["0000000000000000", "0000000000000000", "1", "2"], text


def test_an_environment_under_tmp_on_a_path_with_spaces_is_seen_by_every_run(tmp_path):
    """The kit's environment bound at '/tmp/.../course kit/.venv' (a private mount namespace of the
    test): the grader started from there grades a run that imports numpy and writes to /tmp."""
    venv = Path(sys.prefix)
    place = Path("/tmp") / f"{MARK} {os.getpid()}" / "course kit" / ".venv"
    script = textwrap.dedent("""
        import json, logging
        from grading.execution.notebook_run import TimeLimits, follow_notebook
        from grading.sandbox.launch import HOME, Mounts, Sandbox, python_roots
        from grading.sandbox.protocol import OutputLimits
        from grading.sandbox.warm import ColdRun, probe_run
        assert str(python_roots()[-1]).startswith('/tmp/'), python_roots()
        probe_run(Sandbox())
        request = {"cells": [{"index": 0, "source": "import numpy, sys\\nopen('/tmp/x', 'w').write('1')\\nprint(sys.prefix, numpy.arange(3).sum())"}]}
        run = ColdRun(Sandbox(), Mounts(work=HOME + '/lab'), 'notebook', json.dumps(request).encode(), {})
        result = follow_notebook(run, request, OutputLimits(), TimeLimits(30, 3, 60), 'x', logging.getLogger())
        run.close()
        print(result['cells']['0']['outputs'][0]['text'], end='')
    """)
    command = (
        f"mkdir -p {shlex.quote(str(place))} && mount --bind {shlex.quote(str(venv))} {shlex.quote(str(place))}"
        f" && {shlex.quote(str(place / 'bin' / 'python'))} -c {shlex.quote(script)}"
    )
    try:
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    finally:
        shutil.rmtree(place.parent.parent, ignore_errors=True)
    assert done.stdout == f"{place} 3\n", done.stderr[-2000:]

"""The sandbox that every run of submitted code goes through, each defence shown against the
same code run without it (as root, like the grader on these machines). The code runs as a
notebook cell, in a sandbox of its own, exactly as a student's would."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

from grading.errors import SandboxUnavailable
from grading.execution.notebook_run import TimeLimits, follow_notebook
from grading.sandbox.launch import HOME, Mounts, Sandbox
from grading.sandbox.protocol import OutputLimits
from grading.sandbox.warm import ColdRun, check_available

SAFE, UNSAFE = Sandbox(), Sandbox(unsafe_no_sandbox=True)


def run_python(
    code: str, settings: Sandbox = SAFE, mounts: Mounts | None = None, timeout: float = 30
) -> tuple[str, int]:
    """Run `code` as one notebook cell in a sandbox of its own; the cell's text output and the run's exit code."""
    mounts = mounts or Mounts(work=f"{HOME}/lab")
    request = {"cells": [{"index": 0, "source": code}], "cell_timeout": timeout}
    run = ColdRun(settings, mounts, "notebook", json.dumps(request).encode(), {})
    try:
        result = follow_notebook(
            run, request, OutputLimits(), TimeLimits(timeout, 3, timeout + 10), "a test", logging.getLogger("test")
        )
        finished = run.wait(timeout)
    finally:
        run.close()
    outputs = result["cells"].get("0", {}).get("outputs", [])
    text = "".join(
        o.get("text", "") if o["output_type"] == "stream" else f"{o.get('ename')}: {o.get('evalue')}\n" for o in outputs
    )
    return text, finished.returncode


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    """A file of the grader's (like the gradebook), readable only by root."""
    path = tmp_path_factory.mktemp("grader") / "gradebook.db"
    path.write_text("grades of the class")
    path.chmod(0o600)
    return path


@pytest.mark.sandbox
def test_the_sandbox_runs_the_code_as_an_unprivileged_user():
    output, _ = run_python("import os; print(os.getuid(), os.geteuid(), os.getgid())")
    assert output.split() == [str(SAFE.uid)] * 3
    assert run_python("import os; print(os.getuid())", UNSAFE)[0].split() == ["0"]


@pytest.mark.sandbox
def test_the_grader_files_are_not_there(secret_file):
    code = f"import os; print(os.path.exists({str(secret_file)!r}), os.path.exists({str(secret_file.parent)!r}))"
    assert run_python(code)[0].split() == ["False", "False"]
    assert run_python(code, UNSAFE)[0].split() == ["True", "True"]


@pytest.mark.sandbox
def test_the_kit_cannot_be_imported():
    code = "import importlib.util; print(importlib.util.find_spec('grading') is None)"
    assert run_python(code)[0].strip() == "True"


@pytest.mark.sandbox
def test_the_python_environment_is_read_only():
    site = next(p for p in sys.path if p.endswith("site-packages"))
    code = f"open({site + '/planted.pth'!r}, 'w').write('import os')"
    output, code_ = run_python(f"try:\n    {code}\n    print('written')\nexcept OSError as e:\n    print(e.errno)")
    assert output.strip() in ("30", "13")  # read-only file system, or permission denied
    assert not Path(site, "planted.pth").exists()


@pytest.fixture
def loopback_server():
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


@pytest.mark.sandbox
def test_there_is_no_network(loopback_server):
    port, accepted = loopback_server
    code = (
        f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2); print('connected')\n"
        "except OSError as e:\n    print('refused')"
    )
    assert run_python(code)[0].strip() == "refused"
    assert accepted == []
    assert run_python(code, UNSAFE)[0].strip() == "connected"


@pytest.mark.sandbox
def test_the_grader_cannot_be_seen_or_signalled():
    code = (
        "import os, signal\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "try:\n    os.kill(os.getppid(), signal.SIGKILL); print('killed')\nexcept OSError as e:\n    print('denied')"
    )
    output, _ = run_python(code)
    pids, outcome = output.strip().splitlines()
    assert len(eval(pids)) <= 3  # bubblewrap's init, setpriv's successor, this interpreter
    assert outcome == "denied"


@pytest.mark.sandbox
def test_processes_left_behind_are_stopped_with_the_sandbox(tmp_path):
    marker = tmp_path / "later"
    os.chmod(tmp_path, 0o777)
    mounts = Mounts(work=f"{HOME}/lab", writable={tmp_path: "/home/student/out"})
    code = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(2); open('/home/student/out/later', 'w').write('still here')\n    os._exit(0)\n"
        "print('left')"
    )
    assert run_python(code, mounts=mounts)[0].strip() == "left"
    threading.Event().wait(3)
    assert not marker.exists()


@pytest.mark.sandbox
def test_memory_is_limited():
    """With a cgroup the run is killed when it uses the memory up; without one, the allocation fails."""
    code = "try:\n    b = bytearray(6 * 1024**3); print('allocated')\nexcept MemoryError:\n    print('MemoryError')"
    output = run_python(code, Sandbox(memory_mb=1024))[0].strip()
    assert output == "MemoryError" or "it used up the memory of its sandbox" in output, output


@pytest.mark.sandbox
def test_the_working_folder_is_small_and_discarded(tmp_path):
    code = (
        "import os\ntry:\n    f = open('big', 'wb')\n    [f.write(b'x' * 2**20) for _ in range(64)]\n    f.close(); print('written')\n"
        "except OSError as e:\n    print(e.errno)"
    )
    output, _ = run_python(code, Sandbox(work_mb=16))
    assert output.strip() in ("28", "27")  # no space left, or file too large


@pytest.mark.sandbox
def test_the_environment_is_clean(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "do-not-leak-4711")
    output, _ = run_python("import os; print(sorted(os.environ))")
    assert "GRADER_SECRET_TOKEN" not in output
    assert "do-not-leak-4711" not in run_python("import os; print(os.environ)")[0]


def test_a_missing_bubblewrap_is_one_line_saying_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match=r"apt-get install bubblewrap.*--unsafe-no-sandbox"):
        check_available(Sandbox())


def test_unsafe_mode_needs_no_bubblewrap(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    check_available(Sandbox(unsafe_no_sandbox=True))


def test_a_sandbox_that_cannot_start_is_named_by_its_real_cause(monkeypatch, tmp_path):
    """bubblewrap is there but cannot make its namespaces: the line says so, not 'install bubblewrap'."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(SandboxUnavailable, match=r"did not start: bwrap: setting up uid map: Permission denied$"):
        check_available(Sandbox())

"""The course's hub, started as `make hub` starts it (`python -m grading hub`), on a copy of the
course, for the hub tests: real local accounts, JupyterHub with its proxy from npm, nbgrader's
exchange, formgrader and the grading service. One per module; stopped with everything it started."""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grading.course import KIT_ROOT, Course
from grading.hub.site import PROXY, instructors_only

PREFIX = "kith-"  # the test's accounts: kith-instructor, kith-student1, ...


@dataclass
class Hub:
    course: Course
    site: Path
    url: str
    process: subprocess.Popen
    log: Path
    passwords: dict[str, str]

    @property
    def instructor(self) -> str:
        return PREFIX + "instructor"

    def student(self, number: int) -> str:
        return f"{PREFIX}student{number}"

    def printed(self) -> str:
        return self.log.read_text(errors="replace")


def free_ports(count: int) -> int:
    """A port such that it and the `count - 1` after it are free on loopback."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count < 65000 and all(port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free ports on loopback")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def install_proxy() -> None:
    """The hub's proxy from npm, as `make hub` installs it."""
    if not PROXY.is_file():
        subprocess.run(["make", "-s", str(PROXY.relative_to(KIT_ROOT))], cwd=KIT_ROOT, check=True, timeout=600)


def remove_accounts() -> None:
    """The test's accounts and homes, left by an earlier run or made by this one."""
    for account in pwd.getpwall():
        if account.pw_name.startswith(PREFIX):
            subprocess.run(["pkill", "-KILL", "-u", account.pw_name], check=False, capture_output=True)
            subprocess.run(["userdel", "--remove", account.pw_name], check=False, capture_output=True)


def start_hub(course: Course, students: int = 3) -> Hub:
    install_proxy()
    remove_accounts()
    site = Path(tempfile.mkdtemp(prefix="kit-hub-", dir="/tmp"))
    log = site.with_suffix(".log")
    port = free_ports(5)
    command = [sys.executable, "-m", "grading", "hub", "--course", str(course.root), "--site", str(site)]
    command += ["--port", str(port), "--students", str(students), "--account-prefix", PREFIX]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 240
    while "JupyterHub is now running" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_processes(process)
            raise RuntimeError(f"the hub did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    passwords = json.loads((site / "state" / "accounts.json").read_text())
    return Hub(course, site, f"http://127.0.0.1:{port}", process, log, passwords)


def stop_processes(process: subprocess.Popen) -> None:
    """The hub, its proxy, its services and every server it spawned (each in the hub's session)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=40)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    subprocess.run(["pkill", "-KILL", "-s", str(process.pid)], check=False)
    remove_accounts()


def kept_modes(course: Course) -> dict[Path, int]:
    """The modes of what the hub locks, to give them back after the test."""
    return {path: path.stat().st_mode & 0o7777 for path in instructors_only(course) if not path.is_symlink()}


def readable_as(account: str, path: Path) -> bool:
    """Whether `account` can read `path` (a folder: list it), as any of its processes could."""
    command = ["ls", str(path)] if path.is_dir() else ["head", "-c", "1", str(path)]
    return subprocess.run(["runuser", "-u", account, "--", *command], capture_output=True).returncode == 0

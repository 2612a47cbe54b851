"""The student's Jupyter server, started as `make student` starts it (grading/student.py), for the tests."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from grading.student import Workspace, jupyter_command, prepare, student_environment

SERVER_START_TIMEOUT = 60  # seconds


@dataclass
class StudentServer:
    workspace: Workspace
    process: subprocess.Popen
    port: int
    token: str
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the server shuts its kernels down
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_student_server(lab: str, work_root: Path, base_env: dict[str, str] | None = None) -> StudentServer:
    """`make student LAB=<lab>` with --work-dir `work_root`, without a browser, on a free loopback
    port with a token: the same preparation, command, folder and environment."""
    workspace = prepare(lab, work_root)
    port, token = free_port(), secrets.token_hex(16)
    log = work_root / f"jupyter-{lab}.log"
    args = [
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(
            jupyter_command(workspace, args),
            cwd=workspace.folder,
            env=student_environment(workspace, base_env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return answering(StudentServer(workspace, process, port, token, log), "the student's JupyterLab")


def answering(server, who: str):
    """`server` once its API answers; a RuntimeError with its log's end if it exits or stays silent."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{who} exited with {server.process.returncode}:\n{server.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{who} did not answer in {SERVER_START_TIMEOUT} s:\n{server.log_text()[-3000:]}")
        time.sleep(0.25)

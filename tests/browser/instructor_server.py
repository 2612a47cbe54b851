"""The instructor's Jupyter server, for the tests: `jupyter lab` started from a course's root, where
nbgrader finds `nbgrader_config.py` and its formgrader extension serves `/formgrader`."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .student_server import answering, free_port


@dataclass
class InstructorServer:
    course_root: Path
    process: subprocess.Popen
    port: int
    token: str
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def log_in(self, page) -> None:
        """Give the page's browser the server's login cookie, as opening the URL with the token that
        `jupyter lab` prints does. (A token on a formgrader page itself is not enough: formgrader's
        pages set the cookie for their own path only, and their API calls go unauthenticated.)"""
        page.goto(self.url("api/status"))

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# Variables that would point Jupyter, IPython or the kit elsewhere than the instructor's home and course.
DROPPED_VARIABLES = (
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR",
    "IPYTHONDIR",
    "JUPYTERLAB_SETTINGS_DIR",
    "JUPYTERLAB_WORKSPACES_DIR",
)
DROPPED_PREFIXES = ("COURSE_",)


def instructor_environment(home: Path) -> dict[str, str]:
    """This process's environment as an instructor's shell after `source .venv/bin/activate`
    (the kit's Python environment first on PATH), with `home` as HOME: Jupyter's and IPython's
    folders are there, so that neither the tester's own ~/.jupyter (which the grader fingerprints)
    nor anything JupyterLab saves plays a part outside the test."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in DROPPED_VARIABLES and not name.startswith(DROPPED_PREFIXES)
    }
    env["HOME"] = str(home)
    env["PATH"] = os.pathsep.join(
        [bin_dir, *(part for part in env.get("PATH", "").split(os.pathsep) if part != bin_dir)]
    )
    env["VIRTUAL_ENV"] = str(Path(sys.prefix))
    return env


def start_instructor_server(course_root: Path, home: Path) -> InstructorServer:
    """`python -m grading formgrader` (JupyterLab) in `course_root` with `instructor_environment(home)`, without a browser, on a
    free loopback port with a token; its log (stdout and stderr) goes to `home`/jupyter.log."""
    home.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    log = home / "jupyter.log"
    command = [
        sys.executable,
        "-m",
        "grading",
        "formgrader",
        "--course",
        str(course_root),
        "--",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]  # the kit's command: as root too
    with open(log, "w") as out:
        process = subprocess.Popen(
            command,
            cwd=course_root,
            env=instructor_environment(home),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return answering(InstructorServer(course_root, process, port, token, log), "the instructor's JupyterLab")

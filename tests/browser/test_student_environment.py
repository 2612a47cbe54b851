"""`make student LAB=<lab>` (grading/student.py): the student's copy of a lab and the Jupyter it
opens, checked without a browser: what is copied and kept, the Jupyter configuration (nbgrader's
instructor tools off, the student's on), the server's log and the environment of its kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from grading.course import KIT_ROOT, Course
from grading.student import CONFIG_FOLDER, describe, prepare, student_environment

from .student_server import start_student_server

LAB = "anomaly_detection"
INSTRUCTOR_PLUGINS = (
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
)


def released_files(lab: str) -> set[str]:
    release = Course().releases / lab
    return {
        str(path.relative_to(release))
        for path in release.rglob("*")
        if path.is_file() and not {"__pycache__", ".ipynb_checkpoints", ".autoencoder_cache"} & set(path.parts)
    }


def test_the_release_is_copied_outside_the_course(tmp_path):
    workspace = prepare(LAB, tmp_path)
    assert workspace.folder == tmp_path / LAB and workspace.config_dir == tmp_path / CONFIG_FOLDER
    copied = {str(path.relative_to(workspace.folder)) for path in workspace.folder.rglob("*") if path.is_file()}
    assert copied == released_files(LAB) == set(workspace.copied)
    assert {"anomaly_detection.ipynb", "utils.py", "public_tests.py", "selfcheck.py"} <= copied
    assert any(name.startswith("data/") for name in copied)
    assert not workspace.kept
    assert (workspace.config_dir / "labconfig" / "page_config.json").is_file()


def test_a_students_work_is_never_overwritten(tmp_path):
    first = prepare(LAB, tmp_path)
    first.notebook.write_text("my work")
    (first.folder / "utils.py").unlink()
    (first.folder / "public_tests.py").write_text("# changed\n")
    again = prepare(LAB, tmp_path)
    assert first.notebook.read_text() == "my work"
    assert again.copied == ["utils.py"]
    assert "anomaly_detection.ipynb" in again.kept and again.kept_differing == ["public_tests.py"]
    said = "\n".join(describe(again))
    assert "kept what was already there, not overwritten" in said and "to start again from the release" in said
    assert "public_tests.py" in said


def test_a_work_folder_inside_the_course_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "grading.student", LAB, "--work-dir", str(KIT_ROOT / "assignments")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "inside the course kit" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "grading.student", "no_such_lab", "--work-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "no lab 'no_such_lab'" in result.stderr and LAB in result.stderr


@pytest.mark.slow
def test_only_the_students_tools_are_on(tmp_path):
    workspace = prepare(LAB, tmp_path)
    env = student_environment(workspace)
    jupyter = str(Path(sys.executable).parent / "jupyter")
    labextensions = subprocess.run(
        [jupyter, "labextension", "list"], env=env, capture_output=True, text=True, cwd=workspace.folder
    )
    listed = labextensions.stdout + labextensions.stderr
    disabled = listed.split("Disabled extensions:")[1].split()
    assert sorted(disabled) == sorted(INSTRUCTOR_PLUGINS), listed
    assert "@jupyter/nbgrader v" in listed  # validate-assignment and assignment-list stay
    # The server side (formgrader and course_list not loaded) is read from the server's log below.


def _run_in_kernel(connection_file: Path, code: str) -> str:
    """Run `code` in a kernel the server started; what it printed."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        printed = []
        client.execute_interactive(
            code,
            timeout=60,
            output_hook=lambda message: (
                printed.append(message["content"].get("text", "")) if message["msg_type"] == "stream" else None
            ),
        )
        return "".join(printed)
    finally:
        client.stop_channels()


@pytest.mark.slow
def test_the_server_starts_clean_and_its_kernels_see_nothing_of_the_grader(tmp_path):
    from jupyter_core.paths import jupyter_runtime_dir

    grader_env = {**os.environ, "COURSE_KIT_CACHE_DIR": str(KIT_ROOT / "records" / "cache"), "MPLBACKEND": "Agg"}
    server = start_student_server(LAB, tmp_path, base_env=grader_env)
    try:
        request = urllib.request.Request(
            server.url("api/kernels"), data=b"{}", method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            kernel = json.load(response)
        seen = _run_in_kernel(
            Path(jupyter_runtime_dir()) / f"kernel-{kernel['id']}.json",
            (
                "import os, matplotlib, IPython\n"
                "print(os.environ.get('COURSE_KIT_CACHE_DIR'), os.environ.get('JUPYTER_CONFIG_DIR'), os.getcwd())\n"
                "print(IPython.paths.get_ipython_dir(), matplotlib.get_backend())"
            ),
        )
        cache, config_dir, cwd, ipython_dir, backend = seen.split()
        assert cache == "None", "the student's kernel sees the grader's cache folder"
        assert config_dir == str(tmp_path / CONFIG_FOLDER) and cwd == str(tmp_path / LAB)
        assert ipython_dir == str(tmp_path / ".ipython")
        assert "inline" in backend, f"figures would not show inline: backend {backend}"
        log = server.log_text()
    finally:
        server.stop()
    assert not [line for line in log.splitlines() if line.startswith(("[E", "[C", "[W"))], log
    assert "Traceback" not in log and "formgrader" not in log and "course_list" not in log, log
    for kept in ("nbgrader.server_extensions.validate_assignment", "nbgrader.server_extensions.assignment_list"):
        assert f"{kept} | extension was successfully loaded" in log, log
    assert f"Serving notebooks from local directory: {tmp_path / LAB}" in log

"""The student's environment (`make student`), started as `grading/student.py` starts it, and a
headless Chromium (Debian's `chromium`, driven by playwright) to use it as a student does.

Tests marked `browser` need chromium and the `playwright` package (the kit's test extras); they are
skipped with the reason when either is missing. `pytest -m "not browser"` leaves them out.
Screenshots of every step go to build/screenshots/<test>/ (git-ignored; the run names the folder).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grading.course import KIT_ROOT

from .student_server import StudentServer, start_student_server

SCREENSHOTS = KIT_ROOT / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


_taken: list[Path] = []  # screenshot folders of this run


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _taken:
        terminalreporter.write_line(
            f"browser tests: screenshots of each step in {SCREENSHOTS}/ ({', '.join(folder.name for folder in _taken)})"
        )


# ---------------------------------------------------------------------------------------------
# The student's Jupyter server (student_server.py)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def student_server(tmp_path_factory):
    """student_server(lab): the student environment of that lab, in a temporary work folder,
    started the first time it is asked for and stopped at the end of the module."""
    started: dict[str, StudentServer] = {}

    def get(lab: str) -> StudentServer:
        if lab not in started:
            started[lab] = start_student_server(lab, tmp_path_factory.mktemp(f"course-work-{lab}"))
        return started[lab]

    yield get
    for server in started.values():
        server.stop()


# ---------------------------------------------------------------------------------------------
# Chromium
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Debian's, never a downloaded one), or a skip saying what is missing."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(request):
    """screenshots(page, name): save the page to build/screenshots/<test name>/NN-name.png."""
    folder = SCREENSHOTS / request.node.name.replace("[", "-").replace("]", "")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _taken.append(folder)
    count = [0]

    def take(page, name: str) -> Path:
        count[0] += 1
        path = folder / f"{count[0]:02d}-{name}.png"
        page.screenshot(path=str(path))
        return path

    take.folder = folder
    return take


# ---------------------------------------------------------------------------------------------
# The instructor's Jupyter server (instructor_server.py)
# ---------------------------------------------------------------------------------------------

from .instructor_server import InstructorServer, start_instructor_server  # noqa: E402


@pytest.fixture(scope="module")
def instructor_server():
    """instructor_server(course_root, home): `jupyter lab` started in that course with that HOME,
    the first time it is asked for, and stopped at the end of the module."""
    started: dict[Path, InstructorServer] = {}

    def get(course_root: Path, home: Path) -> InstructorServer:
        if course_root not in started:
            started[course_root] = start_instructor_server(course_root, home)
        return started[course_root]

    yield get
    for server in started.values():
        server.stop()

"""The instructor's path in a real browser, following the README's "For instructors" section.

A scratch copy of the course (`copy_course`, the grading folder's exchange created as `make setup`
creates it) gets a small class of the first lab: `correct` (the corpus entry `correct_vectorised`),
`wrong` (`less_or_equal`: select_threshold flags p <= epsilon) and `unreadable` (a file that is not
a notebook). The README's commands run once, in that course, from an instructor's shell (the kit's
environment first on PATH, a home of the test's own): the roster import, then what `make grade`
runs. Then headless Chromium opens formgrader in the instructor's `jupyter lab` (started in the
course root, no kernel), the feedback pages and the class report, as the instructor and students
would. Screenshots of every step: build/screenshots/<test>/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("playwright", reason="the playwright package is not installed: pip install -e '.[test]'")
from playwright.sync_api import FrameLocator  # noqa: E402

from grading.cli import copy_course  # noqa: E402
from grading.course import KIT_ROOT, Course  # noqa: E402
from grading.sample_class import BASE_ENTRY, CORPUS, fill_answers, read_entry, released_notebook, write_submission  # noqa: E402

from .instructor_server import instructor_environment  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

LAB = "anomaly_detection"
ROSTER = {"correct": ("Ada", "Lovelace"), "wrong": ("Alan", "Turing"), "unreadable": ("Grace", "Hopper")}
SCORES = {"correct": "20 / 20", "wrong": "10 / 20", "unreadable": "0 / 20"}
WRONG_ENTRY = "less_or_equal"
UNREADABLE_REASON = "anomaly_detection.ipynb is not valid notebook JSON"
WRONG_VERDICT = "select_threshold is not correct yet"
WRONG_HINT = "Did you flag anomalies with p_val <= epsilon instead of p_val < epsilon?"
HIDDEN_MARKS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "hidden_tests")
COMMAND_TIMEOUT = 300  # seconds for one grading command (about 10 s each on 2 cores)


@dataclass
class InstructorCourse:
    course: Course
    home: Path
    outputs: dict[str, subprocess.CompletedProcess]

    def feedback_page(self, student: str) -> Path:
        return self.course.feedback / student / LAB / f"{LAB}.html"

    @property
    def report_page(self) -> Path:
        return self.course.reports / f"{LAB}.html"


def run(course: Course, home: Path, *command: str) -> subprocess.CompletedProcess:
    """One of the README's commands, typed in the course root of an instructor's shell."""
    return subprocess.run(
        list(command),
        cwd=course.root,
        env=instructor_environment(home),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def grading_command(course: Course, *args: str) -> list[str]:
    """`python -m grading <args>` for this course. The kit's commands work on the kit's root unless
    told `--course`, wherever they are typed, and `make grade` has no such option: in a copy of the
    course, `--course` is the way to run what `make grade` runs."""
    return ["python", "-m", "grading", *args, "--course", str(course.root)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> InstructorCourse:
    """The small class, graded once by the README's commands."""
    scratch = tmp_path_factory.mktemp("instructor")
    course = copy_course(Course(), scratch / "course")
    home = scratch / "home"
    home.mkdir()
    (course.root / "records" / "exchange").mkdir(parents=True)  # `make setup`: mkdir -p records/exchange
    release = released_notebook(course, LAB)
    base = read_entry(CORPUS / LAB / f"{BASE_ENTRY}.py")
    mistake = read_entry(CORPUS / LAB / f"{WRONG_ENTRY}.py")
    write_submission(course, LAB, "correct", fill_answers(release, base.cells))
    write_submission(course, LAB, "wrong", fill_answers(release, {**base.cells, **mistake.cells}))
    write_submission(course, LAB, "unreadable", "These are my answers: mu = mean, var = variance.\n")
    roster = course.root / "roster.csv"
    roster.write_text(
        "id,first_name,last_name,email\n"
        + "".join(f"{student},{first},{last},{student}@example.org\n" for student, (first, last) in ROSTER.items())
    )
    outputs = {"roster": run(course, home, "nbgrader", "db", "student", "import", "roster.csv")}
    for name, args in (("autograde", ("autograde", LAB)), ("feedback", ("feedback", LAB)), ("export", ("export",))):
        outputs[name] = run(course, home, *grading_command(course, *args))
    for name, done in outputs.items():
        assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return InstructorCourse(course, home, outputs)


@pytest.fixture(scope="module")
def formgrader(graded, instructor_server):
    """The instructor's `jupyter lab`, started in the graded course's root."""
    return instructor_server(graded.course.root, graded.home)


@pytest.fixture
def page(chromium):
    """A page of its own, with the errors its scripts report (console errors, uncaught exceptions)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def rows(where, table: str) -> list[list[str]]:
    """The text of each cell of each body row of `table` (a selector), in `where` (a page or a frame locator)."""
    return (
        where.locator(table)
        .first.locator("tbody tr")
        .evaluate_all("rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))")
    )


def report_table_selector(heading: str) -> str:
    """The class report's first table after the <h2> starting with `heading`."""
    return f"xpath=//h2[starts-with(normalize-space(.), '{heading}')]/following-sibling::table[1]"


def report_table(page, heading: str) -> list[list[str]]:
    """The body rows of the class report's table under `heading`."""
    return rows(page, report_table_selector(heading))


def machine_paths(graded: InstructorCourse) -> list[str]:
    """Absolute paths of the grading machine that no feedback page may show."""
    paths = {
        str(graded.course.root),
        os.path.realpath(graded.course.root),
        str(graded.home),
        str(KIT_ROOT),
        sys.prefix,
        os.path.realpath(sys.prefix),
    }
    return sorted(paths)


def open_formgrader(page, server, path: str) -> None:
    """A formgrader page, in a browser logged in to the instructor's server."""
    server.log_in(page)
    page.goto(f"{server.base_url}/{path}")


def open_formgrader_in_lab(page, server, shoot) -> FrameLocator:
    """JupyterLab in the course root, then Nbgrader > Formgrader, as an instructor opens it; the
    formgrader frame of the tab it opens."""
    page.goto(server.url("lab"))
    page.wait_for_selector(".jp-LabShell", timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Nbgrader$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Formgrader$")).click()
    frame = page.frame_locator(".jp-MainAreaWidget iframe").first
    frame.locator("td", has_text=re.compile(rf"^{LAB}$")).wait_for()
    shoot(page, "formgrader-in-jupyterlab")
    return frame


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------


def test_autograde_ends_with_the_class_table(graded):
    """README: "The autograde step grades each student on their own, shows progress, and ends with
    the class table"."""
    out = graded.outputs["autograde"].stdout
    assert "anomaly_detection: 3 submissions, mean 10.0/20" in out
    table = {line.split()[0]: line for line in out.splitlines()[-3:]}
    assert re.match(r"correct\s+20\s+20\s+-\s*$", table["correct"])
    assert re.match(r"wrong\s+10\s+20\s+test_select_threshold\s*$", table["wrong"])
    assert re.match(
        rf"unreadable\s+0\s+20\s+test_estimate_gaussian, test_select_threshold\s+{UNREADABLE_REASON}",
        table["unreadable"],
    )


# ---------------------------------------------------------------------------------------------
# Formgrader
# ---------------------------------------------------------------------------------------------


def test_formgrader_opens_from_jupyterlabs_nbgrader_menu(formgrader, page, screenshots):
    frame = open_formgrader_in_lab(page, formgrader, screenshots)
    assignments = {row[0]: row for row in rows(frame, "table")}
    assert set(assignments) == set(Course().labs())
    assert assignments[LAB][8] == "3"  # "# Submissions"
    assert frame.locator("#warning-exchange").count() == 0


def test_formgrader_lists_every_student_graded_with_a_score(formgrader, page, screenshots):
    open_formgrader(page, formgrader, f"formgrader/manage_submissions/{LAB}")
    page.wait_for_function("document.querySelectorAll('table tbody tr td.status span').length === 3")
    screenshots(page, "manage-submissions")
    listed = {row[1]: (row[0], row[3], row[4]) for row in rows(page, "table")}
    assert listed == {
        student: (f"{last}, {first}", "graded", SCORES[student]) for student, (first, last) in ROSTER.items()
    }
    assert "needs autograding" not in page.inner_text("body")
    assert page.errors == []


def test_formgrader_gradebook_shows_failed_tests_and_no_manual_grading(formgrader, page, screenshots):
    open_formgrader(page, formgrader, f"formgrader/gradebook/{LAB}/{LAB}")
    page.wait_for_function(
        "[...document.querySelectorAll('table tbody td.score')].filter(td => td.innerText.trim()).length === 3"
    )
    page.get_by_text("Show All Names").click()
    screenshots(page, "gradebook")
    # columns: reveal, name, overall, code, written, task, needs manual grade, tests failed, flagged
    found = {
        row[1]: (row[2], row[6], page.locator("table tbody tr").nth(index).locator("td.tests-failed span").count() > 0)
        for index, row in enumerate(rows(page, "table"))
    }
    assert found == {
        f"{ROSTER[student][1]}, {ROSTER[student][0]}": (SCORES[student], "", student != "correct") for student in ROSTER
    }
    page.get_by_role("link", name="Turing, Alan").click()
    page.wait_for_selector(".cell", timeout=60_000)
    verdict = page.get_by_text(WRONG_VERDICT).first
    verdict.scroll_into_view_if_needed()
    screenshots(page, "wrong-submission-in-formgrader")
    assert verdict.is_visible()


def test_formgrader_warns_of_no_missing_exchange(graded, formgrader, page, screenshots):
    open_formgrader(page, formgrader, "formgrader")
    page.wait_for_selector("td >> text=timeseries_autoencoder")
    screenshots(page, "manage-assignments")
    assert page.locator("#warning-exchange").count() == 0
    log = formgrader.log_text()
    assert "Unwritable directory" not in log
    assert not [line for line in log.splitlines() if re.match(r"\[[EC] ", line)], log[-3000:]


def test_formgrader_log_has_no_serialisation_warning(formgrader, page):
    open_formgrader(page, formgrader, "formgrader")
    page.wait_for_selector("td >> text=timeseries_autoencoder")
    assert "Formgrader config is not serializable" not in formgrader.log_text()


# ---------------------------------------------------------------------------------------------
# Feedback pages, as students open them
# ---------------------------------------------------------------------------------------------


def test_the_wrong_students_feedback_says_what_was_wrong(graded, page, screenshots):
    page.goto(graded.feedback_page("wrong").as_uri())
    screenshots(page, "top")
    assert "Score: 10 / 20" in " ".join(page.inner_text("body").split()[:20])
    page.get_by_role("link", name=re.compile("Exercise 2: select_threshold")).first.click()
    verdict = page.get_by_text(WRONG_VERDICT).first
    verdict.scroll_into_view_if_needed()
    screenshots(page, "what-was-wrong")
    assert verdict.is_visible()
    text = page.inner_text("body")
    assert WRONG_HINT in text
    assert text.count(WRONG_VERDICT) == 1  # only the failing exercise
    content = page.content()
    assert not [mark for mark in HIDDEN_MARKS if mark in content]
    assert not [path for path in machine_paths(graded) if path in content]
    assert page.errors == []


def test_the_unreadable_students_feedback_says_what_happened(graded, page, screenshots):
    page.goto(graded.feedback_page("unreadable").as_uri())
    screenshots(page, "top")
    assert "Score: 0 / 20" in " ".join(page.inner_text("body").split()[:20])
    page.get_by_role("link", name=re.compile("Exercise 1: estimate_gaussian")).first.click()
    reason = page.get_by_text(f"This submission could not be graded: {UNREADABLE_REASON}").first
    reason.scroll_into_view_if_needed()
    screenshots(page, "what-happened")
    assert reason.is_visible()
    content = page.content()
    assert not [path for path in machine_paths(graded) if path in content]
    assert page.errors == []


# ---------------------------------------------------------------------------------------------
# The class report
# ---------------------------------------------------------------------------------------------


def test_the_class_report_shows_its_histogram_and_tables(graded, page, screenshots):
    """README: "Open records/reports/<lab>.html to see the class at a glance"."""
    page.goto(graded.report_page.as_uri())
    histogram = page.locator("img[alt='histogram of the scores']")
    histogram.scroll_into_view_if_needed()
    screenshots(page, "histogram")
    assert histogram.evaluate("img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0")
    assert "3 submissions, mean 10.0/20" in page.inner_text("body")
    exercises = {row[0]: (row[1], row[2], row[3]) for row in report_table(page, "Exercises")}
    assert exercises == {"test_estimate_gaussian": ("10", "2/3", "67%"), "test_select_threshold": ("10", "1/3", "33%")}
    failures = report_table(page, "Most common failures")
    assert [(row[0], row[2], row[3]) for row in failures] == [("test_select_threshold", "1", "wrong")]
    page.locator(report_table_selector("Submissions with a note")).evaluate(
        "table => table.scrollIntoView({block: 'center'})"
    )
    screenshots(page, "notes")
    notes = report_table(page, "Submissions with a note")
    assert [row[:3] for row in notes] == [["unreadable", "0/20", "not graded"]]
    assert notes[0][3].startswith(UNREADABLE_REASON)
    assert page.errors == []


# ---------------------------------------------------------------------------------------------
# Grading again (last: these change the class's files)
# ---------------------------------------------------------------------------------------------


def test_grading_while_formgrader_is_open_in_jupyterlab(graded, formgrader, page, screenshots):
    open_formgrader_in_lab(page, formgrader, screenshots)
    workspaces = graded.home / ".jupyter" / "lab" / "workspaces"

    def saved() -> dict[str, int]:
        return {path.name: path.stat().st_mtime_ns for path in workspaces.glob("*")} if workspaces.is_dir() else {}

    before = saved()
    grading = subprocess.Popen(
        grading_command(graded.course, "autograde", LAB, "--force"),
        cwd=graded.course.root,
        env=instructor_environment(graded.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    file_browser = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab").first
    while grading.poll() is None:  # the instructor goes on working: shows and hides the file browser
        file_browser.click()
        page.wait_for_timeout(500)
    _, err = grading.communicate()
    screenshots(page, "after-grading")
    if saved() == before:
        pytest.skip("JupyterLab saved no workspace while the class was graded: nothing to show")
    assert grading.returncode == 0, err


def test_regrading_one_student_keeps_the_class_report_of_the_class(graded, page, screenshots):
    done = run(graded.course, graded.home, *grading_command(graded.course, "autograde", LAB, "wrong"))
    assert done.returncode == 0, done.stderr
    page.goto(graded.report_page.as_uri())
    screenshots(page, "report-after-regrading-one")
    assert "3 submissions, mean 10.0/20" in page.inner_text("body")


def test_stopping_the_formgrader_command_stops_jupyterlab_and_leaves_nothing_running(tmp_path):
    import signal

    from .instructor_server import start_instructor_server

    course = copy_course(Course(), tmp_path / "course")
    server = start_instructor_server(course.root, tmp_path / "home")
    session = server.process.pid  # started in a session of its own
    server.process.send_signal(signal.SIGTERM)  # as a supervisor stops it
    server.process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(session, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    pytest.fail("a process of the formgrader command's session still runs after the command was stopped")

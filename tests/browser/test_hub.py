"""The course on its JupyterHub (`make hub`), used as its people use it, in headless Chromium.

One hub for the module (`tests/browser/hub.py`), on a copy of the course with one graded attempt
per lab: three students log in with their passwords, fetch the first lab from the Assignment
List, hand in a solved lab, a typical mistake and a late one, and read their score and feedback
through *Fetch Feedback*; a second submission is refused; the instructor finds every submission
in formgrader and the queue on the live page; the exports for Canvas and Moodle hold the rows.
A student's account cannot read the course, the hub's secrets or another student's work.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from grading.cli import copy_course
from grading.course import KIT_ROOT
from grading.sample_class import BASE_ENTRY, corpus, fill_answers

from .conftest import SCREENSHOTS
from .hub import kept_modes, readable_as, start_hub, stop_processes

LAB = "anomaly_detection"
COURSE_ID = "anomaly-detection-course"
pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.hub]


@pytest.fixture(scope="module")
def hub(course_template, tmp_path_factory):
    course = copy_course(course_template, tmp_path_factory.mktemp("hub") / "course")
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write("\nc.AttemptPolicy.attempts = 1\nc.ExecuteInSandbox.timeout = 10\n")
    modes = kept_modes(course)
    started = start_hub(course)
    yield started
    stop_processes(started.process)
    for path, mode in modes.items():
        path.chmod(mode)
    shutil.rmtree(started.site, ignore_errors=True)


def log_in(chromium, hub, name: str):
    page = chromium.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", hub.passwords[name])
    page.click("#login_submit")
    return page


def nbgrader_menu(page) -> list[str]:
    """Open JupyterLab's Nbgrader menu; its items."""
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    items = page.locator(".lm-Menu-itemLabel:visible")
    items.first.wait_for(timeout=30_000)
    return items.all_inner_texts()


def open_assignment_list(page) -> None:
    nbgrader_menu(page)
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    page.wait_for_selector("#released_assignments_list_loading", state="hidden", timeout=60_000)


def button(page, listing: str):
    row = page.locator(f"#{listing} .list_item", has=page.locator(".item_name", has_text=LAB)).first
    return row.locator(".item_status button").first


def fetch_lab(page) -> None:
    fetch = button(page, "released_assignments_list")
    fetch.wait_for(timeout=60_000)
    assert fetch.inner_text() == "Fetch"
    fetch.click()
    button(page, "fetched_assignments_list").filter(has_text="Submit").wait_for(timeout=60_000)


def save_answers(student: str, entry: str) -> None:
    """The student's answers, saved over the fetched notebook in their home, as their account."""
    entries = {e.name: e for e in corpus(LAB)}
    path = Path("/home") / student / LAB / f"{LAB}.ipynb"
    notebook = fill_answers(nbformat.read(path, as_version=4), {**entries[BASE_ENTRY].cells, **entries[entry].cells})
    account = os.stat(path.parent)
    path.write_text(nbformat.writes(notebook))
    os.chown(path, account.st_uid, account.st_gid)


def submit(page) -> float:
    button(page, "fetched_assignments_list").click()
    button(page, "submitted_assignments_list").filter(has_text="Fetch Feedback").wait_for(timeout=60_000)
    return time.monotonic()


def fetch_feedback(page, student: str, timeout: float = 120) -> str:
    """Refresh the list until the newest submission's feedback is there, fetch it, and read it."""
    newest = page.locator("#submitted_assignments_list .nested_list_item").last
    deadline = time.monotonic() + timeout
    while "feedback available to fetch" not in newest.inner_text():
        assert time.monotonic() < deadline, f"no feedback for {student} within {timeout:.0f} s"
        page.click("#refresh_assignments_list")
        page.wait_for_timeout(1000)
    button(page, "submitted_assignments_list").click()
    newest.filter(has_text="view feedback").wait_for(timeout=60_000)
    pages = sorted((Path("/home") / student / LAB / "feedback").glob(f"*/{LAB}.html"))
    return pages[-1].read_text()


@dataclass
class HandedIn:
    """What the three students saw: each one's feedback page, the seconds from their submission to
    its feedback, and the refusal of a second submission."""

    feedback: dict[str, str]
    waited: dict[str, float]
    refusal: str
    menu: list[str]  # a student's Nbgrader menu


@pytest.fixture(scope="module")
def handed_in(hub, chromium) -> HandedIn:
    """Three students fetch the lab, hand in a solved one, a typical mistake and a late one (the
    due date passes between the second and the third), and fetch their feedback; then the first
    tries a second submission."""
    shots = SCREENSHOTS / "test_hub"
    shots.mkdir(parents=True, exist_ok=True)
    solved, mistaken, late = hub.student(1), hub.student(2), hub.student(3)
    pages = {student: log_in(chromium, hub, student) for student in (solved, mistaken, late)}
    menu = nbgrader_menu(pages[solved])
    pages[solved].keyboard.press("Escape")
    for page in pages.values():
        open_assignment_list(page)
        fetch_lab(page)
    pages[solved].screenshot(path=str(shots / "01-fetched.png"))
    save_answers(solved, BASE_ENTRY)
    save_answers(mistaken, "grid_one_short")
    save_answers(late, BASE_ENTRY)
    handed = {solved: submit(pages[solved]), mistaken: submit(pages[mistaken])}
    with Gradebook(f"sqlite:///{hub.course.records / 'gradebook.db'}", COURSE_ID) as gradebook:
        gradebook.update_or_create_assignment(LAB, duedate=datetime.now(timezone.utc).replace(tzinfo=None))
    handed[late] = submit(pages[late])
    feedback, waited = {}, {}
    for student, page in pages.items():
        feedback[student] = fetch_feedback(page, student)
        waited[student] = time.monotonic() - handed[student]
    pages[late].screenshot(path=str(shots / "02-feedback-fetched.png"))
    print("submission to feedback:", {student: f"{seconds:.0f} s" for student, seconds in waited.items()})

    again = pages[solved]
    button(again, "fetched_assignments_list").click()
    dialog = again.locator(".jp-Dialog")
    dialog.wait_for(timeout=60_000)
    again.screenshot(path=str(shots / "03-second-attempt-refused.png"))
    return HandedIn(feedback, waited, dialog.inner_text(), menu)


def test_hub_students_read_their_score_and_feedback_within_two_minutes_of_handing_in(hub, handed_in):
    solved, mistaken, late = hub.student(1), hub.student(2), hub.student(3)
    assert all(seconds < 120 for seconds in handed_in.waited.values()), handed_in.waited
    assert "Score: <b>20 / 20</b>" in handed_in.feedback[solved]
    assert "Score: <b>20 / 20</b>" not in handed_in.feedback[mistaken]
    assert "Score: <b>" in handed_in.feedback[mistaken]
    assert "late</b>" in handed_in.feedback[late] and "late</b>" not in handed_in.feedback[solved]
    assert "Attempt 1 of 1 (late); 0 left. This attempt is the one that counts." in handed_in.feedback[late]


def test_hub_students_see_nbgraders_assignment_list_and_nothing_of_the_instructors(handed_in):
    assert handed_in.menu == ["Assignment List"]


def test_hub_a_submission_past_the_attempt_limit_is_refused_saying_why(handed_in):
    assert "\nNot submitted: all 1 graded attempts of anomaly_detection are used.\n" in handed_in.refusal


def test_hub_instructor_sees_every_submission_in_formgrader_and_the_queue_on_the_live_page(
    hub, handed_in, chromium, screenshots
):
    page = log_in(chromium, hub, hub.instructor)
    assert nbgrader_menu(page) == ["Course List"]
    page.locator(".lm-Menu-itemLabel", has_text="Course List").click()
    link = page.locator(f"a >> text={COURSE_ID}")
    link.wait_for(timeout=60_000)
    screenshots(page, "course-list")
    assert f"/services/{COURSE_ID}/" in link.get_attribute("href")
    page.goto(f"{hub.url}/services/{COURSE_ID}/formgrader/manage_submissions/{LAB}")
    for number in (1, 2, 3):
        page.wait_for_selector(f"td >> text={hub.student(number)}", timeout=60_000)
    screenshots(page, "formgrader-submissions")
    page.goto(f"{hub.url}/services/grading/")
    live = page.locator("body").inner_text()
    screenshots(page, "live-page")
    assert "3 submitted, 3 graded, 0 waiting" in live

    student = log_in(chromium, hub, hub.student(1))
    student.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    for service in ("grading", f"{COURSE_ID}/formgrader"):
        response = student.goto(f"{hub.url}/services/{service}/")
        assert response.status == 403, service


def test_hub_exports_for_canvas_and_moodle_hold_the_graded_students(hub, handed_in):
    for platform in ("canvas", "moodle"):
        done = subprocess.run(
            [sys.executable, "-m", "grading", "export", "--for", platform, "--course", str(hub.course.root)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    with open(hub.course.records / "grades-canvas.csv") as file:
        canvas = {row["SIS Login ID"]: row for row in csv.DictReader(file)}
    assert {hub.student(n) for n in (1, 2, 3)} <= set(canvas)
    assert float(canvas[hub.student(1)][LAB]) == 20.0 > float(canvas[hub.student(2)][LAB])
    with open(hub.course.records / "grades-moodle.csv") as file:
        moodle = {row["Username"]: row for row in csv.DictReader(file)}
    assert float(moodle[hub.student(3)][f"{LAB} (Real)"]) == 20.0


def test_hub_a_students_account_reads_nothing_of_the_course_the_hub_or_other_students(hub):
    student, other = hub.student(1), hub.student(2)
    exchange = hub.site / "exchange" / COURSE_ID
    secrets = [
        hub.course.solutions / LAB / f"{LAB}.ipynb",
        hub.course.records / "gradebook.db",
        hub.course.records / "submitted",
        hub.course.records / "feedback",
        KIT_ROOT / "grading" / "verdicts" / "hidden_tests" / f"{LAB}.py",
        KIT_ROOT / "grading" / "corpus" / LAB / f"{BASE_ENTRY}.py",
        hub.site / "state" / "accounts.json",
        hub.site / "state" / "jupyterhub_cookie_secret",
        Path("/home") / other,
        exchange / "inbound",
        exchange / "feedback",
    ]
    assert [path for path in secrets if path.exists() and readable_as(student, path)] == []
    assert all(path.exists() for path in secrets[:4] + secrets[6:8])
    # What a student needs stays theirs to read: the released lab, their home, the environment.
    assert readable_as(student, exchange / "outbound" / LAB / f"{LAB}.ipynb")
    assert readable_as(student, Path("/home") / student)
    assert readable_as(student, hub.site / "env" / "bin" / "python")

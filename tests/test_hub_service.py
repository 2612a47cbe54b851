"""`GradingService`: submissions handed in through nbgrader's exchange, graded, and their feedback
returned where the student's *Fetch Feedback* finds it; attempts past the limit refused with a
page that says why; a late attempt after one on time does not replace it."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import notebook_hash

from grading.attempts import Ledger
from grading.classwork.autograde_class import ensure_in_gradebook
from grading.cli import copy_course
from grading.course import Course
from grading.hub import inbox
from grading.hub import service as service_module
from grading.hub.accounts import ensure_account
from grading.hub.service import GradingService
from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of

LAB = "anomaly_detection"
STUDENTS = ("kit-hub-ada", "kit-hub-bob")
LIMITS = {"ExecuteInSandbox.timeout": 5, "VerifyAnswers.timeout": 15, "Sandbox.memory_mb": 1024}


@pytest.fixture(scope="module")
def accounts():
    return {name: ensure_account(name) for name in STUDENTS}


@pytest.fixture
def exchange():
    """An exchange as nbgrader's docs set it up: a folder every account can reach."""
    root = Path(tempfile.mkdtemp(prefix="kit-exchange-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def hand_in(exchange: Path, account, notebook, stamp: str = "2026-12-01 10:00:00.000000 UTC") -> str:
    """A submission as nbgrader's submit leaves it in the inbound, made by the student's account."""
    name = f"{account.pw_name}+{LAB}+{stamp}+{os.urandom(4).hex()}"
    folder = exchange / "anomaly-detection-course" / "inbound" / name
    folder.mkdir(parents=True)
    (folder / f"{LAB}.ipynb").write_text(nbformat.writes(notebook))
    (folder / "timestamp.txt").write_text(stamp)
    (folder / "submission_secret.txt").write_text(os.urandom(16).hex())
    for path in (folder, *folder.iterdir()):
        os.chown(path, account.pw_uid, account.pw_gid)
    return name


def feedback_page(exchange: Path, name: str) -> str | None:
    folder = exchange / "anomaly-detection-course" / "inbound" / name
    secret = (folder / "submission_secret.txt").read_text()
    page = exchange / "anomaly-detection-course" / "feedback" / f"{notebook_hash(secret=secret, notebook_id=LAB)}.html"
    return page.read_text() if page.is_file() else None


@pytest.fixture(scope="module")
def service_course(course_template, tmp_path_factory) -> Course:
    """The course as every test's service starts from: the kit's (its lab cache filled), two graded
    attempts per lab, and the lab registered in its gradebook as the first grading would (which
    takes seconds). Made once for the module and never graded in: each test takes a copy."""
    course = copy_course(course_template, tmp_path_factory.mktemp("hub-service") / "course")
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write("\nc.AttemptPolicy.attempts = 2\n")
    ensure_in_gradebook(course.nbgrader_api(), course, LAB)
    return course


@pytest.fixture
def course(service_course, tmp_path, exchange) -> Course:
    """A copy of the module's course, gradebook included (a folder copied in milliseconds), with
    its own exchange: what one test hands in and grades, no other test sees, in any order."""
    course = Course(tmp_path / "course")
    shutil.copytree(service_course.root, course.root, symlinks=True)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
    return course


def answers(course, entry_name: str):
    entries = {entry.name: entry for entry in corpus(LAB)}
    return submission_of(entries[entry_name], entries[BASE_ENTRY], released_notebook(course, LAB))


@pytest.mark.sandbox
def test_hub_service_grades_each_submission_returns_its_feedback_and_refuses_one_past_the_limit(
    course, exchange, accounts
):
    ada, bob = accounts[STUDENTS[0]], accounts[STUDENTS[1]]
    first = hand_in(exchange, ada, answers(course, BASE_ENTRY))
    mistake = hand_in(exchange, bob, answers(course, "grid_one_short"))
    service = GradingService(course, [LAB], workers=2, **LIMITS)

    assert service.take_in() == 2
    assert service.grade_waiting() == 2
    attempts = Ledger(course, LAB).attempts()
    assert attempts[first].state == attempts[mistake].state == "graded"
    assert attempts[first].score == attempts[first].max_score > attempts[mistake].score
    assert "Attempt 1 of 2; 1 left. This attempt is the one that counts." in feedback_page(exchange, first)
    assert feedback_page(exchange, mistake) is not None

    second, third = (
        hand_in(exchange, ada, answers(course, BASE_ENTRY)),
        hand_in(exchange, ada, answers(course, BASE_ENTRY)),
    )
    assert service.take_in() == 2
    attempts = Ledger(course, LAB).attempts()
    assert (attempts[second].state, attempts[second].number) == ("waiting", 2)
    assert attempts[third].state == "refused"
    assert "Not graded: all 2 graded attempts of this lab are used." in feedback_page(exchange, third)
    assert service.grade_waiting() == 1 and service.take_in() == 0 and service.grade_waiting() == 0


@pytest.mark.sandbox
def test_hub_service_takes_no_submission_made_by_another_account_or_through_a_link(course, exchange, accounts):
    ada, bob = accounts[STUDENTS[0]], accounts[STUDENTS[1]]
    forged = hand_in(exchange, bob, answers(course, BASE_ENTRY))
    forged_for_ada = forged.replace(bob.pw_name, ada.pw_name, 1)
    inbound = exchange / "anomaly-detection-course" / "inbound"
    (inbound / forged).rename(inbound / forged_for_ada)
    linked = hand_in(exchange, ada, answers(course, BASE_ENTRY))
    notebook = inbound / linked / f"{LAB}.ipynb"
    notebook.unlink()
    notebook.symlink_to(course.solutions / LAB / f"{LAB}.ipynb")
    service = GradingService(course, [LAB], workers=1, **LIMITS)

    assert service.take_in() == 2
    attempts = Ledger(course, LAB).attempts()
    assert attempts[forged_for_ada].state == "refused" and "by another account" in attempts[forged_for_ada].why
    assert attempts[linked].state == "refused" and "not a regular file" in attempts[linked].why
    assert service.grade_waiting() == 0
    assert not course.submission(LAB, ada.pw_name).exists()


@pytest.mark.sandbox
def test_hub_service_keeps_the_attempt_on_time_when_a_late_one_follows(course, exchange, accounts):
    ada = accounts[STUDENTS[0]]
    service = GradingService(course, [LAB], workers=1, **LIMITS)
    on_time = hand_in(exchange, ada, answers(course, BASE_ENTRY), stamp="2020-01-01 00:00:00.000000 UTC")
    service.take_in()
    service.grade_waiting()
    with Gradebook(service.api.coursedir.db_url, "anomaly-detection-course") as gradebook:
        gradebook.update_or_create_assignment(
            LAB, duedate=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1)
        )
    late = hand_in(exchange, ada, answers(course, "grid_one_short"))
    service.take_in()
    service.grade_waiting()

    attempts = Ledger(course, LAB).attempts()
    assert not attempts[on_time].late and attempts[late].late
    assert attempts[late].score < attempts[on_time].score
    assert "The attempt that counts is attempt 1, the last one handed in on time." in feedback_page(exchange, late)
    with Gradebook(service.api.coursedir.db_url, "anomaly-detection-course") as gradebook:
        assert gradebook.find_submission(LAB, ada.pw_name).score == attempts[on_time].score


@pytest.mark.sandbox
def test_hub_service_without_the_owner_check_would_take_a_forged_submission_as_the_named_students(
    course, exchange, accounts, monkeypatch
):
    ada, bob = accounts[STUDENTS[0]], accounts[STUDENTS[1]]
    forged = hand_in(exchange, bob, answers(course, BASE_ENTRY))
    forged_for_ada = forged.replace(bob.pw_name, ada.pw_name, 1)
    inbound = exchange / "anomaly-detection-course" / "inbound"
    (inbound / forged).rename(inbound / forged_for_ada)
    monkeypatch.setattr(inbox, "owner_check", lambda handed: handed.folder.lstat().st_uid)

    GradingService(course, [LAB], workers=1, **LIMITS).take_in()
    assert Ledger(course, LAB).attempts()[forged_for_ada].state == "waiting"
    assert course.root.joinpath("records", "attempts", LAB, forged_for_ada, f"{LAB}.ipynb").is_file()


@pytest.mark.sandbox
def test_hub_service_restarted_grades_what_was_waiting_and_nothing_twice(course, exchange, accounts):
    ada, bob = accounts[STUDENTS[0]], accounts[STUDENTS[1]]
    graded = hand_in(exchange, ada, answers(course, BASE_ENTRY))
    first = GradingService(course, [LAB], workers=1, **LIMITS)
    first.take_in()
    first.grade_waiting()
    waiting = hand_in(exchange, bob, answers(course, BASE_ENTRY))
    first.take_in()  # seen and recorded, then the service stops before grading it

    again = GradingService(course, [LAB], workers=1, **LIMITS)
    assert again.take_in() == 0
    assert [a.name for a in again.next_round()[LAB]] == [waiting]
    assert again.grade_waiting() == 1 and again.grade_waiting() == 0
    states = {name: a.state for name, a in Ledger(course, LAB).attempts().items()}
    assert states == {graded: "graded", waiting: "graded"}


@pytest.mark.sandbox
def test_hub_service_keeps_a_round_that_failed_as_a_whole_waiting_to_be_tried_again(
    course, exchange, accounts, monkeypatch
):
    name = hand_in(exchange, accounts[STUDENTS[0]], answers(course, BASE_ENTRY))
    service = GradingService(course, [LAB], workers=1, **LIMITS)
    service.take_in()
    monkeypatch.setattr(service_module, "RETRY_SECONDS", 0.0)
    monkeypatch.setattr(service, "autograde", lambda lab, students: (_ for _ in ()).throw(OSError("gradebook gone")))
    assert service.grade_waiting() == 0
    assert name in service.queue.waiting and Ledger(course, LAB).attempts()[name].state == "waiting"
    monkeypatch.undo()
    assert service.grade_waiting() == 1

"""`autograde_student`: the kit's autograde of one student leaves the same notebook, gradebook rows
and warnings as nbgrader's own converter, for an honest submission and a wrong one, late, with a
locked cell rewritten (its first pass made ahead, as a class's coordinator makes it); a first pass
made ahead of a submission that then changes is not used."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from grading.cells import is_locked
from grading.classwork.autograde_class import ensure_in_gradebook, quiet_gradebook
from grading.classwork.autograde_student import Autograde, autograde, sanitize_ahead
from grading.cli import copy_course
from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of, write_submission
from grading.verdicts.student_cases import ensure_course_secret, secret_path

LAB = "anomaly_detection"
DUE = datetime(2026, 10, 1, 12, 0)


def submissions(course) -> dict[str, object]:
    """student -> notebook: the base answer, and a wrong one with a locked cell rewritten."""
    entries = {entry.name: entry for entry in corpus(LAB)}
    base, release = entries[BASE_ENTRY], released_notebook(course, LAB)
    tampered = submission_of(entries["sample_variance"], base, release)
    next(cell for cell in tampered.cells if is_locked(cell)).source = "print('all tests pass')"
    return {"honest": submission_of(base, base, release), "wrong-tampered-late": tampered}


def graded_course(tmp_path, course_template, name: str, grade) -> tuple[object, dict[str, list[str]]]:
    """A copy of the course whose class `grade(api, student)` autogrades: the course, and each student's warnings."""
    course = copy_course(course_template, tmp_path / name)
    course.records.mkdir(parents=True, exist_ok=True)  # both copies draw each student's cases from one secret
    shutil.copy2(ensure_course_secret(course_template.records), secret_path(course.records))
    api = course.nbgrader_api()
    ensure_in_gradebook(api, course, LAB)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        gradebook.update_or_create_assignment(LAB, duedate=DUE)
    warnings = {}
    for student, notebook in submissions(course).items():
        write_submission(course, LAB, student, notebook)
        stamp = DUE + timedelta(hours=5) if student.endswith("late") else DUE - timedelta(days=1)
        (course.submission(LAB, student).parent / "timestamp.txt").write_text(f"{stamp:%Y-%m-%d %H:%M:%S.%f} UTC")
        with quiet_gradebook():
            outcome = grade(api, student)
        assert outcome["success"], outcome.get("error")
        warnings[student] = [line for line in outcome["log"].splitlines() if line.startswith("[WARNING]")]
    return course, warnings


def gradebook_rows(course) -> dict:
    api = course.nbgrader_api()
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        return {
            submission.student_id: (
                str(submission.timestamp),
                submission.total_seconds_late,
                submission.late_submission_penalty,
                [
                    (grade.name, grade.auto_score, grade.max_score, grade.needs_manual_grade)
                    for notebook in submission.notebooks
                    for grade in notebook.grades
                ],
                sorted(
                    (comment.name, comment.auto_comment)
                    for notebook in submission.notebooks
                    for comment in notebook.comments
                ),
            )
            for submission in gradebook.assignment_submissions(LAB)
        }


@pytest.fixture(scope="module")
def both(tmp_path_factory, course_template):
    scratch = tmp_path_factory.mktemp("autograde-student")
    stock = graded_course(
        scratch, course_template, "stock", lambda api, s: api.autograde(LAB, s, force=True, create=True)
    )
    kit = graded_course(scratch, course_template, "kit", kit_autograde)
    return stock, kit


def kit_autograde(api, student: str) -> dict:
    """The honest student as `nbgrader autograde` would have the kit grade them; the other as a
    class's coordinator does, the first pass made ahead (while a worker would run their code)."""
    if student != "honest":
        sanitize_ahead(api, LAB, student)
    return autograde(api, LAB, student)


def test_the_autograded_notebooks_are_the_same_byte_for_byte(both):
    (stock, _), (kit, _) = both
    for student in submissions(stock):
        assert (
            kit.autograded_notebook(LAB, student).read_bytes() == stock.autograded_notebook(LAB, student).read_bytes()
        )


def test_the_gradebook_holds_the_same_scores_comments_and_lateness(both):
    (stock, _), (kit, _) = both
    rows = gradebook_rows(kit)
    assert rows == gradebook_rows(stock)
    assert rows["wrong-tampered-late"][1] == 5 * 3600 and rows["honest"][1] == 0
    wrong, honest = ({score for _, score, _, _ in rows[student][3]} for student in ("wrong-tampered-late", "honest"))
    assert wrong != honest


def test_the_same_warnings_are_logged(both):
    (_, stock_warnings), (_, kit_warnings) = both
    assert kit_warnings == stock_warnings
    assert any(re.search(r"is 18000(\.0)? seconds late", line) for line in kit_warnings["wrong-tampered-late"])
    assert any("'checksum'" in line for line in kit_warnings["wrong-tampered-late"])


def test_a_first_pass_made_ahead_is_used_only_while_the_submission_is_unchanged(tmp_path, course_template, monkeypatch):
    course = copy_course(course_template, tmp_path / "ahead")
    api = course.nbgrader_api()
    ensure_in_gradebook(api, course, LAB)
    passes = []
    sanitize = Autograde._sanitize
    monkeypatch.setattr(Autograde, "_sanitize", lambda self, path: passes.append(path) or sanitize(self, path))
    notebooks = submissions(course)
    for student in ("unchanged", "resubmitted"):
        write_submission(course, LAB, student, notebooks["honest"])
        sanitize_ahead(api, LAB, student)
    write_submission(course, LAB, "resubmitted", notebooks["wrong-tampered-late"])  # copied over the first
    with quiet_gradebook():
        outcomes = {student: autograde(api, LAB, student) for student in ("unchanged", "resubmitted")}
    assert all(outcome["success"] for outcome in outcomes.values()), outcomes
    assert [Path(path).parts[-3] for path in passes] == ["unchanged", "resubmitted", "resubmitted"]
    assert all("Sanitizing" in outcome["log"] and "'checksum'" in outcome["log"] for outcome in outcomes.values())
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        assert gradebook.find_submission(LAB, "unchanged").score == 20
        assert gradebook.find_submission(LAB, "resubmitted").score < 20


def test_a_grading_that_stops_midway_leaves_no_first_pass_for_the_next(tmp_path, course_template, monkeypatch):
    from grading.classwork import autograde_class as coordinator
    from grading.classwork import autograde_student

    class StoppingPool:
        """Takes the first student's work (its first pass made ahead), then the grading stops."""

        def answers(self, works):
            next(iter(works))
            raise KeyboardInterrupt

        def describe(self) -> str:
            return "a pool that stops"

        def close(self) -> None:
            pass

    course = copy_course(course_template, tmp_path / "stopped")
    write_submission(course, LAB, "s1", submissions(course)["honest"])
    monkeypatch.setattr(coordinator, "make_pool", lambda *args, **kwargs: StoppingPool())
    kept_when_stopped = []

    def forget_all_ahead() -> None:
        kept_when_stopped.append(list(autograde_student._ahead))
        autograde_student.forget_all_ahead()

    monkeypatch.setattr(coordinator, "forget_all_ahead", forget_all_ahead)
    with pytest.raises(KeyboardInterrupt):
        coordinator.autograde_class(course, LAB, progress=lambda line: None)
    assert kept_when_stopped == [[(LAB, "s1")]]
    assert autograde_student._ahead == {}

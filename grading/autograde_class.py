"""Autograde a whole class with nbgrader, one student at a time, so that one bad submission
costs only its own student's points.

nbgrader's `autograde` drops a student whose notebook it cannot read and leaves no grade
behind. Here every student ends with a score in the gradebook (zero when the notebook could
not be graded) and a plain-language note of what happened, kept in
`grading/reports/<lab>.json` for the report and for instructors.
"""
from __future__ import annotations

import json
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import nbformat

from grading.course import Course

if TYPE_CHECKING:
    from nbgrader.coursedir import CourseDirectory

OUTCOME_NOTES = {  # error names in grade and answer cells -> what an instructor reads
    "DeadKernelError": "the kernel died (the code exited Python or used up the memory)",
    "KernelStopped": "a cell ran past the time limit and ignored the interrupt; the kernel was stopped",
    "CellTimeoutError": "a cell ran past the time limit and was interrupted",
}
TRUNCATED_MARK = "[output truncated"


@dataclass
class StudentResult:
    student: str
    score: float
    max_score: float
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def unreadable_reason(path: Path) -> str | None:
    """Why a submitted file is not a notebook nbgrader can read, or None when it is one."""
    if not path.is_file():
        return f"no {path.name} in the submission"
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except UnicodeDecodeError:
        return f"{path.name} is not text (not UTF-8): it is not a notebook"
    except json.JSONDecodeError as error:
        return f"{path.name} is not valid notebook JSON ({error.msg}: line {error.lineno}, column {error.colno})"
    try:
        nbformat.validate(nbformat.reads(text, as_version=4))
    except Exception as error:  # schema errors of every kind
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"{path.name} is not a valid notebook ({first_line[:160]})"
    return None


@contextmanager
def quiet_gradebook() -> Iterator[None]:
    """Hide the SQLAlchemy autoflush warnings that nbgrader's own code trips on a new submission."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


def record_zero(coursedir: CourseDirectory, lab: str, student: str) -> None:
    """Give every grade cell of the student's submission zero points in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook, quiet_gradebook():
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(lab, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gradebook.db.commit()


def notes_from_notebook(course: Course, lab: str, student: str) -> list[str]:
    """What the autograded notebook shows beyond right and wrong: dead kernels, time limits, floods."""
    path = course.autograded_notebook(lab, student)
    if not path.is_file():
        return []
    notes = []
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error" and output.ename in OUTCOME_NOTES:
                notes.append(OUTCOME_NOTES[output.ename])
            if output.output_type == "stream" and TRUNCATED_MARK in output.text:
                notes.append("output was truncated (a cell printed too much)")
    if OUTCOME_NOTES["KernelStopped"] in notes:  # says more than the interrupt before it
        notes = [note for note in notes if note != OUTCOME_NOTES["CellTimeoutError"]]
    return list(dict.fromkeys(notes))


def scores(coursedir: CourseDirectory, lab: str, student: str) -> tuple[float, float, list[str]]:
    """Score, maximum and the grade ids that lost points, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        submission = gradebook.find_submission(lab, student)
        failed = [grade.name for notebook in submission.notebooks for grade in notebook.grades
                  if (grade.score or 0) < grade.max_score]
        return submission.score, submission.max_score, sorted(failed)


def autograde_class(
    course: Course,
    lab: str,
    students: list[str] | None = None,
    progress: Callable[[str], None] = print,
    **overrides: object,
) -> list[StudentResult]:
    """Autograde every (or the given) student's submission of `lab` and write the lab's report.

    `overrides` are nbgrader settings for this run, e.g. {"ExecuteInSandbox.timeout": 10}.
    """
    api = course.nbgrader_api(**overrides)
    students = students if students is not None else course.students(lab)
    results = []
    for number, student in enumerate(students, start=1):
        started = time.monotonic()
        notes = []
        reason = unreadable_reason(course.submission(lab, student))
        if reason is None:
            with quiet_gradebook():
                outcome = api.autograde(lab, student, force=True, create=True)
            if not outcome["success"]:
                errors = [line for line in outcome["log"].splitlines() if line.startswith("[ERROR]")]
                reason = "autograding failed: " + (errors[0][8:] if errors else "see nbgrader's log")
        if reason is not None:
            record_zero(api.coursedir, lab, student)
            notes.append(reason)
        notes += notes_from_notebook(course, lab, student)
        score, max_score, failed = scores(api.coursedir, lab, student)
        results.append(StudentResult(student, score, max_score, failed, notes))
        progress(f"[{number}/{len(students)}] {student}: {score:g}/{max_score:g}"
                 f" ({time.monotonic() - started:.1f} s){' - ' + '; '.join(notes) if notes else ''}")
    course.reports.mkdir(parents=True, exist_ok=True)
    (course.reports / f"{lab}.json").write_text(json.dumps([asdict(r) for r in results], indent=1))
    return results

"""What a class's grading has finished so far, so that a grading stopped at any point resumes.

One JSON line per student, appended (and flushed to disk) only after the student's gradebook
entry, autograded notebook and notes are all written: `records/reports/<lab>.journal.jsonl`.
A restarted grading skips the students whose line is there, whose submission has not changed
since (its SHA-256), and whose autograded notebook exists; `--force` starts the journal afresh.
A line cut short by a crash is ignored, and its student graded again. A result is kept as
`StudentResult.stored` gives it: its notes printable, its id escaped by JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING

from grading.course import Course

if TYPE_CHECKING:
    from grading.reporting.results import StudentResult


def submission_digest(course: Course, lab: str, student: str) -> str:
    """SHA-256 of the submitted notebook's bytes ("" when it cannot be read as a file)."""
    path = course.submission(lab, student)
    try:
        if path.is_symlink() or not path.is_file():
            return ""
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class Journal:
    """The finished students of one lab's grading."""

    def __init__(self, course: Course, lab: str):
        self.course, self.lab = course, lab
        self.path = course.reports / f"{lab}.journal.jsonl"

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def finished(self) -> dict[str, dict]:
        """student -> their recorded result, for the students whose record still holds."""
        found: dict[str, dict] = {}
        if not self.path.is_file():
            return found
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
                student, digest, result = entry["student"], entry["submission"], entry["result"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
            if (
                digest == submission_digest(self.course, self.lab, student)
                and self.course.autograded_notebook(self.lab, student).is_file()
            ):
                found[student] = result
            else:
                found.pop(student, None)
        return found

    def record(self, result: StudentResult) -> None:
        """Append the student's result, on disk before this returns."""
        student = result.student
        entry = {
            "student": student,
            "submission": submission_digest(self.course, self.lab, student),
            "result": result.stored(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry) + "\n")
            journal.flush()
            os.fsync(journal.fileno())

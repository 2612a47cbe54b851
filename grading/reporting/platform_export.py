"""The class's grades as a learning platform's gradebook imports them: Canvas and Moodle.

nbgrader exports only its own CSV; instructors then copy columns into their platform by hand.
Here each platform gets a file in the form of its own gradebook export, which is what its import
reads back: one row per student of the gradebook, one column per lab, the score after any late
penalty. A lab the student never submitted is left without a grade, in the platform's own
notation (Canvas: an empty cell; Moodle: `-`), never 0: a zero is a submission that earned
nothing.

- Canvas (Grades > Import): the columns of a Canvas gradebook export, `Student`, `ID`,
  `SIS User ID`, `SIS Login ID`, `Section`, then a column per lab and a `Points Possible` row.
  Students are matched by the gradebook's LMS user id (`ID`, when the roster has it) or their
  login (`SIS Login ID`, the gradebook's student id); a lab's column is matched to the
  assignment of that name, or makes a new one.
- Moodle (Grades > Import > CSV file): the columns of a Moodle export, `First name`,
  `Last name`, `Username`, `Email address`, then `<lab> (Real)` per lab. At import, identify
  users by mapping `Username` to "username" (or `Email address` to "email address"), and map
  each lab's column to its grade item.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

Table = Iterator[list[str]]


def after_penalty(submission) -> float:
    """A submission's score after its late penalty (never below 0)."""
    return max(0.0, submission.score - (submission.late_submission_penalty or 0.0))


def final_score(gradebook: Gradebook, lab: str, student: str) -> float | None:
    """The student's score on `lab` after its late penalty, or None if they never submitted it."""
    try:
        return after_penalty(gradebook.find_submission(lab, student))
    except MissingEntry:
        return None


def text(value: str | None) -> str:
    """A roster's text as a cell no spreadsheet runs: one that would start a formula gets a `'` first."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def number(value: float) -> str:
    """A score as both platforms read it: `20`, `17.5`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def canvas_table(gradebook: Gradebook) -> Table:
    labs = [assignment.name for assignment in gradebook.assignments]
    yield ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *labs]
    yield ["    Points Possible", "", "", "", "", *(number(a.max_score) for a in gradebook.assignments)]
    for student in gradebook.students:
        name = ", ".join(part for part in (student.last_name, student.first_name) if part) or student.id
        scores = (final_score(gradebook, lab, student.id) for lab in labs)
        ids = [text(name), text(student.lms_user_id), "", text(student.id), ""]
        yield [*ids, *("" if score is None else number(score) for score in scores)]


def moodle_table(gradebook: Gradebook) -> Table:
    labs = [assignment.name for assignment in gradebook.assignments]
    yield ["First name", "Last name", "Username", "Email address", *(f"{lab} (Real)" for lab in labs)]
    for student in gradebook.students:
        scores = (final_score(gradebook, lab, student.id) for lab in labs)
        names = [text(student.first_name), text(student.last_name), text(student.id), text(student.email)]
        yield [*names, *("-" if score is None else number(score) for score in scores)]


PLATFORMS: dict[str, Callable[[Gradebook], Table]] = {"canvas": canvas_table, "moodle": moodle_table}


def write_platform_export(db_url: str, course_id: str, platform: str, destination: Path) -> Path:
    """Write the gradebook's grades for `platform` (a key of PLATFORMS) to `destination`."""
    with Gradebook(db_url, course_id) as gradebook, open(destination, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(PLATFORMS[platform](gradebook))
    return destination

"""The class table an instructor reads after autograding: student, score, max, failed tests, notes.

Each cell is made printable (`grading.text`): a student's id is a folder's name and a note may
quote a submission, and neither may move the cursor or fake a line of the table.
"""

from __future__ import annotations

import json
import shutil
import sys

from grading.course import Course
from grading.errors import ReportUnavailable
from grading.reporting.results import StudentResult
from grading.text import printable


def load_results(course: Course, lab: str) -> list[StudentResult]:
    """The results of the last class autograde of `lab`."""
    path = course.reports / f"{lab}.json"
    if not path.is_file():
        raise ReportUnavailable(
            f"No report for {lab} at {path}: autograde the class first (python -m grading autograde {lab})."
        )
    try:
        return [StudentResult(**row) for row in json.loads(path.read_text())]
    except (ValueError, TypeError) as error:
        raise ReportUnavailable(f"The report {path} is damaged ({error}): autograde the class again.") from None


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters, with an ellipsis when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)].rstrip() + "…"


COLUMNS = ("student", "score", "max", "failed tests", "notes")
NARROWEST = {0: 12, 3: 16, 4: 30}  # how narrow a column that is cut may get
CUT_FIRST = (3, 0, 4)  # what matters least goes first: failed tests' names (the report lists them), long ids, notes


def format_table(lab: str, results: list[StudentResult], width: int | None = None) -> str:
    """A plain-text table, one student a row, that fits a terminal of `width` columns (by default the
    terminal's, when the output is one): the failed tests' names are cut with "…" first, then long
    student ids, then notes; the report keeps them whole."""
    if width is None and sys.stdout.isatty():
        width = shutil.get_terminal_size().columns
    rows = [
        (
            printable(r.student),
            f"{r.score:g}",
            f"{r.max_score:g}",
            printable(", ".join(r.failed)) or "-",
            printable(r.said()),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    if width is not None:
        widths = _fitted(widths, width)
        rows = [tuple(shorten(cell, limit) for cell, limit in zip(row, widths)) for row in rows]
    lines = [
        f"{lab}: {len(results)} submission{'' if len(results) == 1 else 's'}, mean {_mean(results):.1f}/{_max(results):g}"
    ]
    for row in [COLUMNS, *rows]:
        lines.append("  ".join(cell.ljust(limit) for cell, limit in zip(row[:4], widths)) + "  " + row[4])
        if row is COLUMNS:
            lines.append("  ".join("-" * limit for limit in widths[:4]) + "  -----")
    return "\n".join(line.rstrip() for line in lines)


def _fitted(widths: list[int], width: int) -> list[int]:
    """Column widths that fit `width`, taken from the columns of CUT_FIRST in turn, none below its NARROWEST."""
    widths = list(widths)
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    for column in CUT_FIRST:
        if excess <= 0:
            break
        narrower = max(NARROWEST[column], len(COLUMNS[column]), widths[column] - excess)
        if narrower < widths[column]:
            excess -= widths[column] - narrower
            widths[column] = narrower
    return widths


def _mean(results: list[StudentResult]) -> float:
    return sum(r.score for r in results) / len(results) if results else 0.0


def _max(results: list[StudentResult]) -> float:
    return max((r.max_score for r in results), default=0.0)

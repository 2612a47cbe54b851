"""The class table an instructor reads after autograding: student, score, max, failed tests, notes."""
from __future__ import annotations

import json

from grading.autograde_class import StudentResult
from grading.course import Course


def load_results(course: Course, lab: str) -> list[StudentResult]:
    """The results of the last class autograde of `lab`."""
    path = course.reports / f"{lab}.json"
    if not path.is_file():
        raise FileNotFoundError(f"No report for {lab} at {path}: autograde the class first"
                                f" (python -m grading autograde {lab}).")
    try:
        return [StudentResult(**row) for row in json.loads(path.read_text())]
    except (ValueError, TypeError) as error:
        raise ValueError(f"The report {path} is damaged ({error}): autograde the class again.") from None


def format_table(lab: str, results: list[StudentResult]) -> str:
    """A plain-text table, one student a row, failed tests and notes spelled out."""
    header = ("student", "score", "max", "failed tests", "notes")
    rows = [(r.student, f"{r.score:g}", f"{r.max_score:g}", ", ".join(r.failed) or "-", "; ".join(r.notes) or "")
            for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [f"{lab}: {len(results)} submissions, mean {_mean(results):.1f}/{_max(results):g}"]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
        if row is header:
            lines.append("  ".join("-" * width for width in widths) + "  -----")
    return "\n".join(line.rstrip() for line in lines)


def _mean(results: list[StudentResult]) -> float:
    return sum(r.score for r in results) / len(results) if results else 0.0


def _max(results: list[StudentResult]) -> float:
    return max((r.max_score for r in results), default=0.0)

"""What the kit reads in a notebook's cells, in one place: their metadata and the hidden-test regions.

The metadata read here is always the release's (`RestoreReleasedCells` puts the release's cells
and metadata back before anything else looks at a submission), never a student's own.

A grade cell of a master may end with a hidden-test region, from a line starting with
`BEGIN_HIDDEN_TESTS` to one starting with `END_HIDDEN_TESTS` (nbgrader's own delimiters, behind
the comment mark the labs use). nbgrader's release leaves the region out; the grader leaves it
out of every sandboxed run (the region runs only in the grader's verdict) and of every feedback
page.
"""

from __future__ import annotations

import re

from nbformat.notebooknode import NotebookNode

BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
_REGION = re.compile(rf"^[ \t]*{BEGIN_HIDDEN_TESTS}.*?^[ \t]*{END_HIDDEN_TESTS}[^\n]*\n?", re.M | re.S)
_OPEN_REGION = re.compile(rf"^[ \t]*{BEGIN_HIDDEN_TESTS}.*\Z", re.M | re.S)


def is_answer(cell: NotebookNode) -> bool:
    """An answer cell: nbgrader's solution cell, where the student writes."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def is_locked(cell: NotebookNode) -> bool:
    """A cell the student may not change: nbgrader's locked and grade cells, answers excepted."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("locked") or meta.get("grade")) and not meta.get("solution")


def grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_shared(cell: NotebookNode) -> bool:
    """A code cell whose outputs are the same for every student (`grading.execution.shared_cells`)."""
    return cell.cell_type == "code" and cell.get("metadata", {}).get("grading", {}).get("shared") is True


def without_hidden_tests(source: str) -> str:
    """A cell's source without its hidden-test regions: those run only in the grader's verdict."""
    return _REGION.sub("", source)


def hide_hidden_tests(source: str) -> str:
    """`source` without its hidden-test regions, closed or left open (cut to the cell's end)."""
    shown = _OPEN_REGION.sub("", without_hidden_tests(source))
    return source if shown == source else shown.rstrip() + "\n"

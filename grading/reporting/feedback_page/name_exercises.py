"""Name each graded cell after what it grades, for the feedback's summary and headings.

nbgrader's summary lists every grade cell as "Test cell". A grade cell of the kit starts with
a line such as `# Tests for Exercise 1 (10 points): run this cell to check your estimate_gaussian.`,
which gives "Exercise 1: estimate_gaussian"; a cell whose first line says nothing of the kind is
named by its grade id. The name goes into the cell's nbgrader metadata as `title`, beside the
`score` and `points` that nbgrader's `GetGrades` puts there (in memory only: the autograded
notebook on disk is not rewritten).
"""

from __future__ import annotations

import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode

from grading.reporting.feedback_page.base import FeedbackPreprocessor

# "# Tests for Exercise 1 (10 points): run this cell to check your estimate_gaussian."
HEADLINE = re.compile(
    r"^\s*#*\s*(?:tests?|checks?)\s+for\s+(?P<label>[^(:]+?)\s*(?:\([^)]*\))?\s*(?::\s*(?P<rest>.*))?$", re.I
)
FUNCTION = re.compile(r"\byour\s+`?(?P<name>[A-Za-z_]\w*)`?")


def exercise_name(source: str, grade_id: str) -> str:
    """ "Exercise 1: estimate_gaussian" from a grade cell's first line, else `grade_id`."""
    first = next((line for line in source.splitlines() if line.strip()), "")
    headline = HEADLINE.match(first)
    if headline is None:
        return grade_id
    function = FUNCTION.search(headline.group("rest") or "")
    return headline.group("label") + (f": {function.group('name')}" if function else "")


class NameExercises(FeedbackPreprocessor):
    """Set `metadata.nbgrader.title` of every graded cell (and task) to its exercise's name."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            meta["title"] = exercise_name(cell.source, meta.get("grade_id", "?"))
        return cell, resources

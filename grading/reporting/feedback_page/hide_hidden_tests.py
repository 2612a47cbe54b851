"""Drop the hidden tests from the cells a feedback page shows.

The autograded notebook keeps each grade cell as the master wrote it, hidden tests included
(`### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS`). The sandboxed run never sent that region
(see `ExecuteInSandbox`), and the student should not read it either. Only the release's cells
are changed: an answer cell is the student's own text. A region left open (no END line) is cut
to the cell's end rather than shown.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode

from grading.cells import hide_hidden_tests
from grading.reporting.feedback_page.base import FeedbackPreprocessor


class HideHiddenTests(FeedbackPreprocessor):
    """Remove the hidden-test regions of every cell but the student's answers."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = hide_hidden_tests(cell.source)
        return cell, resources

"""nbgrader's `SaveAutoGrades`, reading a student's grades and comments at once and writing them in one commit.

The stock preprocessor asks the gradebook for each graded or answer cell's row (a query joining
six tables), then commits, cell by cell: for the first lab, 16 queries and 16 commits per
student. This one reads the submitted notebook's grade and comment rows in two queries before
the first cell, sets on each exactly what the stock one sets (the automatic score and whether a
person must look, "No response." for an answer left as released), and commits once; what it
set before an error is committed all the same, as the stock one's would have been. A cell
without a row fails as the stock one fails (`MissingEntry`).
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import BaseCell, Comment, Grade, Gradebook, MissingEntry
from nbgrader.preprocessors import SaveAutoGrades as StockSaveAutoGrades


class SaveAutoGrades(StockSaveAutoGrades):
    """Save each cell's automatic grade and comment, with the notebook's rows read once and one commit."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
        self.student_id, self.db_url = info["student"], info["db_url"]
        with Gradebook(self.db_url) as gradebook:
            self.grades, self.comments = self._rows(gradebook)
            try:
                return super(StockSaveAutoGrades, self).preprocess(nb, resources)  # each cell, as nbgrader's
            finally:
                gradebook.db.commit()

    def _rows(self, gradebook: Gradebook) -> tuple[dict[str, Grade], dict[str, Comment]]:
        """The submitted notebook's grade and comment rows, by cell name."""
        submitted = gradebook.find_submission_notebook(self.notebook_id, self.assignment_id, self.student_id)

        def by_name(row):
            query = gradebook.db.query(row, BaseCell.name).join(BaseCell, BaseCell.id == row.cell_id)
            return {name: found for found, name in query.filter(row.notebook_id == submitted.id)}

        return by_name(Grade), by_name(Comment)

    def _add_score(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        grade = self._row(self.grades, cell)
        grade.auto_score, _ = utils.determine_grade(cell, self.log)
        grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None

    def _add_comment(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        comment = self._row(self.comments, cell)
        unchanged = cell.metadata.nbgrader.get("checksum", None) == utils.compute_checksum(cell)
        comment.auto_comment = "No response." if unchanged and not utils.is_task(cell) else None

    @staticmethod
    def _row(rows: dict, cell: NotebookNode):
        row = rows.get(cell.metadata["nbgrader"]["grade_id"])
        if row is None:
            raise MissingEntry()
        return row

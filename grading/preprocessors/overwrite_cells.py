"""nbgrader's `OverwriteCells`, reading the gradebook's record of the notebook's cells at once.

The stock preprocessor asks the gradebook about each cell that has a grade id, one query or
two per cell: about 120 queries per submission of the first lab, which has 61 such cells, and
the largest part of the grader's own time per student. This one reads the notebook's source
cells and grade cells in one session before the first cell, then does exactly what the stock
one does with them (same changes, same warnings); the record is read again for every
submission, so it is never older than the gradebook.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import OverwriteCells as StockOverwriteCells


@dataclass(frozen=True)
class RecordedCell:
    """What OverwriteCells reads of a source cell (and, for a grade cell, its points)."""

    name: str
    cell_type: str
    locked: bool
    checksum: str | None
    source: str
    max_score: float | None


class RecordedNotebook:
    """A notebook's cells as the gradebook records them, answering the two questions OverwriteCells asks."""

    def __init__(self, cells: dict[str, RecordedCell]):
        self._cells = cells

    @classmethod
    def read(cls, db_url: str, notebook: str, assignment: str) -> RecordedNotebook:
        """The record, in one session; empty when the gradebook has no such notebook."""
        with Gradebook(db_url) as gradebook:
            try:
                found = gradebook.find_notebook(notebook, assignment)
            except MissingEntry:
                return cls({})
            points = {cell.name: cell.max_score for cell in [*found.grade_cells, *found.task_cells]}
            return cls(
                {
                    cell.name: RecordedCell(
                        cell.name, cell.cell_type, cell.locked, cell.checksum, cell.source, points.get(cell.name)
                    )
                    for cell in found.source_cells
                }
            )

    def find_source_cell(self, name: str, notebook: str, assignment: str) -> RecordedCell:
        if name not in self._cells:
            raise MissingEntry(f"No such source cell: {assignment}/{notebook}/{name}")
        return self._cells[name]

    def find_graded_cell(self, name: str, notebook: str, assignment: str) -> RecordedCell:
        cell = self._cells.get(name)
        if cell is None or cell.max_score is None:
            raise MissingEntry(f"No such grade cell: {assignment}/{notebook}/{name}")
        return cell


class OverwriteCells(StockOverwriteCells):
    """Restore locked cells, cell types and points from the gradebook, which is read once per notebook."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        if self.add_missing_cells:  # adds cells from the gradebook's records: the stock path
            return super().preprocess(nb, resources)
        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id, self.db_url = info["notebook"], info["assignment"], info["db_url"]
        self.gradebook = RecordedNotebook.read(self.db_url, self.notebook_id, self.assignment_id)
        return super(StockOverwriteCells, self).preprocess(nb, resources)  # NbGraderPreprocessor's: each cell

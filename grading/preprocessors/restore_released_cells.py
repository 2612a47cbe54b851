"""Rebuild a submitted notebook on the released one, keeping only the student's answers.

A student can edit, delete, reorder or add cells and rewrite any metadata (a grade cell's
points or id, `locked`, `grade`, the notebook's own). None of that should count. So the
notebook that gets graded is the release, cell for cell and metadata included, with the
source of each answer cell (up to 100,000 characters) taken from the submission: the cell with the same grade id, or else the last code cell that defines the
same top-level functions (for a student who lost the cell's metadata). Cells a student
added are dropped; an answer that cannot be found stays the release's stub. The grade ids of
the locked cells the student changed or removed are kept in the notebook's metadata,
`nb.metadata["grading"]["ignored_cells"]`, for the feedback page to tell them.
"""

from __future__ import annotations

import ast
import copy
import functools
from pathlib import Path

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from grading.cells import grade_id, is_answer, is_locked


def defined_functions(source: str) -> frozenset[str]:
    """Names of the top-level functions a code cell defines (empty when it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return frozenset()
    return frozenset(node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))


def find_answer(released: NotebookNode, submitted: list[NotebookNode]) -> NotebookNode | None:
    """The submitted cell that answers the released answer cell, or None."""
    same_id = [cell for cell in submitted if grade_id(cell) == grade_id(released) and is_answer(cell)]
    if same_id:
        return same_id[0]
    wanted = defined_functions(released.source)
    if not wanted or released.cell_type != "code":
        return None
    defining = [cell for cell in submitted if cell.cell_type == "code" and wanted <= defined_functions(cell.source)]
    return defining[-1] if defining else None


MAX_ANSWER_CHARS = 100_000  # an answer cell's source kept; a lab's answers are a few hundred


def changed_locked_cells(released: NotebookNode, submitted: NotebookNode) -> list[str]:
    """Grade ids of the released locked cells that the submission removed or changed (source or nbgrader metadata)."""
    by_id = {grade_id(cell): cell for cell in submitted.cells if grade_id(cell)}
    changed = []
    for cell in released.cells:
        if not is_locked(cell):
            continue
        mine = by_id.get(grade_id(cell))
        if (
            mine is None
            or mine.source.strip() != cell.source.strip()
            or mine.metadata.get("nbgrader") != cell.metadata.get("nbgrader")
        ):
            changed.append(grade_id(cell))
    return changed


class RestoreReleasedCells(NbGraderPreprocessor):
    """Replace every cell of a submission by the released cell; keep only answers' sources."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        released = self._released_notebook(resources)
        rebuilt = []
        for cell in released.cells:
            cell = copy.deepcopy(cell)
            if is_answer(cell):
                answer = find_answer(cell, nb.cells)
                if answer is None:
                    self.log.warning("No answer found for cell '%s'; grading the released stub", grade_id(cell))
                else:
                    cell.source = answer.source[:MAX_ANSWER_CHARS]
            rebuilt.append(cell)
        ignored = changed_locked_cells(released, nb)
        nb.cells = rebuilt
        nb.metadata = copy.deepcopy(released.metadata)
        if ignored:
            nb.metadata["grading"] = {"ignored_cells": ignored}
        return nb, resources

    def _released_notebook(self, resources: ResourcesDict) -> NotebookNode:
        coursedir = CourseDirectory(config=self.config)
        info = resources["nbgrader"]
        folder = coursedir.format_path(coursedir.release_directory, ".", info["assignment"])
        path = Path(folder) / f"{info['notebook']}.ipynb"
        if not path.exists():
            raise FileNotFoundError(
                f"Released notebook {path} is missing: run 'make release' (nbgrader generate_assignment) first."
            )
        return read_release(path)


def read_release(path: Path) -> NotebookNode:
    """The released notebook at `path`, read once per version of its file (inode, size and time):
    every student of a class is rebuilt on it. Shared: copy what is to be changed."""
    info = path.stat()
    return _read_notebook(str(path), (info.st_ino, info.st_size, info.st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _read_notebook(path: str, version: tuple[int, int, int]) -> NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)

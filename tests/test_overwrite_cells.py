"""`OverwriteCells`: nbgrader's own changes and warnings, from the gradebook read once per notebook."""

from __future__ import annotations

import copy
import logging

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import OverwriteCells as StockOverwriteCells
from nbgrader.utils import is_grade
from sql_statements import statements_run  # beside this file

from grading.cells import grade_id, is_locked
from grading.preprocessors.overwrite_cells import OverwriteCells

LAB = "anomaly_detection"


@pytest.fixture(scope="module")
def released(kit_course):
    return nbformat.read(kit_course.releases / LAB / f"{LAB}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def resources(kit_course):
    db_url = kit_course.nbgrader_api().coursedir.db_url
    return {"nbgrader": {"assignment": LAB, "notebook": LAB, "student": "ada", "db_url": db_url}}


@pytest.fixture
def tampered(released):
    """The release with a locked cell rewritten, a grade cell's points raised, a locked markdown
    cell made code, and a cell whose grade id the gradebook does not know."""
    nb = copy.deepcopy(released)
    locked = [cell for cell in nb.cells if is_locked(cell) and not is_grade(cell)]
    locked[0].source = "print('the tests pass')"
    next(cell for cell in nb.cells if is_grade(cell)).metadata.nbgrader.points = 1000
    markdown = next(cell for cell in locked[1:] if cell.cell_type == "markdown")
    markdown.cell_type, markdown.outputs, markdown.execution_count = "code", [], None
    locked[-1].metadata.nbgrader.grade_id = "not-in-the-gradebook"
    return nb


def overwritten(preprocessor_class, nb, resources, caplog) -> tuple[nbformat.NotebookNode, list[str], int]:
    """The notebook after the preprocessor, its warnings, and the SQL statements it ran."""
    preprocessor = preprocessor_class(log=logging.getLogger("overwrite-test"))
    caplog.clear()
    with statements_run() as statements, caplog.at_level(logging.WARNING, logger="overwrite-test"):
        result, _ = preprocessor.preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
    return result, [record.getMessage() for record in caplog.records], len(statements)


def test_a_tampered_notebook_gets_the_stock_preprocessors_changes_and_warnings(tampered, resources, caplog):
    stock, stock_warnings, _ = overwritten(StockOverwriteCells, tampered, resources, caplog)
    kit, kit_warnings, _ = overwritten(OverwriteCells, tampered, resources, caplog)
    assert kit == stock
    assert kit_warnings == stock_warnings
    assert any("does not exist in the database" in warning for warning in kit_warnings)
    assert {"checksum", "points", "cell_type"} <= {warning.split("'")[1] for warning in kit_warnings}


def test_the_gradebook_is_read_in_a_few_statements_instead_of_one_or_two_per_cell(released, resources, caplog):
    _, _, stock_statements = overwritten(StockOverwriteCells, released, resources, caplog)
    _, _, kit_statements = overwritten(OverwriteCells, released, resources, caplog)
    with statements_run() as opening, Gradebook(resources["nbgrader"]["db_url"]):
        pass  # nbgrader checks the tables whenever a gradebook is opened
    assert stock_statements > len([cell for cell in released.cells if grade_id(cell)])
    assert kit_statements <= len(opening) + 6


def test_a_notebook_the_gradebook_does_not_know_loses_its_grade_ids_as_with_the_stock_one(released, resources, caplog):
    unknown = {"nbgrader": {**resources["nbgrader"], "notebook": "not-a-notebook"}}
    stock, stock_warnings, _ = overwritten(StockOverwriteCells, released, unknown, caplog)
    kit, kit_warnings, _ = overwritten(OverwriteCells, released, unknown, caplog)
    assert kit == stock and kit_warnings == stock_warnings
    assert not any(grade_id(cell) for cell in kit.cells)

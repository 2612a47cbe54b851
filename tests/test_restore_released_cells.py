"""`RestoreReleasedCells`: the graded notebook is the release, cell for cell, with the student's answers alone."""

from __future__ import annotations

import copy
import logging

import nbformat
import pytest
from traitlets.config import Config

from grading.cells import grade_id, is_answer
from grading.course import KIT_ROOT
from grading.preprocessors.restore_released_cells import RestoreReleasedCells
from grading.sample_class import BASE_ENTRY, CORPUS, fill_answers, read_entry

LAB = "anomaly_detection"
RESOURCES = {"nbgrader": {"assignment": LAB, "notebook": LAB, "student": "ada"}}


@pytest.fixture(scope="module")
def release():
    return nbformat.read(KIT_ROOT / "assignments" / LAB / f"{LAB}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def answered(release):
    return fill_answers(release, read_entry(CORPUS / LAB / f"{BASE_ENTRY}.py").cells)


def restored(nb):
    config = Config()
    config.CourseDirectory.root = str(KIT_ROOT)
    config.CourseDirectory.release_directory = "assignments"
    preprocessor = RestoreReleasedCells(config=config, log=logging.getLogger("test"))
    return preprocessor.preprocess(copy.deepcopy(nb), copy.deepcopy(RESOURCES))[0]


def answers(nb) -> dict:
    return {grade_id(cell): cell.source for cell in nb.cells if is_answer(cell)}


def test_an_honest_submission_is_graded_as_submitted(release, answered):
    graded = restored(answered)
    assert [cell.source for cell in graded.cells] == [cell.source for cell in answered.cells]
    assert "grading" not in graded.metadata


def test_edited_tests_points_and_added_cells_are_replaced_by_the_release(release, answered):
    tampered = copy.deepcopy(answered)
    grade_cell = next(cell for cell in tampered.cells if cell.metadata.get("nbgrader", {}).get("grade"))
    grade_cell.source = "pass  # nothing to check"
    grade_cell.metadata.nbgrader.points = 1000
    tampered.cells.append(nbformat.v4.new_code_cell("print('extra')"))
    tampered.metadata["kernelspec"] = {"name": "evil", "display_name": "evil", "language": "python"}
    graded = restored(tampered)
    assert [(cell.source, cell.metadata) for cell in graded.cells if not is_answer(cell)] == [
        (cell.source, cell.metadata) for cell in release.cells if not is_answer(cell)
    ]
    assert graded.metadata == {**release.metadata, "grading": {"ignored_cells": [grade_id(grade_cell)]}}
    assert answers(graded) == answers(answered)


def test_an_answer_that_lost_its_metadata_is_found_by_the_function_it_defines(answered):
    stripped = copy.deepcopy(answered)
    for cell in stripped.cells:
        if is_answer(cell):
            cell.metadata = {}
    assert answers(restored(stripped)) == answers(answered)


def test_a_missing_answer_leaves_the_releases_stub(release, answered):
    without = copy.deepcopy(answered)
    without.cells = [cell for cell in without.cells if not is_answer(cell)]
    assert answers(restored(without)) == answers(release)


def test_an_outsized_answer_is_cut(answered):
    huge = copy.deepcopy(answered)
    answer = next(cell for cell in huge.cells if is_answer(cell))
    answer.source += "\n#" + "x" * 200_000
    assert len(answers(restored(huge))[grade_id(answer)]) == 100_000


def test_the_release_is_read_once_per_version_of_its_file(release, tmp_path):
    from grading.preprocessors.restore_released_cells import read_release

    path = tmp_path / f"{LAB}.ipynb"
    nbformat.write(release, path)
    first = read_release(path)
    assert read_release(path) is first
    changed = copy.deepcopy(release)
    changed.cells[0].source = "# a new release"
    nbformat.write(changed, path.with_suffix(".new"))
    path.with_suffix(".new").replace(path)  # as make release writes it: a new file
    assert read_release(path).cells[0].source == "# a new release"

"""The kit's `CheckCellMetadata` accepts and refuses exactly what nbgrader's does, with the same errors."""

from __future__ import annotations

import copy
import logging

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator as NbgradersValidator
from nbgrader.preprocessors import CheckCellMetadata as NbgradersCheck

from grading.course import Course
from grading.preprocessors import CheckCellMetadata
from grading.preprocessors.check_cell_metadata import FastMetadataValidator

LAB = "anomaly_detection"


def master():
    return nbformat.read(Course().solutions / LAB / f"{LAB}.ipynb", as_version=4)


def first(nb, predicate):
    return next(cell for cell in nb.cells if predicate(cell.metadata.get("nbgrader", {})))


def damaged(damage):
    nb = master()
    damage(nb)
    return nb


def without_grade_id(nb):
    del first(nb, lambda meta: meta.get("solution"))["metadata"]["nbgrader"]["grade_id"]


def points_as_text(nb):
    first(nb, lambda meta: meta.get("grade"))["metadata"]["nbgrader"]["points"] = "ten"


def duplicate_grade_id(nb):
    graded = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    graded[1].metadata.nbgrader.grade_id = graded[0].metadata.nbgrader.grade_id


def old_schema(nb):
    first(nb, lambda meta: meta.get("locked"))["metadata"]["nbgrader"]["schema_version"] = 1


def new_schema(nb):
    first(nb, lambda meta: meta.get("locked"))["metadata"]["nbgrader"]["schema_version"] = 99


def grade_as_text(nb):
    first(nb, lambda meta: meta.get("grade"))["metadata"]["nbgrader"]["grade"] = "yes"


DAMAGES = [without_grade_id, points_as_text, duplicate_grade_id, old_schema, new_schema, grade_as_text]


def outcome(check, nb) -> tuple[str, str] | None:
    """The error (class and text) that `check(nb)` raised, or None."""
    try:
        check(copy.deepcopy(nb))
    except Exception as error:  # any error: its class and text are what is compared
        return type(error).__name__, str(error)
    return None


def validated_by_nbgrader(nb):
    NbgradersValidator().validate_nb(nb)


def validated_by_the_kit(nb):
    FastMetadataValidator().validate_nb(nb)


def checked_by_nbgrader(nb):
    NbgradersCheck(log=logging.getLogger("test")).preprocess(nb, {})


def checked_by_the_kit(nb):
    CheckCellMetadata(log=logging.getLogger("test")).preprocess(nb, {})


def test_the_master_passes_both_checks():
    assert outcome(checked_by_the_kit, master()) is None
    assert outcome(checked_by_nbgrader, master()) is None


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda damage: damage.__name__)
def test_damaged_metadata_is_refused_with_nbgraders_error(damage):
    nb = damaged(damage)
    assert outcome(validated_by_nbgrader, nb) is not None
    assert outcome(validated_by_the_kit, nb) == outcome(validated_by_nbgrader, nb)
    assert outcome(checked_by_the_kit, nb) == outcome(checked_by_nbgrader, nb)

"""Each lab's student release: generated from the master, locked, free of answers, and up to date."""

import filecmp
import json

import nbformat
import pytest

from grading.cli import copy_course, release
from grading.course import Course

COMMITTED = Course()
LABS = COMMITTED.labs()


def cells_by_role(notebook):
    answers = [c for c in notebook.cells if c.metadata["nbgrader"].get("solution")]
    others = [c for c in notebook.cells if not c.metadata["nbgrader"].get("solution")]
    return answers, others


def released(course, lab):
    return nbformat.read(course.releases / lab / f"{lab}.ipynb", as_version=4)


def master(lab):
    return nbformat.read(COMMITTED.solutions / lab / f"{lab}.ipynb", as_version=4)


def grade_ids(cells):
    return [cell.metadata["nbgrader"]["grade_id"] for cell in cells]


def points(notebook):
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["points"]
        for cell in notebook.cells
        if cell.metadata["nbgrader"].get("grade")
    }


@pytest.mark.parametrize("lab", LABS)
def test_committed_release_matches_a_fresh_build_from_the_master(kit_course, lab):
    fresh = json.loads((kit_course.releases / lab / f"{lab}.ipynb").read_text())
    committed = json.loads((COMMITTED.releases / lab / f"{lab}.ipynb").read_text())
    assert committed == fresh, "assignments/ is out of date with solutions/: run 'make release' and commit it"


@pytest.mark.parametrize("lab", LABS)
def test_committed_release_ships_the_same_helper_files_as_the_master(kit_course, lab):
    for name in ("utils.py", "public_tests.py", "selfcheck.py"):
        assert filecmp.cmp(COMMITTED.releases / lab / name, kit_course.releases / lab / name, shallow=False), name


@pytest.mark.parametrize("lab", LABS)
def test_every_cell_but_the_answers_is_read_only_and_checksummed(lab):
    answers, others = cells_by_role(released(COMMITTED, lab))
    assert grade_ids(answers) == grade_ids(cells_by_role(master(lab))[0])
    assert answers
    for cell in others:
        assert cell.metadata["nbgrader"]["locked"], cell.metadata["nbgrader"]["grade_id"]
        assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False
        assert cell.metadata["nbgrader"].get("checksum")
    assert all(cell.metadata.get("editable", True) for cell in answers)


@pytest.mark.parametrize("lab", LABS)
def test_answer_cells_hold_stubs_and_no_solution(lab):
    answers, _ = cells_by_role(released(COMMITTED, lab))
    for cell in answers:
        assert "raise NotImplementedError()" in cell.source
        assert "BEGIN SOLUTION" not in cell.source


@pytest.mark.parametrize("lab", LABS)
def test_hidden_tests_are_not_in_the_release(lab):
    text = (COMMITTED.releases / lab / f"{lab}.ipynb").read_text()
    assert "HIDDEN TESTS" not in text
    assert "grading.verdicts.hidden_tests" not in text


def test_a_trained_network_cached_beside_the_master_is_not_released(tmp_path):
    lab = "timeseries_autoencoder"
    course = copy_course(COMMITTED, tmp_path / "course")
    cache = course.solutions / lab / ".autoencoder_cache"
    cache.mkdir()
    (cache / "autoencoder-0123.npz").write_bytes(b"weights")
    release(course, [lab])
    assert (course.releases / lab / f"{lab}.ipynb").is_file()
    assert not (course.releases / lab / ".autoencoder_cache").exists()


@pytest.mark.parametrize("lab", LABS)
def test_grade_cells_carry_the_points_of_the_master(lab):
    assert points(released(COMMITTED, lab)) == points(master(lab))
    assert points(master(lab))

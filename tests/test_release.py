"""The student release: generated from the master, locked, free of answers, and up to date."""
import filecmp
import json

import nbformat

from grading.course import Course

LAB = "anomaly_detection"
COMMITTED = Course()


def cells_by_role(notebook):
    answers = [c for c in notebook.cells if c.metadata["nbgrader"].get("solution")]
    others = [c for c in notebook.cells if not c.metadata["nbgrader"].get("solution")]
    return answers, others


def released(course):
    return nbformat.read(course.releases / LAB / f"{LAB}.ipynb", as_version=4)


def test_committed_release_matches_a_fresh_build_from_the_master(kit_course):
    fresh = json.loads((kit_course.releases / LAB / f"{LAB}.ipynb").read_text())
    committed = json.loads((COMMITTED.releases / LAB / f"{LAB}.ipynb").read_text())
    assert committed == fresh, "assignments/ is out of date with solutions/: run 'make release' and commit it"


def test_committed_release_ships_the_same_helper_files_as_the_master(kit_course):
    for name in ("utils.py", "public_tests.py"):
        assert filecmp.cmp(COMMITTED.releases / LAB / name, kit_course.releases / LAB / name, shallow=False), name


def test_every_cell_but_the_answers_is_read_only_and_checksummed():
    answers, others = cells_by_role(released(COMMITTED))
    assert [c.metadata["nbgrader"]["grade_id"] for c in answers] == ["estimate_gaussian", "select_threshold"]
    for cell in others:
        assert cell.metadata["nbgrader"]["locked"], cell.metadata["nbgrader"]["grade_id"]
        assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False
        assert cell.metadata["nbgrader"].get("checksum")
    assert all(cell.metadata.get("editable", True) for cell in answers)


def test_answer_cells_hold_stubs_and_no_solution():
    answers, _ = cells_by_role(released(COMMITTED))
    for cell in answers:
        assert "raise NotImplementedError()" in cell.source
        assert "BEGIN SOLUTION" not in cell.source


def test_hidden_tests_are_not_in_the_release():
    text = (COMMITTED.releases / LAB / f"{LAB}.ipynb").read_text()
    assert "HIDDEN TESTS" not in text
    assert "grading.hidden_tests" not in text


def test_grade_cells_carry_the_points_of_the_master():
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in released(COMMITTED).cells if c.metadata["nbgrader"].get("grade")}
    assert points == {"test_estimate_gaussian": 10, "test_select_threshold": 10}

"""What the kit reads in cells (`grading.cells`): metadata predicates and hidden-test regions."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from grading.cells import grade_id, hide_hidden_tests, is_answer, is_shared, without_hidden_tests

GRADE_CELL = """check(estimate_gaussian)
### BEGIN HIDDEN TESTS
assert secret(estimate_gaussian)
### END HIDDEN TESTS
print("done")
"""


def test_a_closed_hidden_region_is_left_out_of_the_run_and_of_the_page():
    assert without_hidden_tests(GRADE_CELL) == 'check(estimate_gaussian)\nprint("done")\n'
    assert hide_hidden_tests(GRADE_CELL) == 'check(estimate_gaussian)\nprint("done")\n'


def test_an_indented_region_is_found_too():
    source = "if True:\n    ### BEGIN HIDDEN TESTS\n    secret()\n    ### END HIDDEN TESTS\n    shown()\n"
    assert "secret" not in without_hidden_tests(source) and "shown()" in without_hidden_tests(source)


def test_a_region_left_open_is_cut_to_the_cells_end_on_the_page():
    source = "visible()\n### BEGIN HIDDEN TESTS\nsecret()\n"
    assert hide_hidden_tests(source) == "visible()\n"


def test_a_cell_without_a_region_is_unchanged():
    assert without_hidden_tests("x = 1\n") == hide_hidden_tests("x = 1\n") == "x = 1\n"


def test_predicates_read_nbgraders_and_the_kits_metadata():
    answer = new_code_cell("def f(): pass", metadata={"nbgrader": {"solution": True, "grade_id": "f"}})
    shared = new_code_cell("plot()", metadata={"grading": {"shared": True}})
    text = new_markdown_cell("# Title", metadata={"grading": {"shared": True}})
    assert is_answer(answer) and grade_id(answer) == "f" and not is_shared(answer)
    assert is_shared(shared) and not is_answer(shared) and grade_id(shared) is None
    assert not is_shared(text)  # only code cells are run, so only they can be shared

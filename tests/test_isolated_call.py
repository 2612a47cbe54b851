"""The isolated run that decides a graded function's points, without a Jupyter kernel."""
import numpy as np
import pytest

from grading.checks import Case
from grading.isolated_call import IsolatedCallError, call_in_fresh_process

CASES = [Case("small", (np.array([[1.0, 2.0], [3.0, 4.0]]),), "a 2 x 2 matrix"),
         Case("empty", (np.zeros((0, 2)),), "no rows")]

MEAN_AND_MAX = """
import numpy as np

def summarise(X):
    if len(X) == 0:
        raise ValueError("no rows")
    return X.mean(axis=0), X.max(axis=0)
"""


def test_results_come_back_as_float_arrays():
    small, _ = call_in_fresh_process([MEAN_AND_MAX], "summarise", CASES, 2, timeout=30)
    np.testing.assert_array_equal(small[0], [2.0, 3.0])
    np.testing.assert_array_equal(small[1], [3.0, 4.0])


def test_an_exception_in_one_case_is_reported_for_that_case_only():
    small, empty = call_in_fresh_process([MEAN_AND_MAX], "summarise", CASES, 2, timeout=30)
    assert isinstance(small, tuple)
    assert empty == "ValueError: no rows"


def test_wrong_number_of_returned_values_is_explained():
    source = "def summarise(X):\n    return X.mean(axis=0)\n"
    small, _ = call_in_fresh_process([source], "summarise", CASES, 2, timeout=30)
    assert small == "TypeError: returned a single ndarray, expected 2 values"


def test_an_endless_loop_is_stopped_at_the_time_limit():
    source = "def summarise(X):\n    while True:\n        pass\n"
    with pytest.raises(IsolatedCallError, match="did not finish within 2 seconds"):
        call_in_fresh_process([source], "summarise", CASES, 2, timeout=2)


def test_code_that_exits_python_is_reported_not_fatal():
    source = "import os\nos._exit(3)\n"
    with pytest.raises(IsolatedCallError, match="stopped the Python process"):
        call_in_fresh_process([source], "summarise", CASES, 2, timeout=30)


def test_a_missing_function_names_the_error_of_its_cell():
    source = "raise RuntimeError('unfinished')\ndef summarise(X):\n    return X, X\n"
    with pytest.raises(IsolatedCallError, match="summarise is not defined .*RuntimeError: unfinished"):
        call_in_fresh_process([source], "summarise", CASES, 2, timeout=30)


def test_magics_in_an_answer_cell_do_not_break_it():
    source = "%matplotlib inline\n" + MEAN_AND_MAX
    small, _ = call_in_fresh_process([source], "summarise", CASES, 2, timeout=30)
    np.testing.assert_array_equal(small[0], [2.0, 3.0])


def test_returned_objects_cannot_smuggle_code_into_the_grader():
    source = (
        "class Sneaky(float):\n"
        "    def __eq__(self, other):\n        return True\n"
        "def summarise(X):\n    return Sneaky(1.0), Sneaky(2.0)\n"
    )
    small, _ = call_in_fresh_process([source], "summarise", CASES, 2, timeout=30)
    assert [type(value) for value in small] == [np.ndarray, np.ndarray]
    assert small[0] != 2.0


def test_student_code_cannot_import_the_graders_reference():
    source = "from grading.hidden_tests.anomaly_detection import reference_estimate_gaussian as summarise\n"
    with pytest.raises(IsolatedCallError, match="summarise is not defined .*ModuleNotFoundError"):
        call_in_fresh_process([source], "summarise", CASES, 2, timeout=30)

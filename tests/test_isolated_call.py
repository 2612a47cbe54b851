"""The isolated run that decides a graded function's points, without a Jupyter kernel."""

import time

import numpy as np
import pytest
from busy import busy_machine

from grading.verdicts.checks import Case, Exercise, run_in_process
from grading.verdicts.isolated_call import IsolatedCallError, call_in_fresh_process

pytestmark = pytest.mark.sandbox  # each test calls a function in a sandboxed process

CASES = [
    Case("small", (np.array([[1.0, 2.0], [3.0, 4.0]]),), "a 2 x 2 matrix"),
    Case("empty", (np.zeros((0, 2)),), "no rows"),
]

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


COMPUTES = """
import time

def summarise(X):
    start = time.process_time()
    while time.process_time() - start < {seconds}:
        pass
    return X.sum(axis=0), X.max(axis=0)
"""


# A verdict of 0.8 s of CPU under a 3 s limit: its own time (the interpreter's start and imports
# included, which may wait on a disk that earlier tests left cold) stays well under the limit,
# while beside the busy loops (a quarter of a core) its wall clock runs well past it.
COMPUTING, LIMIT = COMPUTES.format(seconds=0.8), 3


def test_a_verdict_kept_from_the_cpu_by_a_busy_grader_finishes_in_its_own_time():
    with busy_machine():
        [small] = call_in_fresh_process([COMPUTING], "summarise", CASES[:1], 2, timeout=LIMIT, stretch=6)
    np.testing.assert_array_equal(small[0], [4.0, 6.0])


def test_the_same_verdict_times_out_when_its_limit_counts_the_wall_clock():
    with busy_machine(), pytest.raises(IsolatedCallError, match=f"did not finish within {LIMIT} seconds"):
        call_in_fresh_process([COMPUTING], "summarise", CASES[:1], 2, timeout=LIMIT, stretch=0)


def test_an_endless_loop_is_stopped_at_its_limit_and_its_allowance_however_busy_the_grader():
    source = "def summarise(X):\n    while True:\n        pass\n"
    started = time.monotonic()
    with busy_machine(), pytest.raises(IsolatedCallError, match="did not finish within 2 seconds"):
        call_in_fresh_process([source], "summarise", CASES, 2, timeout=2, stretch=4)
    assert time.monotonic() - started < 2 + 4 + 10  # the sandbox's start and end included


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
    source = "from grading.verdicts.hidden_tests.anomaly_detection import reference_estimate_gaussian as summarise\n"
    with pytest.raises(IsolatedCallError, match="summarise is not defined .*ModuleNotFoundError"):
        call_in_fresh_process([source], "summarise", CASES, 2, timeout=30)


# Arguments other than one array: a neural network's weights (lists of arrays of different
# shapes) and window sizes or fractions (Python scalars), in both places that run a function.

NETWORK = Case(
    "network",
    (np.ones((2, 3)), [np.arange(6.0).reshape(3, 2), np.full((2, 4), 0.5)], [np.array([1.0, -1.0]), np.zeros(4)]),
    "a 3-2-4 network",
)
LAYERS = """
import numpy as np

def layers(X, coefs, intercepts):
    is_list = isinstance(coefs, list) and isinstance(intercepts, list)
    return float(is_list), np.array([c.shape for c in coefs]), np.concatenate([a.ravel() for a in coefs + intercepts])
"""

SCALARS = Case("scalars", (np.arange(10.0), 4, 3, 0.25, True), "window 4, step 3")
WINDOWS = """
import numpy as np

def windows(series, window, step, fraction, flag):
    exact_types = type(window) is int and type(step) is int and type(fraction) is float and type(flag) is bool
    return np.array([series[start:start + window] for start in range(0, len(series) - window + 1, step)]), float(exact_types)
"""


def in_kernel(source, function, cases, n_outputs):
    """What `run_in_process` (the grade cell's path) returns for `function` defined by `source`."""
    namespace = {}
    exec(source, namespace)
    exercise = Exercise(function, function, function, n_outputs, lambda rng: list(cases), lambda case, outputs: [])
    return run_in_process(exercise, namespace[function])


def isolated(source, function, cases, n_outputs):
    return call_in_fresh_process([source], function, cases, n_outputs, timeout=30)


def test_a_list_of_arrays_of_different_shapes_arrives_as_an_equal_list():
    [(is_list, shapes, values)] = isolated(LAYERS, "layers", [NETWORK], 3)
    assert is_list == 1.0
    np.testing.assert_array_equal(shapes, [[3, 2], [2, 4]])
    np.testing.assert_array_equal(values, np.concatenate([a.ravel() for a in NETWORK.args[1] + NETWORK.args[2]]))


def test_scalars_arrive_as_python_int_float_and_bool():
    [(windows, exact_types)] = isolated(WINDOWS, "windows", [SCALARS], 2)
    assert exact_types == 1.0
    np.testing.assert_array_equal(windows, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])


@pytest.mark.parametrize(
    "source, function, case, n_outputs",
    [(LAYERS, "layers", NETWORK, 3), (WINDOWS, "windows", SCALARS, 2)],
    ids=["list", "scalars"],
)
def test_the_kernel_and_the_isolated_process_give_the_same_outputs(source, function, case, n_outputs):
    [kernel] = in_kernel(source, function, [case], n_outputs)
    [fresh] = isolated(source, function, [case], n_outputs)
    for kernel_output, fresh_output in zip(kernel, fresh, strict=True):
        np.testing.assert_array_equal(kernel_output, fresh_output)


@pytest.mark.parametrize("run", [in_kernel, isolated], ids=["kernel", "isolated"])
def test_a_function_that_edits_a_list_argument_does_not_spoil_the_next_case(run):
    shared = [np.ones((2, 2)), np.arange(3.0)]
    source = (
        "import numpy as np\n"
        "def spoil(coefs):\n"
        "    total = sum(float(c.sum()) for c in coefs)\n"
        "    coefs[0] *= -1\n"
        "    coefs.append(np.ones(3))\n"
        "    return total, len(coefs)\n"
    )
    first, second = run(source, "spoil", [Case("a", (shared,), "first"), Case("b", (shared,), "second")], 2)
    assert [float(value) for value in second] == [float(value) for value in first] == [7.0, 3.0]

"""Self-check tests of the anomaly-detection lab: run them from the notebook after each exercise.

Each test calls your function on small cases whose answers can be worked out by hand, then on
the lab's data. The first wrong result stops the test with a message saying which case failed,
what was expected, what came back and, for common slips, what to look at.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from selfcheck import SelfCheckFailed, failure_of_call

from utils import load_data, multivariate_gaussian

__all__ = ["estimate_gaussian_test", "select_threshold_test"]

PASSED = "\033[92mAll tests passed!\033[0m"

# estimate_gaussian on the lab's X_train (307 x 2).
REAL_MU = np.array([14.11222578, 14.99771051])
REAL_VAR = np.array([1.83263141, 1.70974533])

# select_threshold on the lab's X_val, with p_val from the real mu and var above.
REAL_EPSILON = 8.990853e-05
REAL_F1 = 0.875

HINT_LESS_THAN = "Did you flag anomalies with p_val <= epsilon instead of p_val < epsilon?"
HINT_FIRST_BEST = (
    "Did you keep the last epsilon with the best F1? Update the best only when F1 is "
    "strictly greater (F1 > best_F1), so that the first one is kept."
)
HINT_HARMONIC = "Did you average precision and recall? F1 is 2 * prec * rec / (prec + rec)."


def _show(value: Any, precision: int = 6) -> str:
    return np.array2string(np.asarray(value), precision=precision)


def _show_both(want: Any, got: Any) -> tuple[str, str]:
    """Both values with 6 digits, or with as many more as it takes to tell them apart."""
    for precision in (6, 10, 17):
        shown = _show(want, precision), _show(got, precision)
        if shown[0] != shown[1]:
            break
    return shown


def _call(target: Callable[..., Any], args: tuple[np.ndarray, ...], call: str) -> Any:
    """Call the student's function on copies of `args`, without letting warnings out.

    A correct select_threshold may divide 0 by 0 where nothing is flagged; in a notebook
    that warning would look like an error.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return target(*(np.array(arg, copy=True) for arg in args))
        except Exception as error:  # whatever the student's code raises is reported as a failure
            raise failure_of_call(call, target, error) from None


def _pair(result: Any, call: str, names: str) -> tuple[Any, Any]:
    """The two values of `result`, or a SelfCheckFailed saying what came back instead."""
    if result is None:
        raise SelfCheckFailed(f"{call}: returned None instead of the pair ({names}). Did you forget `return {names}`?")
    if isinstance(result, list) and len(result) == 2:
        raise SelfCheckFailed(
            f"{call}: returned a list instead of the pair ({names}). Return a tuple: `return {names}`."
        )
    if not isinstance(result, (tuple, list)):
        raise SelfCheckFailed(f"{call}: returned a single {type(result).__name__} instead of the pair ({names}).")
    if len(result) != 2:
        raise SelfCheckFailed(f"{call}: returned {len(result)} values instead of 2 ({names}).")
    return result[0], result[1]


def _as_floats(value: Any, call: str, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SelfCheckFailed(f"{call}: {name} is a {type(value).__name__}, not numbers.") from None


# ---------------------------------------------------------------------------------------------
# Exercise 1: estimate_gaussian
# ---------------------------------------------------------------------------------------------

# The lab computes in numpy's default double precision (float64): results are compared to 9
# significant digits, which float32 (about 7) cannot reach.
RTOL = 1e-9
# The published mu and var have 8 decimals: a right answer is within half of the last one.
PUBLISHED_ATOL = 5e-9

# (X, expected mu, expected var) worked out by hand; var is the population variance (divide by m).
ESTIMATE_GAUSSIAN_CASES = [
    # mu = [(1+3+5)/3, (2+4+6)/3] = [3, 4]; deviations -2, 0, 2 in both columns: var = 8/3.
    (np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([3.0, 4.0]), np.array([8 / 3, 8 / 3])),
    # One feature: mu = 16/4 = 4; deviations -4, -2, 0, 6 give (16+4+0+36)/4 = 14.
    (np.array([[0.0], [2.0], [4.0], [10.0]]), np.array([4.0]), np.array([14.0])),
    # Fewer examples than features: each column is its two values, mu their midpoint,
    # var the square of half their gap: [1, 25, 0, 4].
    (
        np.array([[1.0, 10.0, 0.0, 5.0], [3.0, 20.0, 0.0, 9.0]]),
        np.array([2.0, 15.0, 0.0, 7.0]),
        np.array([1.0, 25.0, 0.0, 4.0]),
    ),
]


def _variance_hint(got: np.ndarray, mu: np.ndarray, var: np.ndarray, m: int) -> str:
    """What a wrong var most likely comes from, judged against the right mu and var."""
    if m > 1 and np.allclose(got, var * m / (m - 1)):
        return " Did you divide by m - 1 instead of m?"
    if np.allclose(got, np.sqrt(var)):
        return " Did you return the standard deviation instead of the variance (square it)?"
    if np.allclose(got, var + mu**2):
        return " Did you subtract mu from X before squaring?"
    return ""


def _check_estimate_gaussian(
    target: Callable, X: np.ndarray, mu: np.ndarray, var: np.ndarray, call: str, rtol: float = RTOL, atol: float = 1e-12
) -> None:
    m, n = X.shape
    got_mu, got_var = _pair(_call(target, (X,), call), call, "mu, var")
    for name, got, want in (("mu", got_mu, mu), ("var", got_var, var)):
        got, dtype = _as_floats(got, call, name), np.asarray(got).dtype
        if dtype != np.float64:
            raise SelfCheckFailed(
                f"{call}: returned {name} of dtype {dtype}. Compute in float64, numpy's default: "
                "the lab asks for 9 significant digits, and float32 holds about 7."
            )
        if got.shape != want.shape:
            hint = ""
            if got.shape == (m,) and m != n:
                hint = " Did you average over each row (axis=1) instead of over the examples (axis=0)?"
            raise SelfCheckFailed(f"{call}: returned {name} of shape {got.shape} instead of {want.shape}.{hint}")
        if not np.allclose(got, want, rtol=rtol, atol=atol):
            if name == "mu":
                hint = " Did you return (var, mu) instead of (mu, var)?" if np.allclose(got, var) else ""
            else:
                hint = _variance_hint(got, mu, var, m)
            shown_want, shown_got = _show_both(want, got)
            raise SelfCheckFailed(f"{call}: expected {name} {shown_want}, got {shown_got}.{hint}")


def estimate_gaussian_test(target: Callable) -> None:
    """Check estimate_gaussian(X) on hand-worked matrices, then on the lab's X_train."""
    for X, mu, var in ESTIMATE_GAUSSIAN_CASES:
        call = f"estimate_gaussian(X) with X = {X.tolist()} of shape {X.shape}"
        _check_estimate_gaussian(target, X, mu, var, call)
    X_train, _, _ = load_data()
    call = f"estimate_gaussian(X_train) on the lab's data (shape {X_train.shape})"
    _check_estimate_gaussian(target, X_train, REAL_MU, REAL_VAR, call, rtol=0.0, atol=PUBLISHED_ATOL)
    print(PASSED)


# ---------------------------------------------------------------------------------------------
# Exercise 2: select_threshold
# ---------------------------------------------------------------------------------------------

# p_val runs from 0 to 1000, so the scan's step is exactly 1 and its epsilons are 0, 1, ..., 999.
# Each case: y_val, p_val, the expected (epsilon, F1), and the answers of common slips.
SELECT_THRESHOLD_CASES = [
    # The anomaly is the smallest p. epsilon = 0 flags nothing; 1 to 500 flag only the anomaly
    # (F1 = 1); from 501 the normal example at 500 is flagged too (F1 = 2/3).
    # The first best epsilon is 1; `<=` already flags p = 0 at epsilon 0; the last best is 500.
    (
        np.array([1, 0, 0]),
        np.array([0.0, 500.0, 1000.0]),
        (1.0, 1.0),
        {(0.0, 1.0): HINT_LESS_THAN, (500.0, 1.0): HINT_FIRST_BEST},
    ),
    # Anomalies at p = 200 and 300, normal examples at 0, 600 and 1000.
    #   epsilon   1-200: flags {0}             tp 0 fp 1 fn 2  precision 0    recall 0    F1 0
    #   epsilon 201-300: flags {0, 200}        tp 1 fp 1 fn 1  precision 1/2  recall 1/2  F1 1/2
    #   epsilon 301-600: flags {0, 200, 300}   tp 2 fp 1 fn 0  precision 2/3  recall 1    F1 4/5
    #   epsilon 601-999: flags four            tp 2 fp 2 fn 0  precision 1/2  recall 1    F1 2/3
    # Best: (301, 0.8). With `<=` every range starts one lower: (300, 0.8); the last best is
    # (600, 0.8); the mean (precision + recall) / 2 peaks at (301, 5/6).
    (
        np.array([0, 1, 1, 0, 0]),
        np.array([0.0, 200.0, 300.0, 600.0, 1000.0]),
        (301.0, 0.8),
        {(300.0, 0.8): HINT_LESS_THAN, (600.0, 0.8): HINT_FIRST_BEST, (301.0, 5 / 6): HINT_HARMONIC},
    ),
]


def _check_select_threshold(
    target: Callable,
    y_val: np.ndarray,
    p_val: np.ndarray,
    expected: tuple[float, float],
    slips: dict[tuple[float, float], str],
    call: str,
) -> None:
    got = _pair(_call(target, (y_val, p_val), call), call, "epsilon, F1")
    for value, name in zip(got, ("epsilon", "F1")):
        if not isinstance(value, (float, np.floating)):
            shape = f" of shape {np.shape(value)}" if isinstance(value, (np.ndarray, list, tuple)) else ""
            raise SelfCheckFailed(
                f"{call}: returned {name} as {type(value).__name__}{shape} instead of a single float."
            )
    got_epsilon, got_f1 = (float(value) for value in got)
    want_epsilon, want_f1 = expected
    if np.isclose(got_epsilon, want_epsilon, rtol=1e-6, atol=0.0) and np.isclose(got_f1, want_f1):
        return
    slips = {**slips, (want_f1, want_epsilon): "Did you return (F1, epsilon) instead of (epsilon, F1)?"}
    hint = next(
        (
            text
            for (epsilon, f1), text in slips.items()
            if np.isclose(got_epsilon, epsilon, rtol=1e-6, atol=0.0) and np.isclose(got_f1, f1)
        ),
        "",
    )
    raise SelfCheckFailed(
        f"{call}: expected (epsilon, F1) = ({want_epsilon:.6g}, {want_f1:.6g}), "
        f"got ({got_epsilon:.6g}, {got_f1:.6g}).{' ' + hint if hint else ''}"
    )


def select_threshold_test(target: Callable) -> None:
    """Check select_threshold(y_val, p_val) on hand-worked cases, then on the lab's validation set."""
    for y_val, p_val, expected, slips in SELECT_THRESHOLD_CASES:
        call = f"select_threshold(y_val, p_val) with y_val = {y_val.tolist()}, p_val = {p_val.tolist()}"
        _check_select_threshold(target, y_val, p_val, expected, slips, call)
    _, X_val, y_val = load_data()
    p_val = multivariate_gaussian(X_val, REAL_MU, REAL_VAR)
    call = "select_threshold(y_val, p_val) on the lab's validation set"
    _check_select_threshold(target, y_val, p_val, (REAL_EPSILON, REAL_F1), {}, call)
    print(PASSED)

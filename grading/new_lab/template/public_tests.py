"""Self-check tests of the lab "LAB_TITLE": run them from the notebook after each exercise.

Each test calls the student's function on a case worked out by hand, then on the lab's data.
The first wrong result stops the test with one message: which case, what was expected, what
came back and, for a common slip, what to look at.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from selfcheck import SelfCheckFailed, failure_of_call

from utils import load_data

__all__ = ["standardize_test"]

PASSED = "\033[92mAll tests passed!\033[0m"
HINT_SAMPLE_STD = "Did you divide by the sample standard deviation (ddof=1)? The lab uses the population one (ddof=0)."


def _call(target: Callable[..., Any], X: np.ndarray, call: str) -> Any:
    """The student's function called on a copy of `X`, without letting warnings out."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return target(np.array(X, copy=True))
        except Exception as error:  # whatever the student's code raises is reported as a failure
            raise failure_of_call(call, target, error) from None


def _check_standardize(target: Callable[..., Any], X: np.ndarray, call: str) -> None:
    got = _call(target, X, call)
    if not isinstance(got, np.ndarray):
        raise SelfCheckFailed(f"{call}: returned {type(got).__name__} instead of a numpy array.")
    want = (X - X.mean(axis=0)) / X.std(axis=0)
    if got.shape != want.shape:
        raise SelfCheckFailed(f"{call}: returned an array of shape {got.shape} instead of {want.shape}.")
    if not np.allclose(got, want, rtol=1e-9, atol=1e-12):
        hint = HINT_SAMPLE_STD if np.allclose(got, (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)) else ""
        raise SelfCheckFailed(f"{call}: expected\n{want}\nbut got\n{got}\n{hint}".rstrip())


def standardize_test(target: Callable[..., Any]) -> None:
    """Check `standardize` on a small matrix, then on the lab's data."""
    _check_standardize(target, np.array([[1.0, 10.0], [3.0, 30.0]]), "standardize([[1, 10], [3, 30]])")
    _check_standardize(target, load_data(), "standardize(X)")
    print(PASSED)

"""Self-check tests of the time-series autoencoder lab: run them from the notebook after each exercise.

Each test calls your function on small cases whose answers can be worked out by hand (the
comments show how), then, where it helps, on the lab's signal. The first wrong result stops the
test with a message saying which case failed, what was expected, what came back and, for common
slips, what to look at.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from selfcheck import SelfCheckFailed, failure_of_call

from utils import TEST_FRACTION, WINDOW, make_cpu_signal

__all__ = ["split_and_normalise_test", "make_windows_test", "score_reconstruction_test", "bottleneck_activations_test"]

PASSED = "\033[92mAll tests passed!\033[0m"

# split_and_normalise(make_cpu_signal(), 0.25): the normalised test part's mean and std.
REAL_TEST_MEAN = -0.0025
REAL_TEST_STD = 1.0008


def _show(value: Any) -> str:
    return np.array2string(np.asarray(value, dtype=float), precision=4, threshold=12)


def _copy(arg: Any) -> Any:
    if isinstance(arg, list):
        return [np.array(item, copy=True) for item in arg]
    return np.array(arg, copy=True) if isinstance(arg, np.ndarray) else arg


def _call(target: Callable[..., Any], args: tuple, call: str) -> Any:
    """Call the student's function on copies of `args`; what it raises becomes a clear failure."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return target(*(_copy(arg) for arg in args))
        except Exception as error:  # whatever the student's code raises is reported as a failure
            raise failure_of_call(call, target, error) from None


def _values(result: Any, count: int, call: str, names: str) -> tuple:
    """The `count` values of `result`, or a SelfCheckFailed saying what came back instead."""
    if count == 1:
        if result is None:
            raise SelfCheckFailed(f"{call}: returned None. Did you forget `return {names}`?")
        return (result,)
    if result is None:
        raise SelfCheckFailed(f"{call}: returned None instead of ({names}). Did you forget `return {names}`?")
    if isinstance(result, list) and len(result) == count:
        raise SelfCheckFailed(f"{call}: returned a list of the {count} values; return a tuple: `return {names}`.")
    if not isinstance(result, tuple) or len(result) != count:
        raise SelfCheckFailed(f"{call}: expected the {count} values ({names}), got {type(result).__name__}.")
    return result


def _as_floats(value: Any, call: str, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SelfCheckFailed(f"{call}: {name} is a {type(value).__name__}, not numbers.") from None


def _compare(call: str, name: str, got: Any, want: np.ndarray, slips: dict[str, np.ndarray]) -> None:
    """Fail with the expected and returned values, and the hint of a slip that explains them."""
    got = _as_floats(got, call, name)
    if got.shape == want.shape and np.allclose(got, want, rtol=1e-7, atol=1e-9):
        return
    hint = next(
        (
            text
            for text, slip in slips.items()
            if got.shape == slip.shape and np.allclose(got, slip, rtol=1e-7, atol=1e-9, equal_nan=True)
        ),
        "",
    )
    if not hint and got.shape != want.shape:
        hint = f"Its shape is {got.shape}, expected {want.shape}."
    raise SelfCheckFailed(f"{call}: expected {name} {_show(want)}, got {_show(got)}. {hint}".rstrip())


# ---------------------------------------------------------------------------------------------
# Exercise 1: split_and_normalise
# ---------------------------------------------------------------------------------------------

# 8 samples, test fraction 0.25: the first int(8 * 0.75) = 6 train. Their mean is 24 / 6 = 4;
# deviations -2, 0, 0, 0, 1, 1 give a variance of 6 / 6 = 1, so std 1: train becomes its
# deviations and the test samples 7 and 9 become (7 - 4) / 1 = 3 and (9 - 4) / 1 = 5.
SPLIT_SERIES = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
SPLIT_TRAIN = np.array([-2.0, 0.0, 0.0, 0.0, 1.0, 1.0])
SPLIT_TEST = np.array([3.0, 5.0])
SPLIT_SLIPS_TRAIN = {
    # mean 5 and std 2 of all 8 samples
    "Compute the mean and std of the training part only, not of the whole series.": np.array(
        [-1.5, -0.5, -0.5, -0.5, 0.0, 0.0]
    ),
    "Use the population std (np.std, dividing by m), not the sample std (ddof=1).": SPLIT_TRAIN / np.sqrt(6 / 5),
    "Did you add a small number to the std? Divide by the std itself (and raise a ValueError when it is 0).": SPLIT_TRAIN
    / (1 + 1e-4),
}
# 9 samples, the same 8 and then 8.0: int(9 * 0.75) = int(6.75) = 6 train, as above (int() rounds
# down), so the statistics do not change and the test part is 3, 5 and (8 - 4) / 1 = 4.
SPLIT_SERIES_9 = np.append(SPLIT_SERIES, 8.0)
SPLIT_TEST_9 = np.array([3.0, 5.0, 4.0])
SPLIT_SLIPS_TEST = {
    "Normalise the test part with the training mean and std, not with its own.": np.array([-1.0, 1.0]),
    "Compute the mean and std of the training part only, not of the whole series.": np.array([1.0, 2.0]),
    "Did you add a small number to the std? Divide by the std itself.": SPLIT_TEST * (1 / (1 + 1e-4)),
}


def _check_time_order(call: str, train: Any) -> None:
    """Whatever statistics were used, a training part split in time order is an affine
    function of the series' first 6 samples; a shuffled one is not."""
    train = _as_floats(train, call, "train")
    if train.shape == (6,) and np.all(np.isfinite(train)) and np.std(train) > 0:
        if abs(np.corrcoef(train, SPLIT_SERIES[:6])[0, 1]) < 1 - 1e-9:
            raise SelfCheckFailed(
                f"{call}: the training samples are not the first 6 samples in their order. "
                "Split in time order, without shuffling."
            )


def split_and_normalise_test(target: Callable) -> None:
    """Check split_and_normalise on 8 and 9 hand-worked samples, a constant series and the lab's signal."""
    call = f"split_and_normalise(series, 0.25) with series = {SPLIT_SERIES.tolist()}"
    train, test = _values(_call(target, (SPLIT_SERIES, 0.25), call), 2, call, "train, test")
    _check_time_order(call, train)
    _compare(call, "train", train, SPLIT_TRAIN, SPLIT_SLIPS_TRAIN)
    _compare(call, "test", test, SPLIT_TEST, SPLIT_SLIPS_TEST)

    call = f"split_and_normalise(series, 0.25) with series = {SPLIT_SERIES_9.tolist()}"
    train, test = _values(_call(target, (SPLIT_SERIES_9, 0.25), call), 2, call, "train, test")
    shapes = (np.shape(train), np.shape(test))
    if shapes != ((6,), (3,)):
        raise SelfCheckFailed(
            f"{call}: expected 6 training and 3 test samples, got shapes {shapes[0]} and {shapes[1]}. "
            "The training part is the first int(len(series) * (1 - test_fraction)) samples: "
            "int(9 * 0.75) = int(6.75) = 6, rounded down."
        )
    _compare(call, "train", train, SPLIT_TRAIN, {})
    _compare(call, "test", test, SPLIT_TEST_9, {})

    constant = np.full(8, 3.0)
    call = "split_and_normalise(series, 0.25) with a constant series (all 3.0)"
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            target(constant.copy(), 0.25)
    except ValueError:
        pass
    except Exception as error:
        raise SelfCheckFailed(f"{call}: raised {type(error).__name__}; raise a ValueError instead.") from error
    else:
        raise SelfCheckFailed(f"{call}: returned without an error. Its std is 0: raise a ValueError.")

    call = "split_and_normalise(signal, 0.25) on the lab's signal"
    train, test = _values(_call(target, (make_cpu_signal(), TEST_FRACTION), call), 2, call, "train, test")
    train, test = _as_floats(train, call, "train"), _as_floats(test, call, "test")
    if train.shape != (75_000,) or test.shape != (25_000,):
        raise SelfCheckFailed(
            f"{call}: expected 75000 training and 25000 test samples, got shapes {train.shape} and {test.shape}."
        )
    if not (abs(test.mean() - REAL_TEST_MEAN) < 1e-4 and abs(test.std() - REAL_TEST_STD) < 1e-4):
        raise SelfCheckFailed(
            f"{call}: the test part has mean {test.mean():.4f} and std {test.std():.4f}, "
            f"expected {REAL_TEST_MEAN} and {REAL_TEST_STD}."
        )
    print(PASSED)


# ---------------------------------------------------------------------------------------------
# Exercise 2: make_windows
# ---------------------------------------------------------------------------------------------


def _windows(series: np.ndarray, starts: list[int], window: int) -> np.ndarray:
    return np.array([series[start : start + window] for start in starts], dtype=float)


SERIES_10 = np.arange(10.0)
# (window, step, starts of the windows): the last start is the largest multiple of step that
# is at most n - window, so there are (n - window) // step + 1 windows.
MAKE_WINDOWS_CASES = [
    (3, 1, [0, 1, 2, 3, 4, 5, 6, 7]),  # (10 - 3) // 1 + 1 = 8
    (3, 2, [0, 2, 4, 6]),  # (10 - 3) // 2 + 1 = 4
    (2, 4, [0, 4, 8]),  # (10 - 2) // 4 + 1 = 3
    (10, 1, [0]),  # the series is one window
]


def make_windows_test(target: Callable) -> None:
    """Check make_windows on 0, 1, ..., 9 with several windows and steps, then on the training part."""
    for window, step, starts in MAKE_WINDOWS_CASES:
        call = f"make_windows(series, {window}, {step}) with series = [0, 1, ..., 9]"
        want = _windows(SERIES_10, starts, window)
        got = _values(_call(target, (SERIES_10, window, step), call), 1, call, "windows")[0]
        slips = {
            "One window is missing: the last one starts at n - window, so there are "
            "(n - window) // step + 1 windows.": want[:-1],
        }
        _compare(call, "windows", got, want, slips)
    train = make_cpu_signal(1000)
    call = "make_windows(series, 30, 1) on 1000 samples of the signal"
    got = _as_floats(_values(_call(target, (train, WINDOW, 1), call), 1, call, "windows")[0], call, "windows")
    if got.shape != (971, 30) or not np.array_equal(got[204], train[204:234]):
        raise SelfCheckFailed(
            f"{call}: expected shape (971, 30) with row 204 = series[204:234], got shape {got.shape}."
        )
    print(PASSED)


# ---------------------------------------------------------------------------------------------
# Exercise 3: score_reconstruction
# ---------------------------------------------------------------------------------------------

# The reconstruction is 0, so the error is the target. With window 3 each rolling mean averages a
# sample and the two before it (fewer at the start): 0, 0.5/2, 1.5/3, 2.5/3, 2.5/3, 1.5/3. Only
# the two 2.5/3 are strictly above the threshold 0.5.
SCORE_TARGET = np.array([0.0, 0.5, 1.0, 1.0, 0.5, 0.0])
SCORE_ROLLING = np.array([0.0, 0.25, 0.5, 2.5 / 3, 2.5 / 3, 0.5])
SCORE_FLAGGED = np.array([False, False, False, True, True, False])
# Errors of 1 in both directions: |1 - 0| = |1 - 2| = 1, so every rolling mean is 1.
SIGNED_TARGET = np.ones(4)
SIGNED_RECONSTRUCTION = np.array([0.0, 2.0, 0.0, 2.0])


def score_reconstruction_test(target: Callable) -> None:
    """Check score_reconstruction on two hand-worked cases."""
    call = f"score_reconstruction(target, reconstruction, 3, 0.5) with target = {SCORE_TARGET.tolist()} and reconstruction = 0"
    result = _call(target, (SCORE_TARGET, np.zeros(6), 3, 0.5), call)
    error, rolling, flagged = _values(result, 3, call, "error, rolling_mean, flagged")
    _compare(
        call, "error", error, SCORE_TARGET, {"The error is squared: use the absolute difference.": SCORE_TARGET**2}
    )
    _compare(
        call,
        "rolling_mean",
        rolling,
        SCORE_ROLLING,
        {
            "The first samples should average the samples there are, not be NaN.": np.array(
                [np.nan, np.nan, 0.5, 2.5 / 3, 2.5 / 3, 0.5]
            ),
            "Did you leave out the current sample? Sample t averages samples max(0, t - window + 1) to t.": np.array(
                [np.nan, 0.0, 0.25, 0.5, 2.5 / 3, 2.5 / 3]
            ),
            "Did you centre the window? The rolling mean looks back only.": np.array(
                [0.25, 0.5, 2.5 / 3, 2.5 / 3, 0.5, 0.25]
            ),
            "The error itself is returned: average it over the window.": SCORE_TARGET,
        },
    )
    _compare(
        call,
        "flagged",
        flagged,
        SCORE_FLAGGED.astype(float),
        {
            "Flag samples strictly above the threshold (>), not at it (>=).": np.array([0.0, 0, 1, 1, 1, 1]),
            "Flag by the rolling mean, not by the error itself.": np.array([0.0, 0, 1, 1, 0, 0]),
        },
    )
    if np.asarray(flagged).dtype != bool:
        raise SelfCheckFailed(
            f"{call}: flagged should be a boolean array (rolling_mean > threshold), "
            f"got dtype {np.asarray(flagged).dtype}."
        )

    call = "score_reconstruction(target, reconstruction, 4, 0.5) with target = [1, 1, 1, 1] and reconstruction = [0, 2, 0, 2]"
    result = _call(target, (SIGNED_TARGET, SIGNED_RECONSTRUCTION, 4, 0.5), call)
    error, rolling, _ = _values(result, 3, call, "error, rolling_mean, flagged")
    _compare(
        call, "error", error, np.ones(4), {"Take the absolute value of the difference.": np.array([1.0, -1, 1, -1])}
    )
    _compare(call, "rolling_mean", rolling, np.ones(4), {})
    print(PASSED)


# ---------------------------------------------------------------------------------------------
# Exercise 4: bottleneck_activations
# ---------------------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# A 3-2-3 network (2 weight matrices; the encoder is the first one). Window [1, 2, 3] gives the
# weighted sums 1*1 + 2*0 + 3*1 + 0 = 4 and 1*0 + 2*1 + 3*0 - 2 = 0, so sigmoid(4) and 0.5.
SMALL_WINDOWS = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
SMALL_COEFS = [np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])]
SMALL_INTERCEPTS = [np.array([0.0, -2.0]), np.array([0.0, 0.0, 0.0])]
SMALL_EXPECTED = np.array([[_sigmoid(4.0), 0.5], [0.5, _sigmoid(-2.0)]])


def bottleneck_activations_test(target: Callable) -> None:
    """Check bottleneck_activations on a hand-worked 3-2-3 network and on a 30-20-10-5-10-20-30 one."""
    call = "bottleneck_activations(windows, coefs, intercepts) with a 3-2-3 network"
    got = _values(_call(target, (SMALL_WINDOWS, SMALL_COEFS, SMALL_INTERCEPTS), call), 1, call, "activations")[0]
    _compare(
        call,
        "activations",
        got,
        SMALL_EXPECTED,
        {
            "Apply the sigmoid to each layer's weighted sum.": np.array([[4.0, 0.0], [0.0, -2.0]]),
            "Add each layer's intercepts (biases) before the sigmoid.": _sigmoid(SMALL_WINDOWS @ SMALL_COEFS[0]),
            "Did you stop one layer early? Apply the first len(coefs) // 2 layers (here 1).": SMALL_WINDOWS,
        },
    )

    rng = np.random.default_rng(5)
    sizes = [30, 20, 10, 5, 10, 20, 30]
    coefs = [rng.normal(0, 0.5, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(0, 0.5, b) for b in sizes[1:]]
    windows = rng.normal(size=(4, 30))
    call = "bottleneck_activations(windows, coefs, intercepts) with a 30-20-10-5-10-20-30 network and 4 windows"
    got = _as_floats(
        _values(_call(target, (windows, coefs, intercepts), call), 1, call, "activations")[0], call, "activations"
    )
    if got.shape != (4, 5):
        hint = {
            (4, 10): " Did you stop one layer early or go one too far?",
            (4, 30): " Return the bottleneck, not the output.",
            (4, 20): " Apply the first len(coefs) // 2 = 3 layers.",
        }.get(got.shape, "")
        raise SelfCheckFailed(f"{call}: expected shape (4, 5), got {got.shape}.{hint}")
    if np.any(got <= 0) or np.any(got >= 1):
        raise SelfCheckFailed(
            f"{call}: sigmoid activations lie between 0 and 1, got values from {got.min():.4g} to {got.max():.4g}."
        )
    print(PASSED)

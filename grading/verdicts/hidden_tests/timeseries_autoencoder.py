"""Hidden tests of the time-series autoencoder lab.

Each exercise is tested on small fixtures only (no network is trained here). The cases are
chosen so that the lab's named mistakes and hard-coded answers get caught, and so that where the
specification prescribes a rule, the rule and its common alternatives give different answers:
- split_and_normalise: series with a trend, so that statistics of the test part or of the whole
  series, a shuffle before the split, or the sample standard deviation all give other numbers;
  test fractions other than 0.25; splits that do not fall on a whole number of samples, where
  the prescribed int(len(series) * (1 - test_fraction)) training samples differ from
  n - int(n * test_fraction), round() and ceil(); a constant series must raise a ValueError
  (an instance of ValueError or of a subclass).
- make_windows: lengths where (n - window) is a multiple of the step, so that one window too few
  (or too many) shows, and steps larger than the window.
- score_reconstruction: errors in both directions (the absolute value), a threshold that a
  rolling mean equals exactly (strictly above), windows of 1 and longer than the series (the
  partial means at the start), random cases with other windows and thresholds; `flagged` must be
  a boolean array (0/1 integers are not).
- bottleneck_activations: networks of several depths (the encoder is the first len(coefs) // 2
  layers, also for an odd number of layers, where it does not end at the narrowest one), weights
  large enough to saturate the sigmoid, no bias left out unnoticed.
No split of the hidden cases lies within rounding of a whole number of samples unless it is one
(a test in the kit checks it), and no random rolling mean lies within 1e-9 of its threshold.
Every function of several outputs must return a tuple, as its `return a, b` does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from grading.verdicts.checks import Case, Exercise, Outputs, check_exercise, describe_dtype, describe_mismatch


def reference_split_and_normalise(series: np.ndarray, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    split = int(len(series) * (1 - test_fraction))
    train = series[:split]
    mean = sum(train) / len(train)
    std = (sum((x - mean) ** 2 for x in train) / len(train)) ** 0.5
    return (series[:split] - mean) / std, (series[split:] - mean) / std


def reference_make_windows(series: np.ndarray, window: int, step: int) -> np.ndarray:
    return np.array([series[start : start + window] for start in range(0, len(series) - window + 1, step)])


def reference_score_reconstruction(
    target: np.ndarray, reconstruction: np.ndarray, window: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    error = np.abs(target - reconstruction)
    rolling = np.array([np.mean(error[max(0, t - window + 1) : t + 1]) for t in range(len(error))])
    return error, rolling, rolling > threshold


def reference_bottleneck_activations(
    windows: np.ndarray, coefs: list[np.ndarray], intercepts: list[np.ndarray]
) -> np.ndarray:
    activations = windows
    for coef, intercept in list(zip(coefs, intercepts))[: len(coefs) // 2]:
        z = activations @ coef + intercept
        activations = np.exp(-np.logaddexp(0.0, -z))  # the sigmoid, without overflow
    return activations


# ---------------------------------------------------------------------------------------------
# Exercise 1
# ---------------------------------------------------------------------------------------------


def _cpu_like(rng: np.random.Generator, n: int, trend: float) -> np.ndarray:
    t = np.arange(n)
    return 40 + trend * t + 8 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1.5, n)


@cache
def split_and_normalise_cases() -> list[Case]:
    rng = np.random.default_rng(31)
    return [
        Case(
            "trend_quarter", (_cpu_like(rng, 400, 0.05), 0.25), "400 samples with an upward trend, test fraction 0.25"
        ),
        Case(
            "half",
            (np.concatenate([rng.normal(5, 1, 10), rng.normal(9, 3, 10)]), 0.5),
            "20 samples whose second half is higher and wider, test fraction 0.5",
        ),
        Case("fifth", (_cpu_like(rng, 50, -0.2), 0.2), "50 samples with a downward trend, test fraction 0.2"),
        Case(
            "large_level",
            (1000 + rng.normal(0, 0.01, 64).cumsum(), 0.25),
            "64 samples near 1000 that drift, test fraction 0.25",
        ),
        # 41 * 0.75 = 30.75 and 37 * 0.8 = 29.6: the prescribed int() keeps 30 and 29 training
        # samples; n - int(n * test_fraction), round() and ceil() keep one more.
        Case(
            "split_not_whole",
            (_cpu_like(rng, 41, 0.1), 0.25),
            "41 samples, test fraction 0.25 (int(41 * 0.75) = 30 training samples)",
        ),
        Case(
            "split_not_whole_fifth",
            (_cpu_like(rng, 37, -0.1), 0.2),
            "37 samples, test fraction 0.2 (int(37 * 0.8) = 29 training samples)",
        ),
        Case("constant", (np.full(12, 7.5), 0.25), "a constant series (standard deviation 0)", raises="ValueError"),
    ]


def compare_split_and_normalise(case: Case, outputs: Outputs) -> list[str]:
    expected = reference_split_and_normalise(*case.args)
    problems = (
        describe_mismatch(label, want, got, rtol=1e-7, atol=1e-9)
        for label, want, got in zip(("train", "test"), expected, outputs)
    )
    return [problem for problem in problems if problem]


# ---------------------------------------------------------------------------------------------
# Exercise 2
# ---------------------------------------------------------------------------------------------


@cache
def make_windows_cases() -> list[Case]:
    rng = np.random.default_rng(32)
    return [
        Case("step_one", (rng.normal(size=40), 30, 1), "40 samples, window 30, step 1"),
        Case(
            "exact_fit",
            (rng.normal(size=25), 5, 5),
            "25 samples, window 5, step 5 (the last window ends at the last sample)",
        ),
        Case("step_three", (np.arange(50.0), 7, 3), "50 samples, window 7, step 3"),
        Case("gaps", (rng.uniform(size=40), 5, 7), "40 samples, window 5, step 7 (gaps between windows)"),
        Case("one_window", (rng.normal(size=12), 12, 4), "12 samples, window 12 (a single window)"),
        Case("leftover", (rng.normal(size=33), 10, 4), "33 samples, window 10, step 4 (samples left over at the end)"),
    ]


def compare_make_windows(case: Case, outputs: Outputs) -> list[str]:
    problem = describe_mismatch("windows", reference_make_windows(*case.args), outputs[0], rtol=0.0, atol=0.0)
    return [problem] if problem else []


# ---------------------------------------------------------------------------------------------
# Exercise 3
# ---------------------------------------------------------------------------------------------


@cache
def score_reconstruction_cases() -> list[Case]:
    rng = np.random.default_rng(33)
    cases = [
        Case(
            "exact_threshold",
            (np.array([0.0, 0.5, 1.0, 1.0, 0.5, 0.0, 0.25, 0.75]), np.zeros(8), 2, 0.75),
            "8 samples whose rolling means (window 2) reach the threshold 0.75 exactly",
        ),
        Case(
            "both_directions",
            (np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), np.array([0.0, 2.0, 0.5, 1.5, 3.0, -1.0]), 3, 0.9),
            "6 samples reconstructed too low and too high, window 3",
        ),
        Case("window_one", (rng.normal(size=20), rng.normal(size=20), 1, 1.0), "20 random samples, window 1"),
        Case(
            "window_longer",
            (rng.normal(size=6), rng.normal(size=6), 10, 0.8),
            "6 random samples, window 10 (longer than the series)",
        ),
    ]
    for index, (n, window, threshold) in enumerate(((200, 50, 0.6), (120, 7, 0.9))):
        target = rng.normal(size=n)
        reconstruction = target + rng.normal(0, 0.8, n) * (np.arange(n) > n // 2)
        cases.append(
            Case(
                f"random_{index}",
                (target, reconstruction, window, threshold),
                f"{n} random samples, window {window}, threshold {threshold}",
            )
        )
    return cases


def compare_score_reconstruction(case: Case, outputs: Outputs) -> list[str]:
    expected = reference_score_reconstruction(*case.args)
    problems = [
        describe_mismatch("error", expected[0], outputs[0], rtol=1e-9, atol=1e-12),
        describe_mismatch("rolling_mean", expected[1], outputs[1], rtol=1e-9, atol=1e-12),
        describe_dtype(
            "flagged", outputs[2], "bool", "return the boolean array rolling_mean > threshold, not 0/1 numbers"
        )
        or describe_mismatch("flagged", expected[2], outputs[2], rtol=0.0, atol=0.0),
    ]
    return [problem for problem in problems if problem]


# ---------------------------------------------------------------------------------------------
# Exercise 4
# ---------------------------------------------------------------------------------------------


def _network(rng: np.random.Generator, sizes: list[int], scale: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    coefs = [rng.normal(0, scale, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(0, scale, b) for b in sizes[1:]]
    return coefs, intercepts


@cache
def bottleneck_activations_cases() -> list[Case]:
    rng = np.random.default_rng(34)
    cases = []
    for name, sizes, scale, n_windows, description in (
        ("lab_network", [30, 20, 10, 5, 10, 20, 30], 0.5, 6, "the lab's 30-20-10-5-10-20-30 shape, random weights"),
        ("two_layer_encoder", [4, 3, 2, 3, 4], 1.0, 5, "a 4-3-2-3-4 network (encoder of 2 layers)"),
        ("one_layer_encoder", [6, 4, 6], 1.0, 3, "a 6-4-6 network (encoder of 1 layer)"),
        ("saturated", [8, 6, 3, 6, 8], 40.0, 4, "an 8-6-3-6-8 network with large weights (saturated sigmoids)"),
        (
            "odd_depth",
            [6, 4, 3, 2, 4, 6],
            1.0,
            4,
            "a 6-4-3-2-4-6 network of 5 weight matrices (encoder: the first 5 // 2 = 2 layers)",
        ),
    ):
        coefs, intercepts = _network(rng, sizes, scale)
        cases.append(Case(name, (rng.normal(size=(n_windows, sizes[0])), coefs, intercepts), description))
    return cases


def compare_bottleneck_activations(case: Case, outputs: Outputs) -> list[str]:
    problem = describe_mismatch(
        "activations", reference_bottleneck_activations(*case.args), outputs[0], rtol=1e-7, atol=1e-12
    )
    return [problem] if problem else []


EXERCISES = {
    "test_split_and_normalise": Exercise(
        grade_id="test_split_and_normalise",
        answer_cell="split_and_normalise",
        function="split_and_normalise",
        n_outputs=2,
        cases=split_and_normalise_cases,
        compare=compare_split_and_normalise,
    ),
    "test_make_windows": Exercise(
        grade_id="test_make_windows",
        answer_cell="make_windows",
        function="make_windows",
        n_outputs=1,
        cases=make_windows_cases,
        compare=compare_make_windows,
    ),
    "test_score_reconstruction": Exercise(
        grade_id="test_score_reconstruction",
        answer_cell="score_reconstruction",
        function="score_reconstruction",
        n_outputs=3,
        cases=score_reconstruction_cases,
        compare=compare_score_reconstruction,
    ),
    "test_bottleneck_activations": Exercise(
        grade_id="test_bottleneck_activations",
        answer_cell="bottleneck_activations",
        function="bottleneck_activations",
        n_outputs=1,
        cases=bottleneck_activations_cases,
        compare=compare_bottleneck_activations,
    ),
}


def check_split_and_normalise(split_and_normalise: Callable) -> None:
    """Hidden checks of Exercise 1."""
    check_exercise(EXERCISES["test_split_and_normalise"], split_and_normalise)


def check_make_windows(make_windows: Callable) -> None:
    """Hidden checks of Exercise 2."""
    check_exercise(EXERCISES["test_make_windows"], make_windows)


def check_score_reconstruction(score_reconstruction: Callable) -> None:
    """Hidden checks of Exercise 3."""
    check_exercise(EXERCISES["test_score_reconstruction"], score_reconstruction)


def check_bottleneck_activations(bottleneck_activations: Callable) -> None:
    """Hidden checks of Exercise 4."""
    check_exercise(EXERCISES["test_bottleneck_activations"], bottleneck_activations)

"""Hidden tests of the time-series autoencoder lab.

Each exercise is tested on small fixtures only (no network is trained here), drawn for each
student from their seed: one case of each kind below, whose numbers (lengths, windows, values,
weights) vary. The kinds are chosen so that the lab's named mistakes and hard-coded answers get
caught whatever the draw, and so that where the specification prescribes a rule, the rule and
its common alternatives give different answers:
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
  large enough to saturate the sigmoid, no bias left out unnoticed, and windows far from zero
  whose small differences only float64 keeps.
No split of the hidden cases lies within rounding of a whole number of samples unless it is one
(a test in the kit checks it for many seeds), and no rolling mean lies within 1e-9 of its
threshold unless the kind says it equals it (a draw that would is drawn again).
Every function of several outputs must return a tuple, as its `return a, b` does.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _length(rng: np.random.Generator, low: int, high: int, modulus: int, remainder: int) -> int:
    """A length in [low, high) that leaves `remainder` when divided by `modulus`."""
    return int(rng.integers(low, high) // modulus * modulus + remainder)


def split_and_normalise_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(
            "trend_quarter",
            (_cpu_like(rng, 4 * int(rng.integers(75, 126)), rng.uniform(0.02, 0.08)), 0.25),
            "a long series with an upward trend, test fraction 0.25",
        ),
        Case(
            "half",
            (np.concatenate([rng.normal(5, 1, 10), rng.normal(9, 3, 10)]), 0.5),
            "a series whose second half is higher and wider, test fraction 0.5",
        ),
        Case(
            "fifth",
            (_cpu_like(rng, 5 * int(rng.integers(8, 13)), -rng.uniform(0.1, 0.3)), 0.2),
            "a series with a downward trend, test fraction 0.2",
        ),
        Case(
            "large_level",
            (rng.uniform(500, 2000) + rng.normal(0, 0.01, 4 * int(rng.integers(12, 20))).cumsum(), 0.25),
            "a series far from 0 that drifts, test fraction 0.25",
        ),
        # n = 4k + 1 and 5k + 2 samples: n * 0.75 and n * 0.8 end in .75 and .6, so the prescribed
        # int() keeps one training sample fewer than n - int(n * test_fraction), round() and ceil().
        Case(
            "split_not_whole",
            (_cpu_like(rng, _length(rng, 30, 60, 4, 1), rng.uniform(0.05, 0.15)), 0.25),
            "a series whose split falls between two samples, test fraction 0.25 (int() rounds it down)",
        ),
        Case(
            "split_not_whole_fifth",
            (_cpu_like(rng, _length(rng, 30, 60, 5, 2), -rng.uniform(0.05, 0.15)), 0.2),
            "a series whose split falls between two samples, test fraction 0.2 (int() rounds it down)",
        ),
        Case(
            "constant",
            # a level in quarters: its mean is exact, so every way of computing the spread gives 0
            (np.full(int(rng.integers(8, 20)), rng.integers(-40, 40) / 4), 0.25),
            "a constant series (standard deviation 0)",
            raises="ValueError",
            showable=True,
        ),
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


def make_windows_cases(rng: np.random.Generator) -> list[Case]:
    window, step = int(rng.integers(3, 9)), int(rng.integers(2, 5))
    fit_window = int(rng.integers(3, 7))
    gap_window = int(rng.integers(3, 7))
    left_window, left_step = int(rng.integers(6, 12)), int(rng.integers(3, 6))
    single = int(rng.integers(8, 16))
    return [
        Case(
            "step_one",
            (rng.normal(size=int(rng.integers(30, 50))), int(rng.integers(20, 30)), 1),
            "a window most of the series long, step 1",
        ),
        Case(
            "exact_fit",
            (rng.normal(size=fit_window * int(rng.integers(4, 7))), fit_window, fit_window),
            "windows side by side, the last ending at the last sample (step = window)",
        ),
        Case(
            "step_three",
            (np.arange(float(window + step * int(rng.integers(8, 15)))), window, step),
            "a ramp whose last window ends at the last sample (steps smaller than the window)",
        ),
        Case(
            "gaps",
            (rng.uniform(size=int(rng.integers(30, 50))), gap_window, gap_window + int(rng.integers(1, 4))),
            "gaps between windows (step larger than the window)",
        ),
        Case(
            "one_window",
            (rng.normal(size=single), single, int(rng.integers(1, 6))),
            "a series exactly one window long",
        ),
        Case(
            "leftover",
            (
                rng.normal(size=left_window + left_step * int(rng.integers(3, 7)) + int(rng.integers(1, left_step))),
                left_window,
                left_step,
            ),
            "samples left over at the end (too few for one more window)",
        ),
    ]


def compare_make_windows(case: Case, outputs: Outputs) -> list[str]:
    problem = describe_mismatch("windows", reference_make_windows(*case.args), outputs[0], rtol=0.0, atol=0.0)
    return [problem] if problem else []


# ---------------------------------------------------------------------------------------------
# Exercise 3
# ---------------------------------------------------------------------------------------------


def _clear_threshold(target, reconstruction, window: int, threshold: float) -> bool:
    """Whether no rolling mean lies within 1e-9 of the threshold (no verdict hinges on rounding)."""
    _, rolling, _ = reference_score_reconstruction(target, reconstruction, window, threshold)
    return bool(np.all(np.abs(rolling - threshold) > 1e-9))


def _exact_threshold(rng: np.random.Generator) -> tuple:
    """Errors in quarters, so that every rolling mean of 2 is exact, and a threshold that one equals."""
    n = int(rng.integers(8, 14))
    target = rng.integers(0, 5, n) / 4
    while True:
        rolling = reference_score_reconstruction(target, np.zeros(n), 2, 0.0)[1]
        above = rolling[(rolling > rolling.min()) & (rolling < rolling.max())]
        if len(above):
            return target, np.zeros(n), 2, float(rng.choice(above))
        target = rng.integers(0, 5, n) / 4


def _random_scores(rng: np.random.Generator, n: int, window: int) -> tuple:
    """A series reconstructed well in its first half and badly in its second, and a threshold
    between its rolling means, none within rounding of it."""
    while True:
        target = rng.normal(size=n)
        reconstruction = target + rng.normal(0, 0.8, n) * (np.arange(n) > n // 2)
        threshold = round(float(rng.uniform(0.3, 0.9)), 2)
        if _clear_threshold(target, reconstruction, window, threshold):
            return target, reconstruction, window, threshold


def score_reconstruction_cases(rng: np.random.Generator) -> list[Case]:
    n = int(rng.integers(5, 9))
    target = np.ones(n)
    while True:
        reconstruction = target + rng.choice([-1, 1], n) * rng.uniform(0.2, 2.0, n)
        reconstruction[:2] = target[:2] + [-1.0, 1.0]  # too low and too high, whatever the draw
        if _clear_threshold(target, reconstruction, 3, 0.9):
            break
    short = int(rng.integers(4, 8))
    return [
        Case(
            "exact_threshold",
            _exact_threshold(rng),
            "rolling means (window 2) that reach the threshold exactly (flagged only above it)",
        ),
        Case(
            "both_directions",
            (target, reconstruction, 3, 0.9),
            "samples reconstructed too low and too high, window 3",
        ),
        Case(
            "window_one",
            _random_scores(rng, int(rng.integers(15, 25)), 1),
            "random samples, window 1",
        ),
        Case(
            "window_longer",
            _random_scores(rng, short, short + int(rng.integers(2, 6))),
            "random samples, a window longer than the series",
        ),
        Case(
            "random_0",
            _random_scores(rng, int(rng.integers(150, 250)), int(rng.integers(30, 60))),
            "a long random series, a long window",
        ),
        Case(
            "random_1",
            _random_scores(rng, int(rng.integers(100, 140)), int(rng.integers(5, 10))),
            "a random series, a short window",
        ),
    ]


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


def bottleneck_activations_cases(rng: np.random.Generator) -> list[Case]:
    def widths(low: int, high: int, count: int) -> list[int]:
        """`count` different widths, widest first: each network narrows to its bottleneck."""
        return sorted((int(width) for width in rng.choice(np.arange(low, high), count, replace=False)), reverse=True)

    a, b, c = widths(3, 9, 3)
    odd = widths(2, 8, 4)
    cases = []
    for name, sizes, scale, description in (
        ("lab_network", [30, 20, 10, 5, 10, 20, 30], 0.5, "the lab's 30-20-10-5-10-20-30 shape, random weights"),
        ("two_layer_encoder", [a + 1, b, c, b, a + 1], 1.0, "a network of 4 weight matrices (an encoder of 2 layers)"),
        ("one_layer_encoder", [a + 2, c, a + 2], 1.0, "a network of 2 weight matrices (an encoder of 1 layer)"),
        (
            "saturated",
            [a + 2, b + 1, c, b + 1, a + 2],
            40.0,
            "a network with large weights (saturated sigmoids)",
        ),
        (
            "odd_depth",
            [odd[0] + 2, odd[1] + 1, odd[2], odd[3], odd[1] + 1, odd[0] + 2],
            1.0,
            "a network of 5 weight matrices (an odd depth: the encoder is the first 5 // 2 = 2 layers)",
        ),
    ):
        coefs, intercepts = _network(rng, sizes, scale)
        windows = rng.normal(size=(int(rng.integers(3, 8)), sizes[0]))
        cases.append(Case(name, (windows, coefs, intercepts), description))
    cases.append(Case("far_from_zero", _far_from_zero(rng, [a + 2, b + 1, c, b + 1, a + 2]), FAR_FROM_ZERO))
    return cases


FAR_FROM_ZERO = "windows far from zero whose small differences decide the encoding (the first bias cancels their level)"


def _far_from_zero(rng: np.random.Generator, sizes: list[int]) -> tuple:
    """Windows at a level of hundreds that vary in their sixth significant digit, and a first layer
    whose bias takes the level away: the encoding is made of the small differences, which float64
    keeps and float32 (7 significant digits) mostly loses."""
    coefs, intercepts = _network(rng, sizes, 1.0)
    level = rng.uniform(200, 2000)
    windows = level + rng.normal(0, 1e-3, size=(int(rng.integers(3, 8)), sizes[0]))
    intercepts[0] = intercepts[0] * 1e-3 - level * coefs[0].sum(axis=0)
    return windows, coefs, intercepts


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

"""Hidden tests of the Gaussian anomaly-detection lab.

Besides the real data (which the public tests also use), the cases below are chosen so that
code which hard-codes the published numbers, or which departs from the specification only
where the real data cannot tell, gets caught:
- wide and single-column matrices catch means over the wrong axis and hard-coded results;
- a case whose smallest p is the only anomaly separates `p < epsilon` from `p <= epsilon`;
- a plateau of equal F1 separates keeping the first best epsilon from keeping the last;
- small random cases separate the harmonic mean of precision and recall from other means;
- two cases whose best epsilon is at the end of the grid separate the lab's scan (exactly 1000
  epsilons, min(p_val) + k * step for k = 0, ..., 999) from one that goes on to max(p_val)
  (1001) or stops one short (999).
No case has two epsilons whose F1 differ only by rounding, every case's grid is exactly 1000
epsilons long, and no case's answer changes when its epsilons move by a rounding error (a test
in the kit checks all three), so every correct way of computing F1 or the grid picks the same
epsilon. Every case has an epsilon that flags an anomaly, so a correct answer is two floats.

Beyond values, the verdict checks the types the specification names: `mu` and `var` are
float64 arrays of shape (n,) (the lab asks for numpy's default double precision, and compares
to 9 significant digits, which float32 cannot reach), `epsilon` and `F1` are single floats, and
both functions return a tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import cache

import numpy as np

from grading.course import KIT_ROOT
from grading.verdicts.checks import (
    Case,
    Exercise,
    Outputs,
    check_exercise,
    describe_dtype,
    describe_float,
    describe_mismatch,
    once_per_arguments,
)

DATA_DIR = KIT_ROOT / "solutions" / "anomaly_detection" / "data"


def reference_estimate_gaussian(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and population variance (divided by m)."""
    mu = X.mean(axis=0)
    return mu, ((X - mu) ** 2).mean(axis=0)


@once_per_arguments  # a 1000-step scan in exact arithmetic: the grader's costliest reference
def reference_select_threshold(y_val: np.ndarray, p_val: np.ndarray) -> tuple[float, float]:
    """The first epsilon of the lab's 1000-step scan with the best F1, and that F1.

    F1 is compared exactly (as the fraction 2tp / (2tp + fp + fn)), so that which of two
    equal scores comes first never depends on rounding.
    """
    step = (np.max(p_val) - np.min(p_val)) / 1000
    best_epsilon, best_f1 = 0.0, Fraction(0)
    anomalous = y_val == 1
    for epsilon in np.arange(np.min(p_val), np.max(p_val), step):
        predicted = p_val < epsilon
        tp = int(np.sum(predicted & anomalous))
        fp = int(np.sum(predicted & ~anomalous))
        fn = int(np.sum(~predicted & anomalous))
        if tp > 0 and Fraction(2 * tp, 2 * tp + fp + fn) > best_f1:
            best_epsilon, best_f1 = float(epsilon), Fraction(2 * tp, 2 * tp + fp + fn)
    return best_epsilon, float(best_f1)


def _density(X: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Density of independent normal features, the model the lab fits."""
    return np.prod(np.exp(-((X - mu) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var), axis=1)


def _real_data(part: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names = (f"X_part{part}.npy", f"X_val_part{part}.npy", f"y_val_part{part}.npy")
    return tuple(np.load(DATA_DIR / name, allow_pickle=False) for name in names)  # type: ignore[return-value]


@cache
def estimate_gaussian_cases() -> list[Case]:
    rng = np.random.default_rng(20260421)
    columns_apart = rng.normal(loc=[0.0, 50.0, -3.0], scale=[1.0, 10.0, 0.1], size=(7, 3))
    cases = [
        Case("real_2d", (_real_data(1)[0],), "the lab's training set (307 x 2)"),
        Case("real_11d", (_real_data(2)[0],), "the 11-feature training set (1000 x 11)"),
        Case("columns_apart", (columns_apart,), "a 7 x 3 matrix whose columns have different scales"),
        Case("wide", (rng.uniform(-5, 5, size=(2, 5)),), "a 2 x 5 matrix (fewer examples than features)"),
        Case("one_column", (np.array([[2.0], [4.0], [4.0], [6.0], [9.0]]),), "a single feature"),
    ]
    return cases


# The lab computes in float64; float32 arithmetic is off by 1e-8 to 1e-6 relative on these
# cases, and any correct float64 code by less than 1e-12: 1e-9 keeps both verdicts far from the
# edge (a test in the kit checks the margins).
GAUSSIAN_RTOL = 1e-9
FLOAT64_WHY = "compute in numpy's default double precision (the lab asks for 9 significant digits, float32 holds 7)"


def compare_estimate_gaussian(case: Case, outputs: Outputs) -> list[str]:
    expected = reference_estimate_gaussian(case.args[0])
    problems = []
    for label, want, got in zip(("mu", "var"), expected, outputs):
        problem = describe_mismatch(label, want, got, rtol=GAUSSIAN_RTOL, atol=1e-12)
        if problem is None or got.shape == want.shape:
            problem = describe_dtype(label, got, "float64", FLOAT64_WHY) or problem
        problems.append(problem)
    return [problem for problem in problems if problem]


@cache
def select_threshold_cases() -> list[Case]:
    rng = np.random.default_rng(7)
    cases = []
    for part, label in ((1, "the lab's cross-validation set"), (2, "the 11-feature cross-validation set")):
        X_train, X_val, y_val = _real_data(part)
        mu, var = reference_estimate_gaussian(X_train)
        cases.append(Case(f"real_part{part}", (y_val, _density(X_val, mu, var)), label))
    cases.append(
        Case(
            "strict_inequality",
            (np.array([1, 0, 0, 0], dtype=np.uint8), np.array([0.0, 0.4, 0.7, 1.0])),
            "4 examples whose only anomaly has the smallest p",
        )
    )
    cases.append(
        Case(
            "first_best",
            (np.array([1, 0, 0], dtype=np.uint8), np.array([0.0, 0.5, 1.0])),
            "3 examples where many epsilons reach the same best F1",
        )
    )
    for index in range(3):
        y_val = (rng.uniform(size=30) < 0.3).astype(np.uint8)
        p_val = np.where(y_val == 1, rng.uniform(0.0, 0.6, 30), rng.uniform(0.2, 1.0, 30))
        cases.append(Case(f"random_{index}", (y_val, p_val), f"30 random examples (set {index + 1})"))
    # p_val from 0 to 1000 / 1024: the step is exactly 1 / 1024 and the grid's epsilons are
    # k / 1024 for k = 0, ..., 999. Anomalies at 0 and (998.5 or 999.5) / 1024, normal examples
    # at 500 / 1024 and at the top: flagging the second anomaly (F1 0.8, better than the 2/3 of
    # flagging the first alone) takes epsilon 999 / 1024, the grid's last, or 1000 / 1024,
    # max(p_val), which the grid leaves out.
    labels = np.array([1, 0, 1, 0], dtype=np.uint8)
    cases.append(
        Case(
            "last_epsilon",
            (labels, np.array([0.0, 500.0, 998.5, 1000.0]) / 1024),
            "4 examples whose best epsilon is the scan's last one",
        )
    )
    cases.append(
        Case(
            "past_the_last_epsilon",
            (labels, np.array([0.0, 500.0, 999.5, 1000.0]) / 1024),
            "4 examples where only epsilon = max(p_val), past the scan's end, would flag both anomalies",
        )
    )
    return cases


def compare_select_threshold(case: Case, outputs: Outputs) -> list[str]:
    types = [describe_float("epsilon", outputs, 0), describe_float("F1", outputs, 1)]
    if any(types):
        return [problem for problem in types if problem]
    want_epsilon, want_f1 = reference_select_threshold(*case.args)
    epsilon, f1 = outputs
    problems = (
        describe_mismatch("epsilon", np.float64(want_epsilon), epsilon, rtol=1e-6, atol=0.0),
        describe_mismatch("F1", np.float64(want_f1), f1, rtol=0.0, atol=1e-9),
    )
    return [problem for problem in problems if problem]


EXERCISES = {
    "test_estimate_gaussian": Exercise(
        grade_id="test_estimate_gaussian",
        answer_cell="estimate_gaussian",
        function="estimate_gaussian",
        n_outputs=2,
        cases=estimate_gaussian_cases,
        compare=compare_estimate_gaussian,
    ),
    "test_select_threshold": Exercise(
        grade_id="test_select_threshold",
        answer_cell="select_threshold",
        function="select_threshold",
        n_outputs=2,
        cases=select_threshold_cases,
        compare=compare_select_threshold,
    ),
}


def check_estimate_gaussian(estimate_gaussian: Callable) -> None:
    """Hidden checks of Exercise 1."""
    check_exercise(EXERCISES["test_estimate_gaussian"], estimate_gaussian)


def check_select_threshold(select_threshold: Callable) -> None:
    """Hidden checks of Exercise 2."""
    check_exercise(EXERCISES["test_select_threshold"], select_threshold)

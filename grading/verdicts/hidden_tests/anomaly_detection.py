"""Hidden tests of the Gaussian anomaly-detection lab.

Besides the real data (which the public tests also use, the same for every student), each
student gets cases of their own, drawn from their seed, one of each kind below. The kinds are
chosen so that code which hard-codes the published numbers, or which departs from the
specification only where the real data cannot tell, gets caught, whatever the draw:
- wide and single-column matrices catch means over the wrong axis and hard-coded results;
- a case whose smallest p is the only anomaly separates `p < epsilon` from `p <= epsilon`;
- a plateau of equal F1 separates keeping the first best epsilon from keeping the last;
- small random cases separate the harmonic mean of precision and recall from other means;
- examples whose p differ in their eighth significant digit separate float64 from float32;
- two cases whose best epsilon is at the end of the grid separate the lab's scan (exactly 1000
  epsilons, min(p_val) + k * step for k = 0, ..., 999) from one that goes on to max(p_val)
  (1001) or stops one short (999).
Every case's grid is exactly 1000 epsilons long, no case's answer changes when its epsilons
move by a rounding error, and F1 computed in floating point picks the same epsilon as exact F1
(`is_sound_threshold_case`: a drawn case that fails it is drawn again), so every correct way of
computing F1 or the grid picks the same epsilon. Every case has an epsilon that flags an
anomaly, so a correct answer is two floats.

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


def lab_epsilons(p_val: np.ndarray) -> np.ndarray:
    """The lab's scan: np.arange(min(p_val), max(p_val), step) with step = (max - min) / 1000."""
    step = (np.max(p_val) - np.min(p_val)) / 1000
    return np.arange(np.min(p_val), np.max(p_val), step)


def counts(y_val: np.ndarray, p_val: np.ndarray, epsilons: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per epsilon, the true positives, false positives and false negatives of flagging p < epsilon."""
    predicted = p_val[None, :] < np.asarray(epsilons)[:, None]
    anomalous = y_val == 1
    tp = np.sum(predicted & anomalous, axis=1)
    fp = np.sum(predicted & ~anomalous, axis=1)
    fn = np.sum(~predicted & anomalous, axis=1)
    return tp, fp, fn


@once_per_arguments  # the scan in exact arithmetic: the grader's costliest reference
def reference_select_threshold(y_val: np.ndarray, p_val: np.ndarray) -> tuple[float, float]:
    """The first epsilon of the lab's 1000-step scan with the best F1, and that F1.

    F1 is compared exactly (as the fraction 2tp / (2tp + fp + fn)), so that which of two
    equal scores comes first never depends on rounding.
    """
    epsilons = lab_epsilons(p_val)
    scores = [
        Fraction(2 * tp, 2 * tp + fp + fn) if tp > 0 else Fraction(0)
        for tp, fp, fn in zip(*(column.tolist() for column in counts(y_val, p_val, epsilons)))
    ]
    best = max(scores)
    if best == 0:
        return 0.0, 0.0
    return float(epsilons[scores.index(best)]), float(best)


def is_sound_threshold_case(y_val: np.ndarray, p_val: np.ndarray) -> bool:
    """Whether every correct way of scanning gives this case's reference answer.

    The lab's np.arange gives exactly 1000 epsilons (it gives 1001 for some inputs); the grid
    written another way (min + k * step, linspace) or off by a rounding error flags the same
    examples at every epsilon (no p lies within rounding of one but the first, min(p_val)); F1 computed in floating point,
    from precision and recall or from the counts, picks the same first best epsilon; and some
    epsilon flags an anomaly, so that a correct answer is two floats.
    """
    epsilons = lab_epsilons(p_val)
    if len(epsilons) != 1000:
        return False
    lowest, step = np.min(p_val), (np.max(p_val) - np.min(p_val)) / 1000
    flagged = p_val[None, :] < epsilons[:, None]
    for other in (lowest + np.arange(1000) * step, np.linspace(lowest, np.max(p_val), 1001)[:-1]):
        if not np.array_equal(p_val[None, :] < other[:, None], flagged):
            return False
    for rounding in (1 - 1e-12, 1 + 1e-12):  # the first epsilon is min(p_val) itself, however written
        if not np.array_equal(p_val[None, :] < epsilons[1:, None] * rounding, flagged[1:]):
            return False
    tp, fp, fn = (column.astype(float) for column in counts(y_val, p_val, epsilons))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        harmonic = np.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
    from_counts = np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    want, best = reference_select_threshold(y_val, p_val)
    return best > 0 and all(epsilons[np.argmax(f1)] == want for f1 in (harmonic, from_counts))


def sound_threshold_case(draw: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The first of `draw`'s cases that `is_sound_threshold_case` (a few draws at most)."""
    for _ in range(100):
        y_val, p_val = draw()
        if is_sound_threshold_case(y_val, p_val):
            return y_val, p_val
    raise RuntimeError("no sound threshold case in 100 draws: the kind's generator needs mending")


def _density(X: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Density of independent normal features, the model the lab fits."""
    return np.prod(np.exp(-((X - mu) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var), axis=1)


@cache
def real_data(part: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lab's datasets of part 1 or 2: X, X_val, y_val, read once and read-only."""
    names = (f"X_part{part}.npy", f"X_val_part{part}.npy", f"y_val_part{part}.npy")
    arrays = tuple(np.load(DATA_DIR / name, allow_pickle=False) for name in names)
    for array in arrays:
        array.flags.writeable = False
    return arrays  # type: ignore[return-value]


def estimate_gaussian_cases(rng: np.random.Generator) -> list[Case]:
    m, n = rng.integers(5, 11), rng.integers(3, 6)
    scales = 10.0 ** rng.uniform(-1, 1, size=n)  # columns 100 times apart, each mean within 30 spreads of 0
    columns_apart = rng.normal(loc=scales * rng.uniform(-30, 30, size=n), scale=scales, size=(m, n))
    wide_rows = rng.integers(2, 5)
    return [
        Case("real_2d", (real_data(1)[0],), "the lab's training set (307 x 2)", fixed=True, showable=True),
        Case("real_11d", (real_data(2)[0],), "the 11-feature training set (1000 x 11)", fixed=True, showable=True),
        Case("columns_apart", (columns_apart,), "a matrix whose columns have very different scales"),
        Case(
            "wide",
            (rng.uniform(-5, 5, size=(wide_rows, wide_rows + rng.integers(2, 5))),),
            "a matrix with fewer examples than features",
        ),
        Case("one_column", (rng.uniform(-10, 10, size=(rng.integers(4, 10), 1)),), "a single feature"),
    ]


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


def select_threshold_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for part, label in ((1, "the lab's cross-validation set"), (2, "the 11-feature cross-validation set")):
        X_train, X_val, y_val = real_data(part)
        mu, var = reference_estimate_gaussian(X_train)
        cases.append(Case(f"real_part{part}", (y_val, _density(X_val, mu, var)), label, fixed=True, showable=True))
    cases.append(
        Case(
            "strict_inequality",
            sound_threshold_case(lambda: _anomalies_lowest(rng, anomalies=1)),
            "examples whose only anomaly has the smallest p (p < epsilon flags it one step later than p <= epsilon)",
        )
    )
    cases.append(
        Case(
            "first_best",
            sound_threshold_case(lambda: _anomalies_lowest(rng, anomalies=2)),
            "examples where many epsilons reach the same best F1 (the first of them is the answer)",
        )
    )
    for index in range(3):
        cases.append(
            Case(
                f"random_{index}",
                sound_threshold_case(lambda: _random_examples(rng)),
                f"random examples (set {index + 1})",
            )
        )
    cases.append(
        Case(
            "closer_than_float32",
            sound_threshold_case(lambda: _closer_than_float32(rng)),
            "examples whose p are a few parts in 10^8 apart (float64 tells them apart, float32 cannot)",
        )
    )
    cases.append(
        Case(
            "last_epsilon",
            sound_threshold_case(lambda: _grid_end_case(rng, 998.5)),
            "examples whose best epsilon is the scan's last one",
        )
    )
    cases.append(
        Case(
            "past_the_last_epsilon",
            sound_threshold_case(lambda: _grid_end_case(rng, 999.5)),
            "examples where only epsilon = max(p_val), past the scan's end, would flag every anomaly",
        )
    )
    return cases


def _shuffled(rng: np.random.Generator, y_val: np.ndarray, p_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y_val))
    return y_val[order].astype(np.uint8), p_val[order]


def _anomalies_lowest(rng: np.random.Generator, anomalies: int) -> tuple[np.ndarray, np.ndarray]:
    """A few examples whose `anomalies` smallest p are the anomalies, far below every normal one."""
    normal = rng.integers(2, 6)
    p_val = np.concatenate([rng.uniform(0.0, 0.2, anomalies), rng.uniform(0.4, 1.0, normal)])
    return _shuffled(rng, np.repeat([1, 0], [anomalies, normal]), p_val)


def _random_examples(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """20 to 40 examples, about 30% anomalous, whose p overlap between the classes."""
    n = rng.integers(20, 41)
    y_val = (rng.uniform(size=n) < 0.3).astype(np.uint8)
    y_val[rng.integers(n)] = 1
    p_val = np.where(y_val == 1, rng.uniform(0.0, 0.6, n), rng.uniform(0.2, 1.0, n))
    return y_val, p_val


def _closer_than_float32(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two anomalies and normal examples whose p are within 3e-8 of each other, relatively: the best
    F1 flags the lowest three (anomaly, normal, anomaly) and not the normal example 1e-9 above the
    second anomaly, which float32 (7 significant digits) rounds to the same number."""
    while True:
        second = rng.uniform(1e-8, 2e-8)
        offsets = [0.0, rng.uniform(0.2e-8, 0.8e-8), second, second + rng.uniform(1e-9, 2e-9)]
        offsets += list(rng.uniform(2.5e-8, 3e-8, rng.integers(1, 4)))
        p_val = rng.uniform(0.5, 2.0) * (1 + np.array(offsets))
        if np.float32(p_val[2]) == np.float32(p_val[3]):
            return _shuffled(rng, np.array([1, 0, 1] + [0] * (len(offsets) - 3)), p_val)


def _grid_end_case(rng: np.random.Generator, second_anomaly: float) -> tuple[np.ndarray, np.ndarray]:
    """Four examples on a scan whose step is exactly a power of two: p_val from 0 to 1000 units.

    The scan's epsilons are k units for k = 0, ..., 999. Anomalies at 0 and `second_anomaly`
    units (998.5 or 999.5), normal examples at a random half unit below and at the top:
    flagging the second anomaly (F1 0.8, better than the 2/3 of flagging the first alone) takes
    epsilon 999 units, the scan's last, or 1000 units, max(p_val), which the scan leaves out.
    """
    unit = 2.0 ** rng.integers(-14, -6)
    middle = rng.integers(100, 900) + 0.5
    return _shuffled(rng, np.array([1, 0, 1, 0]), np.array([0.0, middle, second_anomaly, 1000.0]) * unit)


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

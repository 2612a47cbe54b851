"""The hidden tests themselves: their reference and cases are sound, their messages useful.

Sound means that no case hinges on rounding: every correct way of computing an answer gets the
same verdict, and where a case tells a prescribed rule from an alternative (the grid's end, the
split's rounding), the two differ by whole steps, not by rounding. Each student's cases are
drawn from their own seed, so each property is checked on the cases of several seeds.
"""

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from grading.verdicts.checks import (
    PREVIEW_SEED,
    ExerciseFailed,
    Outputs,
    Raised,
    check_exercise,
    problems_with,
    run_in_process,
)
from grading.verdicts.hidden_tests import anomaly_detection as hidden
from grading.verdicts.hidden_tests import timeseries_autoencoder as hidden_ts
from grading.verdicts.isolated_call import call_in_fresh_process

SEEDS = range(20)  # the cases of 20 students
THRESHOLD = hidden.EXERCISES["test_select_threshold"]
GAUSSIAN = hidden.EXERCISES["test_estimate_gaussian"]
SPLIT = hidden_ts.EXERCISES["test_split_and_normalise"]


def drawn(exercise, seeds=SEEDS):
    """(seed, case) for every case drawn from each of `seeds`, with a readable id."""
    return [pytest.param(seed, case, id=f"{seed}-{case.name}") for seed in seeds for case in exercise.cases_for(seed)]


def lab_grid(p_val):
    """The lab's rule: np.arange(min(p_val), max(p_val), step) with step = (max - min) / 1000."""
    step = (max(p_val) - min(p_val)) / 1000
    return np.arange(min(p_val), max(p_val), step)


def float_f1_pick(y_val, p_val, f1_of, epsilons=None):
    """The lab's loop with F1 computed in floating point by `f1_of(tp, fp, fn)`, over `epsilons`
    (the lab's grid unless given)."""
    best_epsilon, best_f1 = 0, 0
    for epsilon in lab_grid(p_val) if epsilons is None else epsilons:
        predicted = p_val < epsilon
        tp, fp = np.sum(predicted & (y_val == 1)), np.sum(predicted & (y_val == 0))
        fn = np.sum(~predicted & (y_val == 1))
        f1 = f1_of(int(tp), int(fp), int(fn)) if tp > 0 else 0
        if f1 > best_f1:
            best_epsilon, best_f1 = epsilon, f1
    return best_epsilon


def harmonic(tp, fp, fn):
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


def from_counts(tp, fp, fn):
    return 2 * tp / (2 * tp + fp + fn)


@pytest.mark.parametrize(("seed", "case"), drawn(THRESHOLD, range(3)))
def test_threshold_case_does_not_hinge_on_rounding(seed, case):
    y_val, p_val = case.args
    exact, best_f1 = hidden.reference_select_threshold(*case.args)
    assert float_f1_pick(*case.args, harmonic) == pytest.approx(exact, rel=1e-9)
    assert float_f1_pick(*case.args, from_counts) == pytest.approx(exact, rel=1e-9)
    # The lab's own rule gives exactly 1000 epsilons here (np.arange gives 1001 for some inputs),
    # and the grid written another way picks the same epsilon: no p lies within rounding of one.
    grid = lab_grid(p_val)
    assert len(grid) == 1000
    lowest, step = min(p_val), (max(p_val) - min(p_val)) / 1000
    by_index = [lowest + k * step for k in range(1000)]
    assert float_f1_pick(*case.args, from_counts, by_index) == pytest.approx(exact, rel=1e-9)
    linspace = np.linspace(min(p_val), max(p_val), 1001)[:-1]
    assert float_f1_pick(*case.args, from_counts, linspace) == pytest.approx(exact, rel=1e-9)
    for rounding in (1 - 1e-12, 1 + 1e-12):  # every epsilon but min(p_val) off by far more than a rounding error
        moved = np.concatenate([grid[:1], grid[1:] * rounding])
        assert float_f1_pick(*case.args, from_counts, moved) == pytest.approx(exact, rel=1e-9)
    # A correct function returns floats: some epsilon always flags an anomaly.
    assert best_f1 > 0


def scan_results(case, epsilons):
    return float_f1_pick(*case.args, from_counts, epsilons)


def test_the_loop_of_the_specification_and_the_graders_scan_pick_the_same_epsilon():
    """The reference scans every epsilon at once; the lab's loop, in exact arithmetic, agrees."""

    def loop(y_val, p_val):
        best_epsilon, best_f1 = 0.0, Fraction(0)
        for epsilon in lab_grid(p_val):
            predicted = p_val < epsilon
            tp = int(np.sum(predicted & (y_val == 1)))
            fp, fn = int(np.sum(predicted & (y_val == 0))), int(np.sum(~predicted & (y_val == 1)))
            if tp > 0 and Fraction(2 * tp, 2 * tp + fp + fn) > best_f1:
                best_epsilon, best_f1 = float(epsilon), Fraction(2 * tp, 2 * tp + fp + fn)
        return best_epsilon, float(best_f1)

    for seed in range(3):
        for case in THRESHOLD.cases_for(seed):
            assert hidden.reference_select_threshold(*case.args) == loop(*case.args)


def test_a_case_within_rounding_of_the_scan_is_not_sound():
    y_val = np.array([1, 0, 0, 0], dtype=np.uint8)
    assert hidden.is_sound_threshold_case(y_val, np.array([0.0, 0.4003, 0.7003, 1.0]))
    assert not hidden.is_sound_threshold_case(y_val, np.array([0.0, 0.4003, 0.5, 1.0]))  # 0.5 is an epsilon
    assert not hidden.is_sound_threshold_case(np.zeros(4, dtype=np.uint8), np.array([0.0, 0.4003, 0.7003, 1.0]))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("name", "steps"), [("last_epsilon", 999), ("past_the_last_epsilon", 1001)])
def test_a_grid_case_tells_the_labs_1000_epsilons_from_one_more_or_one_fewer(name, steps, seed):
    case = next(case for case in THRESHOLD.cases_for(seed) if case.name == name)
    y_val, p_val = case.args
    step = (max(p_val) - min(p_val)) / 1000
    other = [min(p_val) + k * step for k in range(steps)]
    exact, _ = hidden.reference_select_threshold(*case.args)
    assert abs(scan_results(case, other) - exact) >= step  # whole steps apart, not rounding


def test_reference_reproduces_the_published_results():
    real_1, real_2 = THRESHOLD.cases_for(PREVIEW_SEED)[:2]
    assert hidden.reference_select_threshold(*real_1.args) == pytest.approx((8.990853e-05, 0.875), rel=1e-6)
    assert hidden.reference_select_threshold(*real_2.args) == pytest.approx((1.377229e-18, 0.615385), rel=1e-6)
    mu, var = hidden.reference_estimate_gaussian(GAUSSIAN.cases_for(PREVIEW_SEED)[0].args[0])
    np.testing.assert_allclose(mu, [14.11222578, 14.99771051], rtol=1e-8)
    np.testing.assert_allclose(var, [1.83263141, 1.70974533], rtol=1e-8)


def test_a_failing_check_names_the_kind_of_case_and_shows_numbers_only_where_the_kind_is_showable():
    def sample_variance(X):
        return X.mean(axis=0), X.var(axis=0, ddof=1)

    with pytest.raises(ExerciseFailed) as failure:
        check_exercise(GAUSSIAN, sample_variance)
    message = str(failure.value)
    assert "the lab's training set (307 x 2): var is [1.8386" in message and "expected [1.8326" in message
    assert "- a single feature: var is wrong in 1 of its 1 values" in message
    assert "- a matrix with fewer examples than features: var is wrong in " in message
    one_column = next(case for case in GAUSSIAN.cases_for(PREVIEW_SEED) if case.name == "one_column")
    assert not any(f"{value:.4f}"[:5] in message for value in one_column.args[0].ravel())


def test_a_passing_check_prints_one_line(capsys):
    check_exercise(GAUSSIAN, hidden.reference_estimate_gaussian)
    assert capsys.readouterr().out == "estimate_gaussian: all hidden checks passed.\n"


def test_a_function_that_returns_one_value_is_told_so():
    with pytest.raises(ExerciseFailed, match="returned a single ndarray, expected 2 values"):
        check_exercise(GAUSSIAN, lambda X: X.mean(axis=0))


# ---------------------------------------------------------------------------------------------
# Types the specification names, and the float32 question
# ---------------------------------------------------------------------------------------------


def gaussian(dtype, cast_back=False):
    def estimate_gaussian(X):
        X = X.astype(dtype)
        mu = X.mean(axis=0)
        var = ((X - mu) ** 2).mean(axis=0)
        return (mu.astype(float), var.astype(float)) if cast_back else (mu, var)

    return estimate_gaussian


def worst_relative_error(estimate_gaussian):
    worst = 0.0
    for case in (case for seed in SEEDS for case in GAUSSIAN.cases_for(seed)):
        for got, want in zip(estimate_gaussian(case.args[0].copy()), hidden.reference_estimate_gaussian(case.args[0])):
            worst = max(worst, float(np.max(np.abs(got - want) / np.abs(want))))
    return worst


def test_the_gaussian_tolerance_is_far_from_float32_and_from_correct_float64_code():
    """float32 arithmetic fails, whatever dtype it returns, and float64 code passes, with margins of 100."""
    for float32_code in (gaussian(np.float32), gaussian(np.float32, cast_back=True)):
        assert worst_relative_error(float32_code) > 100 * hidden.GAUSSIAN_RTOL
    uncentred = lambda X: (X.mean(axis=0), (X**2).mean(axis=0) - X.mean(axis=0) ** 2)  # noqa: E731
    loops = lambda X: (sum(X) / len(X), sum((X - sum(X) / len(X)) ** 2) / len(X))  # noqa: E731
    for float64_code in (gaussian(np.float64), uncentred, loops):
        assert worst_relative_error(float64_code) < hidden.GAUSSIAN_RTOL / 100


@pytest.mark.parametrize("cast_back", [False, True], ids=["float32", "cast_back_to_float64"])
def test_every_case_of_a_float32_gaussian_says_why_it_fails(cast_back):
    exercise = hidden.EXERCISES["test_estimate_gaussian"]
    problems = problems_with(exercise, run_in_process(exercise, gaussian(np.float32, cast_back)))
    if cast_back:
        assert "the lab's training set (307 x 2): mu is" in " ".join(problems)
    else:
        assert len(problems) == 2 * len(GAUSSIAN.cases_for(PREVIEW_SEED))
        assert all(
            "has dtype float32, expected float64: compute in numpy's default double precision" in problem
            for problem in problems
        )


def test_integer_flags_fail_with_the_reason():
    exercise = hidden_ts.EXERCISES["test_score_reconstruction"]

    def as_integers(target, reconstruction, window, threshold):
        error, rolling, flagged = hidden_ts.reference_score_reconstruction(target, reconstruction, window, threshold)
        return error, rolling, flagged.astype(int)

    problems = problems_with(exercise, run_in_process(exercise, as_integers))
    assert len(problems) == len(exercise.cases_for(PREVIEW_SEED))
    assert problems[0].endswith(
        "flagged has dtype int64, expected bool: return the boolean array rolling_mean > threshold, not 0/1 numbers"
    )


def test_several_values_must_come_as_a_tuple():
    exercise = hidden.EXERCISES["test_estimate_gaussian"]
    problems = problems_with(exercise, run_in_process(exercise, lambda X: list(hidden.reference_estimate_gaussian(X))))
    assert problems[0] == (
        "the lab's training set (307 x 2): returned a list of 2 values; return them as a tuple (return a, b)"
    )


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        (lambda e, f: (np.array([e]), f), "epsilon is an ndarray of shape (1,), expected a single float"),
        (lambda e, f: (e, int(f)), "F1 is an int, expected a single float"),
        (lambda e, f: (e, [f]), "F1 is a list of shape (1,), expected a single float"),
    ],
    ids=["epsilon_array", "f1_int", "f1_list"],
)
def test_epsilon_and_f1_must_be_single_floats(returned, problem):
    exercise = hidden.EXERCISES["test_select_threshold"]
    problems = problems_with(
        exercise, run_in_process(exercise, lambda y, p: returned(*hidden.reference_select_threshold(y, p)))
    )
    assert problems[0] == f"the lab's cross-validation set: {problem}"


def test_numpy_scalars_and_python_floats_are_both_floats():
    exercise = hidden.EXERCISES["test_select_threshold"]
    for convert in (float, np.float64):

        def select_threshold(y, p, convert=convert):
            return tuple(convert(value) for value in hidden.reference_select_threshold(y, p))

        assert problems_with(exercise, run_in_process(exercise, select_threshold)) == []


# ---------------------------------------------------------------------------------------------
# Exceptions are judged by class
# ---------------------------------------------------------------------------------------------

CONSTANT = "a constant series (standard deviation 0)"


def split_raising(error_class):
    def split_and_normalise(series, test_fraction):
        if np.std(series) == 0:
            raise error_class("constant")
        return hidden_ts.reference_split_and_normalise(series, test_fraction)

    return split_and_normalise


class ConstantSeriesError(ValueError):
    pass


class FloatingPointProblem(FloatingPointError, ValueError):
    pass


@pytest.mark.parametrize("error_class", [ValueError, ConstantSeriesError, FloatingPointProblem])
def test_a_value_error_or_any_subclass_passes(error_class):
    assert problems_with(SPLIT, run_in_process(SPLIT, split_raising(error_class))) == []


def test_another_exception_or_a_look_alike_named_value_error_fails():
    ValueError_ = type("ValueError", (Exception,), {})  # the student's own class of that name
    for error_class, name in ((ZeroDivisionError, "ZeroDivisionError"), (ValueError_, "ValueError")):
        problems = problems_with(SPLIT, run_in_process(SPLIT, split_raising(error_class)))
        assert problems == [
            f"{CONSTANT}: should raise ValueError, but raised {name}: constant, which is not a ValueError"
        ]


def test_an_error_carries_the_names_of_its_classes():
    [raised] = run_in_process(SPLIT, split_raising(ConstantSeriesError))[-1:]
    assert isinstance(raised, Raised) and raised == "ConstantSeriesError: constant"
    assert raised.classes == (
        f"{__name__}.ConstantSeriesError",
        "builtins.ValueError",
        "builtins.Exception",
        "builtins.BaseException",
        "builtins.object",
    )


# ---------------------------------------------------------------------------------------------
# Prescribed rules of the time-series lab: cases where the alternatives differ by whole steps
# ---------------------------------------------------------------------------------------------


def exact_training_size(n, fraction):
    """n * (1 - fraction) with the fraction as the decimal it is written as."""
    return n * (1 - Fraction(repr(fraction)))


@pytest.mark.parametrize(("seed", "case"), drawn(SPLIT))
def test_split_case_does_not_hinge_on_rounding(seed, case):
    n, fraction = len(case.args[0]), case.args[1]
    exact = exact_training_size(n, fraction)
    assert int(n * (1 - fraction)) == math.floor(exact)
    assert exact.denominator == 1 or abs(exact - round(exact)) > Fraction(1, 100)


@pytest.mark.parametrize("seed", SEEDS)
def test_some_split_cases_tell_the_prescribed_rounding_from_the_alternatives(seed):
    telling = [
        case.name
        for case in SPLIT.cases_for(seed)
        if not case.raises
        and len(
            {
                int(len(case.args[0]) * (1 - case.args[1])),
                len(case.args[0]) - int(len(case.args[0]) * case.args[1]),
            }
        )
        == 2
        and int(len(case.args[0]) * (1 - case.args[1]))
        not in (round(len(case.args[0]) * (1 - case.args[1])), math.ceil(len(case.args[0]) * (1 - case.args[1])))
    ]
    assert len(telling) >= 2


@pytest.mark.parametrize(
    "alternative",
    [
        lambda n, f: n - int(n * f),
        lambda n, f: round(n * (1 - f)),
        lambda n, f: math.ceil(n * (1 - f)),
    ],
    ids=["test_part_rounded_down", "round", "ceil"],
)
@pytest.mark.parametrize("seed", range(5))
def test_a_split_by_another_rounding_fails(alternative, seed):
    def split_and_normalise(series, test_fraction):
        split = alternative(len(series), test_fraction)
        train, test = series[:split], series[split:]
        if np.std(train) == 0:
            raise ValueError("constant")
        return (train - train.mean()) / train.std(), (test - train.mean()) / train.std()

    problems = problems_with(SPLIT, run_in_process(SPLIT, split_and_normalise, seed), seed)
    shapes = [re.search(r"train has shape \((\d+),\), expected \((\d+),\)", problem) for problem in problems]
    assert any(shape and int(shape[1]) == int(shape[2]) + 1 for shape in shapes)


@pytest.mark.parametrize(
    "depth",
    [lambda coefs: (len(coefs) + 1) // 2, lambda coefs: int(np.argmin([c.shape[1] for c in coefs])) + 1],
    ids=["half_rounded_up", "narrowest_layer"],
)
@pytest.mark.parametrize("seed", range(5))
def test_an_encoder_of_another_depth_fails_on_the_odd_network(depth, seed):
    exercise = hidden_ts.EXERCISES["test_bottleneck_activations"]

    def bottleneck_activations(windows, coefs, intercepts):
        a = windows
        for coef, intercept in list(zip(coefs, intercepts))[: depth(coefs)]:
            a = 1 / (1 + np.exp(-(a @ coef + intercept)))
        return a

    problems = problems_with(exercise, run_in_process(exercise, bottleneck_activations, seed), seed)
    assert problems and all(problem.startswith("a network of 5 weight matrices") for problem in problems)


# ---------------------------------------------------------------------------------------------
# What crosses back from the isolated run: dtypes, Python types, error classes
# ---------------------------------------------------------------------------------------------

RETURNS = """
import numpy as np

class ConstantSeriesError(ValueError):
    pass

def values(x):
    if x.sum() == 0:
        raise ConstantSeriesError("all zero")
    return x > 1, x.astype(np.int32), x.astype(np.float32), float(x[0]), np.float64(x[1]), [1.0, 2.0], x
"""
CASES = [
    hidden.Case("some", (np.array([1.0, 2.0, 3.0]),), "three numbers"),
    hidden.Case("zero", (np.zeros(3),), "zeros"),
]


@pytest.mark.sandbox
def test_dtypes_and_python_types_survive_the_isolated_run_as_in_the_kernel():
    isolated = call_in_fresh_process([RETURNS], "values", CASES, 7, timeout=30)
    namespace: dict = {}
    exec(RETURNS, namespace)
    exercise = hidden.Exercise("values", "values", "values", 7, lambda rng: CASES, lambda case, outputs: [])
    in_kernel = run_in_process(exercise, namespace["values"])
    for outputs in (isolated[0], in_kernel[0]):
        assert isinstance(outputs, Outputs) and outputs.container == "tuple"
        assert [value.dtype for value in outputs] == [
            np.bool_,
            np.int32,
            np.float32,
            np.float64,
            np.float64,
            np.float64,
            np.float64,
        ]
        assert all(type(value) is np.ndarray for value in outputs)
        assert outputs.kinds == ("ndarray", "ndarray", "ndarray", "float", "float", "list", "ndarray")
        assert outputs[0].tolist() == [False, True, True]
    for raised in (isolated[1], in_kernel[1]):
        assert isinstance(raised, Raised) and raised == "ConstantSeriesError: all zero"
        assert raised.classes[1:] == (
            "builtins.ValueError",
            "builtins.Exception",
            "builtins.BaseException",
            "builtins.object",
        )
        assert raised.is_a("ValueError") and not raised.is_a("TypeError")


@pytest.mark.sandbox
def test_a_list_result_is_reported_as_a_list():
    source = "def values(x):\n    return [x, x]\n"
    [outputs, _] = call_in_fresh_process([source], "values", CASES, 2, timeout=30)
    assert outputs.container == "list" and outputs.kinds == ("ndarray", "ndarray")

"""The hidden tests themselves: their reference and cases are sound, their messages useful."""
import numpy as np
import pytest

from grading.checks import ExerciseFailed, check_exercise
from grading.hidden_tests import anomaly_detection as hidden


def float_f1_pick(y_val, p_val, f1_of):
    """The lab's loop with F1 computed in floating point by `f1_of(tp, fp, fn)`."""
    step = (max(p_val) - min(p_val)) / 1000
    best_epsilon, best_f1 = 0, 0
    for epsilon in np.arange(min(p_val), max(p_val), step):
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


@pytest.mark.parametrize("case", hidden.select_threshold_cases(), ids=lambda case: case.name)
def test_threshold_case_does_not_hinge_on_rounding(case):
    exact, _ = hidden.reference_select_threshold(*case.args)
    assert float_f1_pick(*case.args, harmonic) == pytest.approx(exact, rel=1e-9)
    assert float_f1_pick(*case.args, from_counts) == pytest.approx(exact, rel=1e-9)


def test_reference_reproduces_the_published_results():
    real_1, real_2 = hidden.select_threshold_cases()[:2]
    assert hidden.reference_select_threshold(*real_1.args) == pytest.approx((8.990853e-05, 0.875), rel=1e-6)
    assert hidden.reference_select_threshold(*real_2.args) == pytest.approx((1.377229e-18, 0.615385), rel=1e-6)
    mu, var = hidden.reference_estimate_gaussian(hidden.estimate_gaussian_cases()[0].args[0])
    np.testing.assert_allclose(mu, [14.11222578, 14.99771051], rtol=1e-8)
    np.testing.assert_allclose(var, [1.83263141, 1.70974533], rtol=1e-8)


def test_a_failing_check_names_the_case_and_the_difference():
    def sample_variance(X):
        return X.mean(axis=0), X.var(axis=0, ddof=1)

    with pytest.raises(ExerciseFailed) as failure:
        check_exercise(hidden.EXERCISES["test_estimate_gaussian"], sample_variance)
    message = str(failure.value)
    assert "a single feature: var is [" in message and "expected [" in message


def test_a_passing_check_prints_one_line(capsys):
    check_exercise(hidden.EXERCISES["test_estimate_gaussian"], hidden.reference_estimate_gaussian)
    assert capsys.readouterr().out == "estimate_gaussian: all hidden checks passed.\n"


def test_a_function_that_returns_one_value_is_told_so():
    with pytest.raises(ExerciseFailed, match="returned a single ndarray, expected 2 values"):
        check_exercise(hidden.EXERCISES["test_estimate_gaussian"], lambda X: X.mean(axis=0))

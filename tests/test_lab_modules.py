"""The anomaly-detection lab's own modules: utils.py (data, density, plots) and public_tests.py.

Both are imported from the lab folder, through its links, the way the notebook imports them.
"""

from __future__ import annotations

import shutil
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402

GREEN_LINE = "\033[92mAll tests passed!\033[0m\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def utils(anomaly_lab):
    return anomaly_lab.utils


@pytest.fixture
def public_tests(anomaly_lab):
    return anomaly_lab.public_tests


@pytest.fixture
def fit(utils):
    """The lab's 2-feature data and the Gaussian fitted to X_train."""
    X_train, X_val, y_val = utils.load_data()
    return X_train, X_val, y_val, X_train.mean(axis=0), X_train.var(axis=0)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def test_data_dir_is_the_lab_folders_data_not_the_link_targets(utils, repo_root):
    assert utils.DATA_DIR == repo_root / "solutions" / "anomaly_detection" / "data"


def test_load_data_gives_the_2_feature_arrays(utils):
    X_train, X_val, y_val = utils.load_data()
    assert (X_train.shape, X_train.dtype) == ((307, 2), np.float64)
    assert (X_val.shape, X_val.dtype) == ((307, 2), np.float64)
    assert (y_val.shape, y_val.dtype) == ((307,), np.uint8)


def test_load_data_multi_gives_the_11_feature_arrays(utils):
    X_train, X_val, y_val = utils.load_data_multi()
    assert (X_train.shape, X_train.dtype) == ((1000, 11), np.float64)
    assert (X_val.shape, X_val.dtype) == ((100, 11), np.float64)
    assert (y_val.shape, y_val.dtype) == ((100,), np.uint8)


def test_a_missing_data_file_is_named_with_what_to_do(utils, tmp_path, monkeypatch):
    for path in utils.DATA_DIR.glob("*_part1.npy"):
        shutil.copy(path, tmp_path)
    (tmp_path / "X_val_part1.npy").unlink()
    monkeypatch.setattr(utils, "DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError) as caught:
        utils.load_data()
    message = str(caught.value)
    assert str(tmp_path / "X_val_part1.npy") in message
    assert "make setup" in message and "data/ folder" in message
    assert "\n" not in message


# ---------------------------------------------------------------------------------------------
# multivariate_gaussian
# ---------------------------------------------------------------------------------------------


def test_diagonal_var_gives_the_product_of_one_dimensional_normal_densities(utils):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    mu, var = np.array([0.5, -1.0, 2.0]), np.array([0.5, 2.0, 4.0])
    one_dimensional = np.exp(-((X - mu) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var)
    np.testing.assert_allclose(utils.multivariate_gaussian(X, mu, var), one_dimensional.prod(axis=1), rtol=1e-12)


def test_full_covariance_matches_the_formula_worked_by_hand(utils):
    # covariance [[2, 1], [1, 2]]: det 3, inverse [[2, -1], [-1, 2]] / 3.
    # x - mu = (1, 1) gives (2 - 1 - 1 + 2) / 3 = 2/3; (1, -1) gives (2 + 1 + 1 + 2) / 3 = 2.
    mu = np.array([1.0, 2.0])
    X = mu + np.array([[1.0, 1.0], [1.0, -1.0], [0.0, 0.0]])
    expected = np.exp(-0.5 * np.array([2 / 3, 2.0, 0.0])) / (2 * np.pi * np.sqrt(3.0))
    np.testing.assert_allclose(
        utils.multivariate_gaussian(X, mu, np.array([[2.0, 1.0], [1.0, 2.0]])), expected, rtol=1e-12
    )


def test_vector_var_equals_the_diagonal_covariance_matrix(utils, fit):
    X_train, _, _, mu, var = fit
    np.testing.assert_allclose(
        utils.multivariate_gaussian(X_train, mu, var),
        utils.multivariate_gaussian(X_train, mu, np.diag(var)),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    ("X", "mu", "var", "match"),
    [
        (np.zeros(3), np.zeros(3), np.ones(3), r"X must be a 2-D array .* got shape \(3,\)"),
        (np.zeros((4, 2)), np.zeros(3), np.ones(2), r"mu must have shape \(2,\) .* got shape \(3,\)"),
        (np.zeros((4, 2)), np.zeros(2), np.ones(3), r"var must have shape \(2,\) .* got shape \(3,\)"),
        (np.zeros((4, 2)), np.zeros(2), np.ones((2, 3)), r"var must have shape .* got shape \(2, 3\)"),
        (np.zeros((4, 2)), np.zeros(2), np.array([1.0, 0.0]), "var must be positive"),
        (np.zeros((4, 2)), np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]), "positive definite"),
    ],
    ids=["X_1d", "mu_length", "var_length", "var_matrix_shape", "zero_variance", "indefinite_covariance"],
)
def test_bad_arguments_raise_a_value_error_naming_them(utils, X, mu, var, match):
    with pytest.raises(ValueError, match=match):
        utils.multivariate_gaussian(X, mu, var)


# ---------------------------------------------------------------------------------------------
# threshold_metrics
# ---------------------------------------------------------------------------------------------


def test_best_f1_of_the_scan_is_the_labs_result_on_the_2_feature_data(utils, fit):
    _, X_val, y_val, mu, var = fit
    epsilons, _, _, f1 = utils.threshold_metrics(y_val, utils.multivariate_gaussian(X_val, mu, var))
    best = np.argmax(f1)
    assert f"{epsilons[best]:e} {f1[best]:f}" == "8.990853e-05 0.875000"


def test_best_f1_of_the_scan_is_the_labs_result_on_the_11_feature_data(utils):
    X_train, X_val, y_val = utils.load_data_multi()
    mu, var = X_train.mean(axis=0), X_train.var(axis=0)
    epsilons, _, _, f1 = utils.threshold_metrics(y_val, utils.multivariate_gaussian(X_val, mu, var))
    best = np.argmax(f1)
    assert f"{epsilons[best]:e} {f1[best]:f}" == "1.377229e-18 0.615385"
    assert np.sum(utils.multivariate_gaussian(X_train, mu, var) < epsilons[best]) == 117


def test_metrics_follow_the_hand_worked_scan(utils):
    # Anomalies at p = 200 and 300; the scan's epsilons are 0, 1, ..., 999.
    y_val, p_val = np.array([0, 1, 1, 0, 0]), np.array([0.0, 200.0, 300.0, 600.0, 1000.0])
    epsilons, precision, recall, f1 = utils.threshold_metrics(y_val, p_val)
    np.testing.assert_array_equal(epsilons, np.arange(1000.0))
    at = [0, 200, 250, 301, 700]  # flags nothing, {0}, {0, 200}, {0, 200, 300}, all but 1000
    np.testing.assert_allclose(precision[at], [0, 0, 1 / 2, 2 / 3, 1 / 2])
    np.testing.assert_allclose(recall[at], [0, 0, 1 / 2, 1, 1])
    np.testing.assert_allclose(f1[at], [0, 0, 1 / 2, 4 / 5, 2 / 3])


def test_undefined_metrics_are_zero_without_warnings(utils):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, precision, recall, f1 = utils.threshold_metrics(np.array([0, 0, 0]), np.array([0.0, 0.5, 1.0]))
    assert not precision.any() and not recall.any() and not f1.any()


@pytest.mark.parametrize(
    ("y_val", "p_val", "match"),
    [
        (np.array([0, 1]), np.array([0.1, 0.2, 0.3]), "same length"),
        (np.array([0, 1, 0]), np.array([0.2, 0.2, 0.2]), "at least two different values"),
    ],
    ids=["lengths_differ", "constant_p"],
)
def test_threshold_metrics_refuses_what_it_cannot_scan(utils, y_val, p_val, match):
    with pytest.raises(ValueError, match=match):
        utils.threshold_metrics(y_val, p_val)


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def _plot_calls(utils, fit):
    """Each plotting function with arguments from the lab, as (name, call taking ax)."""
    X_train, X_val, y_val, mu, var = fit
    p_val = utils.multivariate_gaussian(X_val, mu, var)
    outliers = utils.multivariate_gaussian(X_train, mu, var) < 8.990853e-05
    return {
        "plot_dataset": lambda ax: utils.plot_dataset(X_train, ax=ax),
        "visualize_fit": lambda ax: utils.visualize_fit(X_train, mu, var, ax=ax),
        "plot_outliers": lambda ax: utils.plot_outliers(X_train, mu, var, outliers, ax=ax),
        "plot_threshold_metrics": lambda ax: utils.plot_threshold_metrics(y_val, p_val, 8.990853e-05, ax=ax),
    }


PLOTS = ["plot_dataset", "visualize_fit", "plot_outliers", "plot_threshold_metrics"]


def test_plot_dataset_draws_blue_crosses_with_the_labs_labels_and_limits(utils, fit):
    X_train = fit[0]
    ax = utils.plot_dataset(X_train)
    (points,) = ax.collections
    np.testing.assert_array_equal(points.get_offsets(), X_train)
    np.testing.assert_array_equal(points.get_facecolor()[0], matplotlib.colors.to_rgba("b"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Latency (ms)", "Throughput (mb/s)")
    assert ax.get_title()
    assert (ax.get_xlim(), ax.get_ylim()) == ((0, 30), (0, 30))


def test_visualize_fit_draws_the_data_and_log_spaced_contours(utils, fit):
    X_train, _, _, mu, var = fit
    ax = utils.visualize_fit(X_train, mu, var)
    (data,) = ax.lines
    np.testing.assert_array_equal(data.get_xydata(), X_train)
    (contours,) = [artist for artist in ax.collections if isinstance(artist, ContourSet)]
    np.testing.assert_allclose(contours.levels, 10.0 ** np.arange(-20, 1, 3))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Latency (ms)", "Throughput (mb/s)")
    assert ax.get_xlim() == (0, 35) and ax.get_ylim() == (0, 35)


def test_plot_outliers_circles_each_flagged_row_and_counts_them(utils, fit):
    X_train, _, _, mu, var = fit
    outliers = utils.multivariate_gaussian(X_train, mu, var) < 8.990853e-05
    ax = utils.plot_outliers(X_train, mu, var, outliers)
    (circles,) = [line for line in ax.lines if line.get_marker() == "o"]
    np.testing.assert_array_equal(circles.get_xydata(), X_train[outliers])
    assert circles.get_markerfacecolor() == "none" and circles.get_markeredgecolor() == "r"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["Anomalies (6)"]


def test_plot_outliers_refuses_a_mask_that_is_not_boolean(utils, fit):
    X_train, _, _, mu, var = fit
    with pytest.raises(ValueError, match="boolean mask"):
        utils.plot_outliers(X_train, mu, var, np.zeros(len(X_train), dtype=int))


def test_plot_threshold_metrics_draws_the_three_scores_and_the_best_epsilon(utils, fit):
    _, X_val, y_val, mu, var = fit
    p_val = utils.multivariate_gaussian(X_val, mu, var)
    ax = utils.plot_threshold_metrics(y_val, p_val, best_epsilon=8.990853e-05)
    epsilons, precision, recall, f1 = utils.threshold_metrics(y_val, p_val)
    lines = {line.get_label(): line for line in ax.lines}
    for label, scores in (("Precision", precision), ("Recall", recall), ("F1", f1)):
        # The scan's first epsilon, min(p_val), is left off the log axis.
        np.testing.assert_array_equal(lines[label].get_xydata(), np.column_stack([epsilons, scores])[1:])
    (best,) = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert list(best.get_xdata()) == [8.990853e-05, 8.990853e-05]
    assert ax.get_xscale() == "log"


def test_plot_threshold_metrics_has_no_vertical_line_without_best_epsilon(utils, fit):
    _, X_val, y_val, mu, var = fit
    ax = utils.plot_threshold_metrics(y_val, utils.multivariate_gaussian(X_val, mu, var))
    assert [line.get_label() for line in ax.lines] == ["Precision", "Recall", "F1"]


@pytest.mark.parametrize("name", PLOTS)
def test_a_plot_without_ax_gets_a_new_figure(utils, fit, name):
    ax = _plot_calls(utils, fit)[name](None)
    assert isinstance(ax, Axes)
    assert plt.get_fignums() == [ax.figure.number]


@pytest.mark.parametrize("name", PLOTS)
def test_a_plot_given_ax_draws_there_and_makes_no_figure(utils, fit, name):
    _, ax = plt.subplots()
    assert _plot_calls(utils, fit)[name](ax) is ax
    assert len(plt.get_fignums()) == 1


@pytest.mark.parametrize("name", PLOTS)
def test_a_plot_neither_shows_nor_prints(utils, fit, name, monkeypatch, capsys):
    def refuse_show(*args, **kwargs):
        raise AssertionError("plt.show() was called")

    monkeypatch.setattr(plt, "show", refuse_show)
    _plot_calls(utils, fit)[name](None)
    assert capsys.readouterr() == ("", "")


def test_loading_and_computing_print_nothing(utils, capsys):
    X_train, X_val, y_val = utils.load_data()
    utils.load_data_multi()
    mu, var = X_train.mean(axis=0), X_train.var(axis=0)
    utils.threshold_metrics(y_val, utils.multivariate_gaussian(X_val, mu, var))
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------------------------------------
# public_tests: student implementations, right and wrong
# ---------------------------------------------------------------------------------------------


def estimate_gaussian(X):
    return X.mean(axis=0), X.var(axis=0)


def not_implemented(*args):
    raise NotImplementedError()


def scan(y_val, p_val, flag=np.less, better=np.greater, f1_of=lambda prec, rec: 2 * prec * rec / (prec + rec)):
    """A student's select_threshold loop; the keywords put in one slip each. Divides 0 by 0 freely."""
    best_epsilon, best_f1 = 0, 0
    step = (max(p_val) - min(p_val)) / 1000
    for epsilon in np.arange(min(p_val), max(p_val), step):
        predictions = flag(p_val, epsilon)
        tp = np.sum(predictions & (y_val == 1))
        fp = np.sum(predictions & (y_val == 0))
        fn = np.sum(~predictions & (y_val == 1))
        prec, rec = tp / (tp + fp), tp / (tp + fn)
        f1 = f1_of(prec, rec)
        if better(f1, best_f1):
            best_epsilon, best_f1 = epsilon, f1
    return best_epsilon, best_f1


def test_a_correct_estimate_gaussian_passes_with_one_green_line(public_tests, capsys):
    public_tests.estimate_gaussian_test(estimate_gaussian)
    assert capsys.readouterr() == (GREEN_LINE, "")


def test_a_correct_select_threshold_passes_with_one_green_line_and_no_warning(public_tests, capsys):
    with pytest.warns(RuntimeWarning, match="invalid value"):  # on its own, `scan` warns
        scan(np.array([0, 1]), np.array([0.0, 1.0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        public_tests.select_threshold_test(scan)
    assert capsys.readouterr() == (GREEN_LINE, "")
    assert caught == []


@pytest.mark.parametrize(
    ("student", "hint"),
    [
        (
            lambda X: (X.mean(axis=0), X.var(axis=0, ddof=1)),
            "expected var [2.666667 2.666667], got [4. 4.]. Did you divide by m - 1 instead of m?",
        ),
        (lambda X: (X.mean(axis=0), X.std(axis=0)), "standard deviation instead of the variance"),
        (
            lambda X: (X.mean(axis=1), X.var(axis=1)),
            "returned mu of shape (3,) instead of (2,). Did you average over each row (axis=1)",
        ),
        (lambda X: (X.mean(axis=0), (X**2).mean(axis=0)), "subtract mu from X before squaring"),
        (lambda X: (X.var(axis=0), X.mean(axis=0)), "Did you return (var, mu) instead of (mu, var)?"),
        (lambda X: X.mean(axis=0), "returned a single ndarray instead of the pair (mu, var)"),
        (lambda X: None, "returned None instead of the pair (mu, var)"),
        (lambda X: [X.mean(axis=0), X.var(axis=0)], "returned a list instead of the pair (mu, var). Return a tuple"),
        (
            lambda X: (X.astype(np.float32).mean(axis=0), X.astype(np.float32).var(axis=0)),
            "returned mu of dtype float32. Compute in float64, numpy's default",
        ),
        (
            lambda X: (X.mean(axis=0), X.astype(np.float32).var(axis=0).astype(float)),
            "expected var [2.6666666667 2.6666666667], got [2.6666667461 2.6666667461]",
        ),
    ],
    ids=[
        "sample_variance",
        "standard_deviation",
        "means_over_rows",
        "uncentred",
        "swapped",
        "single_array",
        "no_return",
        "list",
        "float32",
        "float32_cast_back",
    ],
)
def test_a_wrong_estimate_gaussian_fails_with_a_hint(public_tests, capsys, student, hint):
    with pytest.raises(AssertionError) as caught:
        public_tests.estimate_gaussian_test(student)
    assert hint in str(caught.value)
    assert "X = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]" in str(caught.value)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("student", "hint"),
    [
        (
            lambda y, p: scan(y, p, flag=np.less_equal),
            "expected (epsilon, F1) = (1, 1), got (0, 1). Did you flag anomalies with p_val <= epsilon",
        ),
        (
            lambda y, p: scan(y, p, better=np.greater_equal),
            "expected (epsilon, F1) = (1, 1), got (500, 1). Did you keep the last epsilon",
        ),
        (
            lambda y, p: scan(y, p, f1_of=lambda prec, rec: (prec + rec) / 2),
            "expected (epsilon, F1) = (301, 0.8), got (301, 0.833333). Did you average precision and recall?",
        ),
        (
            lambda y, p: scan(y, p)[::-1],
            "expected (epsilon, F1) = (301, 0.8), got (0.8, 301). Did you return (F1, epsilon) instead of (epsilon, F1)?",
        ),
        (lambda y, p: scan(y, p)[0], "returned a single float64 instead of the pair (epsilon, F1)"),
        (
            lambda y, p: (np.array([1.0, 2.0]), 1.0),
            "returned epsilon as ndarray of shape (2,) instead of a single float",
        ),
        (lambda y, p: (scan(y, p)[0], 1), "returned F1 as int instead of a single float"),
        (lambda y, p: list(scan(y, p)), "returned a list instead of the pair (epsilon, F1). Return a tuple"),
    ],
    ids=[
        "less_or_equal",
        "keeps_last_best",
        "arithmetic_mean_f1",
        "swapped",
        "single_value",
        "epsilon_array",
        "f1_int",
        "list",
    ],
)
def test_a_wrong_select_threshold_fails_with_a_hint(public_tests, student, hint):
    with pytest.raises(AssertionError, match="select_threshold") as caught:
        public_tests.select_threshold_test(student)
    assert hint in str(caught.value)


@pytest.mark.parametrize("test_name", ["estimate_gaussian_test", "select_threshold_test"])
def test_the_release_stub_is_reported_as_not_done_yet_in_one_line(public_tests, test_name):
    with pytest.raises(AssertionError) as caught:
        getattr(public_tests, test_name)(not_implemented)
    [line] = caught.value._render_traceback_()
    assert "Not done yet" in line and "not_implemented() still raises NotImplementedError" in line
    assert "Replace `raise NotImplementedError()` with your code" in line


def test_an_error_inside_the_students_function_names_it_and_its_line(public_tests):
    def estimate_gaussian(X):
        mu = X.mean(axis=0)
        return mu, X[5]  # the hand-worked cases have 2 to 4 rows

    with pytest.raises(AssertionError) as caught:
        public_tests.estimate_gaussian_test(estimate_gaussian)
    [line] = caught.value._render_traceback_()
    line_number = estimate_gaussian.__code__.co_firstlineno + 2
    assert (
        f"your function raised IndexError: index 5 is out of bounds for axis 0 with size 3 (line {line_number} " in line
    )


def test_a_select_threshold_right_by_hand_but_wrong_on_the_data_names_the_data(public_tests):
    def off_on_large_inputs(y_val, p_val):
        epsilon, f1 = scan(y_val, p_val)
        return (epsilon * 2, f1) if len(p_val) > 5 else (epsilon, f1)

    with pytest.raises(
        AssertionError,
        match=r"on the lab's validation set: expected \(epsilon, F1\) = "
        r"\(8\.99085e-05, 0\.875\), got \(0\.000179817, 0\.875\)\.$",
    ):
        public_tests.select_threshold_test(off_on_large_inputs)


def test_public_tests_export_only_the_two_checks(public_tests):
    assert sorted(public_tests.__all__) == ["estimate_gaussian_test", "select_threshold_test"]

"""The anomaly-detection lab's GaussianAnomalyDetector and the last section of the master that uses it.

The detector must be a well-behaved scikit-learn outlier detector, reproduce the lab's numbers
to the last digit (its epsilon_ is compared with the master's own select_threshold), and the
master must print every number of the section's expected-output blocks.

Exemptions from scikit-learn's estimator checks: without a fixed epsilon and before
select_threshold, the detector has no threshold, and predict and decision_function raise a
NotFittedError saying to call select_threshold or pass epsilon. The checks call them right after
fit, without labels, so on `GaussianAnomalyDetector()` the checks in NEEDS_A_THRESHOLD fail for
that reason alone (a test below shows it); every check passes on detectors given a fixed epsilon.
"""

from __future__ import annotations

import base64
import pickle
import re
import struct
import sys
from functools import partial
from unittest import SkipTest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import REPO_ROOT, import_lab_module  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from scipy.stats import multivariate_normal  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks  # noqa: E402

LAB = "anomaly_detection"
MASTER = REPO_ROOT / "solutions" / LAB / f"{LAB}.ipynb"
utils = import_lab_module(LAB, "utils")
Detector = utils.GaussianAnomalyDetector

# The checks that call predict or decision_function right after fit: they need a threshold.
NEEDS_A_THRESHOLD = {
    "check_outliers_train": "needs a threshold: predict right after fit",
    "check_outliers_fit_predict": "needs a threshold: fit_predict without labels",
    "check_classifier_data_not_an_array": "needs a threshold: predict right after fit",
    "check_estimators_pickle": "needs a threshold: compares predict before and after pickling",
    "check_estimators_dtypes": "needs a threshold: predict right after fit",
    "check_dtype_object": "needs a threshold: predict right after fit",
    "check_fit_score_takes_y": "needs a threshold: predict right after fit",
    "check_f_contiguous_array_estimator": "needs a threshold: predict right after fit",
    "check_methods_subset_invariance": "needs a threshold: predict right after fit",
    "check_methods_sample_order_invariance": "needs a threshold: predict right after fit",
    "check_dict_unchanged": "needs a threshold: predict right after fit",
    "check_fit_idempotent": "needs a threshold: predict right after fit",
}
# Flags a few of the checks' blob data (300 examples in 3 blobs) with either covariance.
CHECKS_EPSILON = 0.005
NEW_SECTION = ("detector_intro", "closing")  # the section's first cell and the one after its last


@pytest.fixture(autouse=True)
def lab_utils_importable(monkeypatch):
    """Pickling finds the detector's class by its module's name, `utils`, as in the lab's folder."""
    monkeypatch.setitem(sys.modules, "utils", utils)
    yield
    plt.close("all")


def expected_failed_checks(estimator) -> dict[str, str]:
    return NEEDS_A_THRESHOLD if estimator.epsilon is None else {}


def check_name(check) -> str:
    while isinstance(check, partial):
        check = check.func
    return check.__name__


@pytest.fixture(scope="module")
def lab_answers():
    """The master's own estimate_gaussian and select_threshold, from its answer cells."""
    namespace: dict = {}
    for cell in nbformat.read(MASTER, as_version=4).cells:
        if cell.metadata["nbgrader"]["grade_id"] in ("estimate_gaussian", "select_threshold"):
            exec(cell.source, namespace)
    return namespace["estimate_gaussian"], namespace["select_threshold"]


@pytest.fixture(scope="module", params=["load_data", "load_data_multi"])
def lab_run(request, lab_answers):
    """One dataset, the lab's own results on it (its functions, in float64) and the detector's."""
    estimate_gaussian, select_threshold = lab_answers
    X_train, X_val, y_val = getattr(utils, request.param)()
    mu, var = estimate_gaussian(X_train)
    epsilon, f1 = select_threshold(y_val, utils.multivariate_gaussian(X_val, mu, var))
    detector = Detector().fit(X_train).select_threshold(X_val, y_val)
    return X_train, X_val, y_val, dict(mu=mu, var=var, epsilon=epsilon, f1=f1), detector


# ---------------------------------------------------------------------------------------------
# scikit-learn's estimator checks
# ---------------------------------------------------------------------------------------------


@parametrize_with_checks(
    [Detector(), Detector(epsilon=CHECKS_EPSILON), Detector(covariance="full", epsilon=CHECKS_EPSILON)],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_the_exempt_checks_fail_only_for_want_of_a_threshold():
    failing = set()
    for estimator, check in estimator_checks_generator(Detector()):
        if check_name(check) in NEEDS_A_THRESHOLD:
            with pytest.raises(NotFittedError, match="no threshold yet"):
                check(estimator)
            failing.add(check_name(check))
    assert failing == set(NEEDS_A_THRESHOLD)


def test_without_validate_data_the_check_array_fallback_passes_the_same_checks(monkeypatch):
    """scikit-learn before 1.6 has no validate_data: the detector validates with check_array instead."""
    monkeypatch.setattr(utils, "validate_data", None)
    for covariance in ("diagonal", "full"):
        for estimator, check in estimator_checks_generator(Detector(covariance=covariance, epsilon=CHECKS_EPSILON)):
            try:
                check(estimator)
            except SkipTest as skipped:  # the same checks as above: pandas and array-API inputs
                assert re.search("pandas|array_api", str(skipped)), skipped


def test_a_cloned_pipeline_transforms_then_detects_as_the_detector_alone_does():
    X_train, X_val, y_val = utils.load_data()
    pipeline = clone(make_pipeline(FunctionTransformer(np.log), Detector()))
    pipeline.fit(X_train)
    pipeline[-1].select_threshold(pipeline[:-1].transform(X_val), y_val)
    alone = Detector().fit(np.log(X_train)).select_threshold(np.log(X_val), y_val)
    assert pipeline[-1].epsilon_ == alone.epsilon_
    np.testing.assert_array_equal(pipeline.score_samples(X_val), alone.score_samples(np.log(X_val)))
    np.testing.assert_array_equal(pipeline.predict(X_train), alone.predict(np.log(X_train)))
    assert (pipeline.predict(X_train) == -1).any()

    fixed = clone(pipeline).set_params(gaussiananomalydetector__epsilon=alone.epsilon_).fit(X_train)
    np.testing.assert_array_equal(fixed.predict(X_train), alone.predict(np.log(X_train)))


# ---------------------------------------------------------------------------------------------
# The lab's numbers
# ---------------------------------------------------------------------------------------------


def test_the_detector_learns_exercise_1s_parameters_to_the_last_digit(lab_run):
    _, _, _, lab, detector = lab_run
    np.testing.assert_array_equal(detector.mu_, lab["mu"])
    np.testing.assert_array_equal(detector.var_, lab["var"])


def test_the_detector_chooses_the_masters_epsilon_to_the_last_digit(lab_run):
    _, _, _, lab, detector = lab_run
    assert detector.epsilon_ == lab["epsilon"]
    assert detector.f1_ == lab["f1"]


def test_the_published_numbers_of_the_2_feature_set():
    X_train, X_val, y_val = utils.load_data()
    detector = Detector().fit(X_train).select_threshold(X_val, y_val)
    assert (str(detector.mu_), str(detector.var_)) == ("[14.11222578 14.99771051]", "[1.83263141 1.70974533]")
    assert f"{detector.epsilon_:e} {detector.f1_:f}" == "8.990853e-05 0.875000"
    assert np.sum(detector.predict(X_train) == -1) == 6


def test_the_published_numbers_of_the_11_feature_set():
    X_train, X_val, y_val = utils.load_data_multi()
    detector = Detector().fit(X_train).select_threshold(X_val, y_val)
    assert f"{detector.epsilon_:e} {detector.f1_:f}" == "1.377229e-18 0.615385"
    assert np.sum(detector.predict(X_train) == -1) == 117


def test_predict_flags_exactly_the_labs_p_below_epsilon(lab_run):
    X_train, X_val, _, lab, detector = lab_run
    for X in (X_train, X_val):
        p = utils.multivariate_gaussian(X, lab["mu"], lab["var"])
        np.testing.assert_array_equal(detector.predict(X) == -1, p < lab["epsilon"])


def test_the_threshold_history_is_the_labs_scan(lab_run):
    _, X_val, y_val, lab, detector = lab_run
    history = detector.threshold_history_
    expected = utils.threshold_metrics(y_val, utils.multivariate_gaussian(X_val, lab["mu"], lab["var"]))
    for got, want in zip(history, expected):
        np.testing.assert_array_equal(got, want)
    assert len(history.epsilons) == 1000
    best = int(np.argmax(history.f1))
    assert (history.epsilons[best], history.f1[best]) == (detector.epsilon_, detector.f1_)


# ---------------------------------------------------------------------------------------------
# Conventions: +1 / -1, scores, thresholds, errors
# ---------------------------------------------------------------------------------------------


def test_predict_returns_plus_one_for_normal_and_minus_one_for_anomalies():
    X_train, X_val, y_val = utils.load_data()
    detector = Detector().fit(X_train).select_threshold(X_val, y_val)
    labels = detector.predict(X_val)
    assert labels.dtype.kind == "i" and set(np.unique(labels)) == {-1, 1}
    decision = detector.decision_function(X_val)
    np.testing.assert_array_equal(labels, np.where(decision < 0, -1, 1))
    np.testing.assert_allclose(decision, detector.score_samples(X_val) - np.log(detector.epsilon_))
    # Section 5.1: the seven anomalies flagged are the only examples with p below epsilon.
    assert (np.sum(labels == -1), np.sum((labels == -1) & (y_val == 1))) == (7, 7)


def test_score_samples_is_the_log_density_and_stays_finite_where_the_density_underflows():
    X_train = utils.load_data()[0]
    detector = Detector().fit(X_train)
    near = X_train[:5]
    np.testing.assert_allclose(detector.score_samples(near), np.log(detector.density(near)), rtol=1e-12)
    far = detector.mu_ + np.array([[60.0, 0.0], [80.0, 0.0]]) * np.sqrt(detector.var_)
    assert not detector.density(far).any()
    scores = detector.score_samples(far)
    assert np.isfinite(scores).all() and scores[0] > scores[1]


def test_a_fixed_epsilon_sets_the_threshold_even_after_select_threshold():
    X_train, X_val, y_val = utils.load_data()
    detector = Detector(epsilon=1e-3).fit(X_train)
    assert detector.offset_ == np.log(1e-3)
    detector.select_threshold(X_val, y_val)
    assert detector.offset_ == np.log(1e-3)
    np.testing.assert_array_equal(detector.predict(X_train) == -1, detector.density(X_train) < 1e-3)


def test_without_a_threshold_predict_says_how_to_get_one():
    detector = Detector().fit(utils.load_data()[0])
    for method in (detector.predict, detector.decision_function):
        with pytest.raises(NotFittedError, match=r"call select_threshold\(X_val, y_val\).*epsilon"):
            method(utils.load_data()[1])


def test_fitting_again_forgets_the_threshold_of_the_earlier_fit():
    X_train, X_val, y_val = utils.load_data()
    detector = Detector().fit(X_train).select_threshold(X_val, y_val)
    detector.fit(X_val)
    assert not hasattr(detector, "epsilon_") and not hasattr(detector, "threshold_history_")
    with pytest.raises(NotFittedError, match="no threshold yet"):
        detector.predict(X_train)


@pytest.mark.parametrize("method", ["predict", "decision_function", "score_samples", "density"])
def test_every_method_raises_not_fitted_before_fit(method):
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(Detector(), method)(utils.load_data()[0])


def test_select_threshold_raises_not_fitted_before_fit():
    _, X_val, y_val = utils.load_data()
    with pytest.raises(NotFittedError, match="not fitted"):
        Detector().select_threshold(X_val, y_val)


@pytest.mark.parametrize(
    ("parameters", "match"),
    [
        ({"covariance": "spherical"}, "covariance must be 'diagonal' or 'full'"),
        ({"epsilon": -1e-3}, "epsilon must be None or a positive number"),
        ({"epsilon": "1e-3"}, "epsilon must be None or a positive number"),
    ],
    ids=["unknown_covariance", "negative_epsilon", "epsilon_as_text"],
)
def test_fit_refuses_bad_parameters(parameters, match):
    with pytest.raises(ValueError, match=match):
        Detector(**parameters).fit(utils.load_data()[0])


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_fit_refuses_a_constant_feature(covariance):
    X = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    with pytest.raises(ValueError, match="a feature is constant"):
        Detector(covariance=covariance).fit(X)


def test_select_threshold_refuses_labels_other_than_0_and_1():
    X_train, X_val, y_val = utils.load_data()
    with pytest.raises(ValueError, match=r"labels 1 \(anomaly\) and 0 \(normal\)"):
        Detector().fit(X_train).select_threshold(X_val, 2 * y_val)


# ---------------------------------------------------------------------------------------------
# Full covariance
# ---------------------------------------------------------------------------------------------


def test_full_covariance_matches_a_direct_numpy_and_scipy_computation():
    X_train, X_val, y_val = utils.load_data_multi()
    detector = Detector(covariance="full").fit(X_train)
    np.testing.assert_allclose(detector.mu_, X_train.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(detector.covariance_, np.cov(X_train, rowvar=False, bias=True), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.diag(detector.covariance_), detector.var_, rtol=1e-12)
    gaussian = multivariate_normal(X_train.mean(axis=0), np.cov(X_train, rowvar=False, bias=True))
    np.testing.assert_allclose(detector.score_samples(X_val), gaussian.logpdf(X_val), rtol=1e-10)
    np.testing.assert_allclose(detector.density(X_val), gaussian.pdf(X_val), rtol=1e-9)

    detector.select_threshold(X_val, y_val)
    flagged = detector.predict(X_val) == -1
    np.testing.assert_array_equal(flagged, gaussian.pdf(X_val) < detector.epsilon_)


def test_the_diagonal_detector_is_a_gaussian_with_a_diagonal_covariance():
    X_train, X_val, _ = utils.load_data_multi()
    detector = Detector().fit(X_train)
    assert not hasattr(detector, "covariance_")
    gaussian = multivariate_normal(X_train.mean(axis=0), np.diag(X_train.var(axis=0)))
    np.testing.assert_allclose(detector.score_samples(X_val), gaussian.logpdf(X_val), rtol=1e-10)


def test_the_threshold_history_survives_pickling():
    X_train, X_val, y_val = utils.load_data()
    detector = Detector().fit(X_train).select_threshold(X_val, y_val)
    copy = pickle.loads(pickle.dumps(detector))
    assert copy.threshold_history_.epsilons.tolist() == detector.threshold_history_.epsilons.tolist()
    np.testing.assert_array_equal(copy.predict(X_val), detector.predict(X_val))


# ---------------------------------------------------------------------------------------------
# The section's plots and comparison
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loader", ["load_data", "load_data_multi"])
def test_feature_histograms_draw_each_feature_with_its_gaussian_within_900_pixels(loader):
    X_train = getattr(utils, loader)()[0]
    figure = utils.plot_feature_histograms(X_train, title="Features")
    shown = [ax for ax in figure.axes if ax.get_visible()]
    assert len(shown) == X_train.shape[1]
    assert [ax.get_xlabel() for ax in shown] == [f"Feature {i + 1}" for i in range(X_train.shape[1])]
    for ax, values in zip(shown, X_train.T):
        (curve,) = ax.lines
        x, y = curve.get_xydata().T
        np.testing.assert_allclose(
            y, np.exp(-((x - values.mean()) ** 2) / (2 * values.var())) / np.sqrt(2 * np.pi * values.var())
        )
        assert sum(patch.get_height() * patch.get_width() for patch in ax.patches) == pytest.approx(1)
    assert figure.get_suptitle() == "Features"
    assert figure.get_size_inches()[0] <= 9


def test_feature_histograms_refuse_names_that_do_not_match_the_columns():
    with pytest.raises(ValueError, match="name each of X's 2 columns"):
        utils.plot_feature_histograms(utils.load_data()[0], ["Latency (ms)"])


def test_plot_threshold_history_draws_the_detectors_scan_and_epsilon():
    X_train, X_val, y_val = utils.load_data_multi()
    detector = Detector().fit(X_train)
    with pytest.raises(NotFittedError):
        utils.plot_threshold_history(detector)
    detector.select_threshold(X_val, y_val)
    ax = utils.plot_threshold_history(detector)
    history = detector.threshold_history_
    lines = {line.get_label(): line for line in ax.lines}
    for label, scores in (("Precision", history.precision), ("Recall", history.recall), ("F1", history.f1)):
        np.testing.assert_array_equal(lines[label].get_xydata(), np.column_stack([history.epsilons, scores])[1:])
    (best,) = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert list(best.get_xdata()) == [detector.epsilon_] * 2
    assert ax.get_title() and ax.figure.get_size_inches()[0] <= 9


def test_the_comparison_thresholds_each_detector_by_the_labs_scan_of_its_scores():
    X_train, X_val, y_val = utils.load_data_multi()
    scores = utils.compare_detectors(X_train, X_val, y_val, random_state=0)
    assert [score.detector for score in scores] == [
        "Gaussian (diagonal)",
        "Gaussian (full)",
        "EllipticEnvelope",
        "IsolationForest",
        "LocalOutlierFactor",
    ]
    for covariance, score in zip(("diagonal", "full"), scores):
        detector = Detector(covariance=covariance).fit(X_train)
        scan = utils.threshold_metrics(y_val, detector.score_samples(X_val))
        best = int(np.argmax(scan.f1))
        assert score.f1 == scan.f1[best]
        assert (score.precision, score.recall) == (scan.precision[best], scan.recall[best])
        assert score.flagged_in_training == np.sum(detector.score_samples(X_train) < scan.epsilons[best])
    assert utils.compare_detectors(X_train, X_val, y_val, random_state=0) == scores

    table = utils.format_comparison(scores).splitlines()
    assert len(table) == 1 + len(scores)
    ax = utils.plot_comparison(scores)
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [getattr(score, metric) for metric in ("precision", "recall", "f1") for score in scores]
    assert ax.figure.get_size_inches()[0] <= 9


# ---------------------------------------------------------------------------------------------
# The master's new section
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def executed_section() -> list:
    """The new section's cells, from one run of the master in a fresh kernel."""
    notebook = nbformat.read(MASTER, as_version=4)
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=60,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(MASTER.parent)}},
    ).execute()
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells]
    first, after = (ids.index(grade_id) for grade_id in NEW_SECTION)
    return notebook.cells[first:after]


def stdout(cells: list) -> str:
    return "".join(
        output.text
        for cell in cells
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stdout"
    )


def test_the_section_prints_every_expected_output_block_verbatim(executed_section):
    blocks, cells_since = 0, []
    for cell in executed_section:
        if cell.cell_type == "code":
            cells_since.append(cell)
        elif cell.metadata["nbgrader"]["grade_id"].startswith("expected_"):
            (expected,) = re.findall(r"^```\n(.*?)^```", cell.source, re.DOTALL | re.MULTILINE)
            assert re.search(r"\d", expected)
            assert expected in stdout(cells_since), cell.metadata["nbgrader"]["grade_id"]
            blocks, cells_since = blocks + 1, []
    assert blocks == 3


def test_the_section_runs_without_errors_or_warnings(executed_section):
    problems = [
        (cell.metadata["nbgrader"]["grade_id"], output.get("ename") or output.get("text"))
        for cell in executed_section
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error" or output.get("name") == "stderr"
    ]
    assert problems == []


def test_the_sections_figures_fit_in_900_pixels(executed_section):
    widths = {}
    for cell in executed_section:
        for output in getattr(cell, "outputs", []):
            if "image/png" in output.get("data", {}):
                png = base64.b64decode(output.data["image/png"])
                widths.setdefault(cell.metadata["nbgrader"]["grade_id"], []).append(struct.unpack(">I", png[16:20])[0])
    assert sorted(widths) == ["compare_detectors", "detector_fit_high", "feature_histograms"]
    assert len(widths["feature_histograms"]) == 2
    assert all(width <= 900 for found in widths.values() for width in found), widths


def test_the_sections_cells_are_read_only_and_ungraded():
    notebook = nbformat.read(MASTER, as_version=4)
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells]
    first, after = (ids.index(grade_id) for grade_id in NEW_SECTION)
    assert len(set(ids)) == len(ids)
    for cell in notebook.cells[first:after]:
        assert cell.metadata["nbgrader"] == {
            "grade": False,
            "grade_id": cell.metadata["nbgrader"]["grade_id"],
            "locked": True,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }

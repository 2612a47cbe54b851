"""Helpers of the anomaly-detection lab: its datasets, the Gaussian density, the plots and a detector.

The lab fits a Gaussian to the latency and throughput of servers and flags the examples
whose density falls below a threshold epsilon chosen on a labelled validation set. Its last
section packs the same steps into a scikit-learn estimator and compares it with other detectors.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import LocalOutlierFactor
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, column_or_1d

try:
    from sklearn.utils.validation import validate_data  # scikit-learn 1.6 and later
except ImportError:
    validate_data = None

__all__ = [
    "load_data",
    "load_data_multi",
    "multivariate_gaussian",
    "plot_dataset",
    "visualize_fit",
    "plot_outliers",
    "threshold_metrics",
    "plot_threshold_metrics",
    "plot_feature_histograms",
    "ThresholdScan",
    "GaussianAnomalyDetector",
    "plot_threshold_history",
    "DetectorScore",
    "compare_detectors",
    "format_comparison",
    "plot_comparison",
]

# The folder this file sits in, not the target of a link to it: the lab folder's own data.
DATA_DIR = Path(__file__).parent / "data"

LATENCY_LABEL = "Latency (ms)"
THROUGHPUT_LABEL = "Throughput (mb/s)"
CONTOUR_LEVELS = 10.0 ** np.arange(-20, 1, 3)  # 1e-20, 1e-17, ..., 1e-2
GRID = np.arange(0, 35.5, 0.5)  # 0 to 35 inclusive, for both features
SCAN_STEPS = 1000
MAX_FIGURE_WIDTH = 9  # inches: 900 pixels at 100 dpi, beside JupyterLab's file browser


def _load(name: str) -> np.ndarray:
    path = DATA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run `make setup` from the course kit's root, "
            "or copy the lab's data/ folder next to this notebook."
        )
    return np.load(path, allow_pickle=False)


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 2-feature dataset: X_train, X_val and the validation labels y_val (1 = anomaly)."""
    return _load("X_part1.npy"), _load("X_val_part1.npy"), _load("y_val_part1.npy")


def load_data_multi() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 11-feature dataset: X_train, X_val and the validation labels y_val (1 = anomaly)."""
    return _load("X_part2.npy"), _load("X_val_part2.npy"), _load("y_val_part2.npy")


def multivariate_gaussian(X: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Density of the normal distribution N(mu, var) at each row of X, shape (m,).

    A 1-D `var` holds the per-feature variances (a diagonal covariance, the model of the
    lab); a 2-D `var` is the full covariance matrix.
    """
    X, mu, var = (np.asarray(a, dtype=float) for a in (X, mu, var))
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array of shape (m, n), got shape {X.shape}")
    n = X.shape[1]
    if mu.shape != (n,):
        raise ValueError(f"mu must have shape ({n},) to match X's {n} features, got shape {mu.shape}")
    if var.shape not in ((n,), (n, n)):
        raise ValueError(
            f"var must have shape ({n},) (variances) or ({n}, {n}) (covariance matrix), got shape {var.shape}"
        )
    covariance = np.diag(var) if var.ndim == 1 else var
    try:
        # The Cholesky factor L (covariance = L Lᵀ) gives det = prod(diag L)² and
        # (x-mu)ᵀ covariance⁻¹ (x-mu) = |L⁻¹ (x-mu)|², and exists only if covariance is positive definite.
        cholesky = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise ValueError(
            "var must be positive (a positive definite covariance matrix): check that no feature is constant"
        ) from None
    determinant = np.prod(np.diag(cholesky)) ** 2
    whitened = np.linalg.solve(cholesky, (X - mu).T)
    squared_distance = np.sum(whitened**2, axis=0)
    return (2 * np.pi) ** (-n / 2) * determinant ** (-0.5) * np.exp(-0.5 * squared_distance)


def _new_axes_if_none(ax: Axes | None) -> Axes:
    return plt.subplots()[1] if ax is None else ax


def plot_dataset(X: np.ndarray, ax: Axes | None = None) -> Axes:
    """Scatter the 2-feature dataset as blue crosses."""
    ax = _new_axes_if_none(ax)
    ax.scatter(X[:, 0], X[:, 1], marker="x", c="b")
    ax.set_title("The first dataset")
    ax.set_xlabel(LATENCY_LABEL)
    ax.set_ylabel(THROUGHPUT_LABEL)
    ax.axis([0, 30, 0, 30])
    return ax


def visualize_fit(X: np.ndarray, mu: np.ndarray, var: np.ndarray, ax: Axes | None = None) -> Axes:
    """The 2-feature dataset with contours of the fitted density at 1e-20, 1e-17, ..., 1e-2."""
    ax = _new_axes_if_none(ax)
    grid_x, grid_y = np.meshgrid(GRID, GRID)
    density = multivariate_gaussian(np.column_stack([grid_x.ravel(), grid_y.ravel()]), mu, var)
    ax.plot(X[:, 0], X[:, 1], "bx")
    ax.contour(grid_x, grid_y, density.reshape(grid_x.shape), levels=CONTOUR_LEVELS, linewidths=1)
    ax.set_title("The Gaussian contours of the distribution fit to the dataset")
    ax.set_xlabel(LATENCY_LABEL)
    ax.set_ylabel(THROUGHPUT_LABEL)
    return ax


def plot_outliers(X: np.ndarray, mu: np.ndarray, var: np.ndarray, outliers: np.ndarray, ax: Axes | None = None) -> Axes:
    """visualize_fit, with red circles around the rows of X where the mask `outliers` is True."""
    outliers = np.asarray(outliers)
    if outliers.dtype != bool or outliers.shape != (len(X),):
        raise ValueError(
            f"outliers must be a boolean mask of shape ({len(X)},), one value per row of X, "
            f"got dtype {outliers.dtype} and shape {outliers.shape}: compare p with epsilon, e.g. p < epsilon"
        )
    ax = visualize_fit(X, mu, var, ax)
    count = int(outliers.sum())
    ax.plot(
        X[outliers, 0],
        X[outliers, 1],
        "ro",
        markersize=10,
        markerfacecolor="none",
        markeredgewidth=2,
        label=f"Anomalies ({count})",
    )
    ax.set_title("Anomalies: the examples with p(x) < epsilon, circled")
    ax.legend()
    return ax


class ThresholdScan(NamedTuple):
    """Precision, recall and F1 of `p_val < epsilon` for each epsilon of the lab's scan."""

    epsilons: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


def threshold_metrics(y_val: np.ndarray, p_val: np.ndarray) -> ThresholdScan:
    """Precision, recall and F1 of `p_val < epsilon` over the lab's scan of epsilon.

    The scan is the one of select_threshold: 1000 steps from min(p_val) towards max(p_val).
    A metric whose denominator is zero (nothing predicted, or no anomaly) is 0.
    Returns the ThresholdScan (epsilons, precision, recall, f1), each array of the scan's length.
    """
    y_val, p_val = np.asarray(y_val), np.asarray(p_val, dtype=float)
    if p_val.ndim != 1 or y_val.shape != p_val.shape:
        raise ValueError(
            f"y_val and p_val must be 1-D arrays of the same length, got shapes {y_val.shape} and {p_val.shape}"
        )
    low, high = np.min(p_val), np.max(p_val)
    if low == high:
        raise ValueError("p_val must hold at least two different values to scan thresholds between them")
    epsilons = np.arange(low, high, (high - low) / SCAN_STEPS)

    predicted = p_val[np.newaxis, :] < epsilons[:, np.newaxis]  # one row per epsilon
    anomalous = y_val == 1
    true_pos = np.sum(predicted & anomalous, axis=1)
    false_pos = np.sum(predicted & ~anomalous, axis=1)
    false_neg = np.sum(~predicted & anomalous, axis=1)

    def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        numerator, denominator = numerator.astype(float), denominator.astype(float)
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    precision = ratio(true_pos, true_pos + false_pos)
    recall = ratio(true_pos, true_pos + false_neg)
    f1 = ratio(2 * precision * recall, precision + recall)
    return ThresholdScan(epsilons, precision, recall, f1)


def plot_threshold_metrics(
    y_val: np.ndarray, p_val: np.ndarray, best_epsilon: float | None = None, ax: Axes | None = None
) -> Axes:
    """Precision, recall and F1 against epsilon, with a dashed line at best_epsilon if given."""
    ax = _new_axes_if_none(ax)
    _draw_scan(threshold_metrics(y_val, p_val), best_epsilon, ax)
    ax.set_title("Scores of p < epsilon on the validation set")
    return ax


def _draw_scan(scan: ThresholdScan, best_epsilon: float | None, ax: Axes) -> None:
    epsilons, precision, recall, f1 = scan
    # On a log axis the small thresholds, where the choice is made, get room. The scan's first
    # epsilon, min(p_val), lies many decades below the others and flags nothing: it is left out.
    shown = slice(1, None)
    ax.plot(epsilons[shown], precision[shown], label="Precision")
    ax.plot(epsilons[shown], recall[shown], label="Recall")
    ax.plot(epsilons[shown], f1[shown], label="F1")
    ax.set_xscale("log")
    if best_epsilon is not None:
        ax.axvline(best_epsilon, color="k", linestyle="--", label=f"Best epsilon = {best_epsilon:.3g}")
    ax.set_xlabel("epsilon (log scale)")
    ax.set_ylabel("Score")
    ax.legend()


def plot_feature_histograms(
    X: np.ndarray,
    feature_names: Sequence[str] | None = None,
    title: str = "Histograms of the features",
    bins: int = 30,
) -> Figure:
    """One histogram per column of X, four to a row, with the Gaussian fitted to that column.

    The curve is the normal density with the column's mean and variance (divided by m, as in
    Exercise 1): where the bars stray far from it, the Gaussian model fits that feature badly.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array of shape (m, n), got shape {X.shape}")
    n = X.shape[1]
    names = list(feature_names) if feature_names is not None else [f"Feature {i + 1}" for i in range(n)]
    if len(names) != n:
        raise ValueError(f"feature_names must name each of X's {n} columns, got {len(names)} names")
    columns = min(n, 4)
    rows = -(-n // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(MAX_FIGURE_WIDTH, 0.5 + 2.2 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        values = X[:, i]
        mu, var = values.mean(), values.var()
        ax.hist(values, bins=bins, density=True, color="tab:blue", alpha=0.6)
        curve = np.linspace(values.min(), values.max(), 200)
        ax.plot(curve, np.exp(-((curve - mu) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var), color="tab:red")
        ax.set_xlabel(names[i])
        ax.set_yticks([])
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def _log_density(X: np.ndarray, mu: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """log p(x) of each row of X under N(mu, covariance), computed without forming p(x)."""
    cholesky = _cholesky(covariance)
    whitened = np.linalg.solve(cholesky, (X - mu).T)
    log_determinant = 2 * np.sum(np.log(np.diag(cholesky)))
    return -0.5 * (X.shape[1] * np.log(2 * np.pi) + log_determinant + np.sum(whitened**2, axis=0))


def _cholesky(covariance: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the covariance of the training data is singular: a feature is constant, or (with "
            "covariance='full') a combination of features is; drop or combine such features"
        ) from None


class GaussianAnomalyDetector(OutlierMixin, BaseEstimator):
    """The lab's detector as a scikit-learn outlier detector: a Gaussian density and a threshold.

    `fit` learns the Gaussian from unlabelled data as Exercise 1 does; `select_threshold` picks
    epsilon on a labelled validation set with Exercise 2's F1 scan; `predict` then returns +1
    for normal examples and -1 for anomalies, those whose density p(x) is below epsilon.

    Parameters
    ----------
    covariance : "diagonal" or "full"
        "diagonal" is the lab's model, one variance per feature (independent features);
        "full" fits the whole covariance matrix, so that the density's ellipses can tilt.
    epsilon : float or None
        A fixed density threshold. When given, predict uses it, even after select_threshold;
        when None, predict needs select_threshold first.

    Attributes
    ----------
    mu_ : ndarray of shape (n_features,)
        The mean of each feature.
    var_ : ndarray of shape (n_features,)
        The variance of each feature, divided by m as in Exercise 1.
    covariance_ : ndarray of shape (n_features, n_features)
        Only with covariance="full": the covariance matrix, also divided by m.
    n_features_in_ : int
        The number of features seen by fit.
    epsilon_, f1_ : float
        Set by select_threshold: the first epsilon of the scan with the best F1, and that F1
        (epsilon_ is 0 when no epsilon scores an F1 above 0, as in the lab).
    threshold_history_ : ThresholdScan
        Set by select_threshold: every epsilon of the scan with its precision, recall and F1.
    offset_ : float
        log of the threshold in use (epsilon, else epsilon_): decision_function is
        score_samples minus offset_.

    Without epsilon and before select_threshold, predict and decision_function raise a
    NotFittedError that says so, rather than guessing a threshold: choosing it is the point of
    the lab. scikit-learn's estimator checks call them right after fit, without labels, so on
    `GaussianAnomalyDetector()` these checks fail for that reason alone, and all pass when a
    fixed epsilon is given: check_outliers_train (with and without read-only data),
    check_outliers_fit_predict, check_classifier_data_not_an_array, check_estimators_pickle
    (with and without read-only data), check_estimators_dtypes, check_dtype_object,
    check_fit_score_takes_y, check_f_contiguous_array_estimator, check_methods_subset_invariance,
    check_methods_sample_order_invariance, check_dict_unchanged and check_fit_idempotent.
    """

    def __init__(self, covariance: str = "diagonal", epsilon: float | None = None) -> None:
        self.covariance = covariance
        self.epsilon = epsilon

    def fit(self, X: np.ndarray, y: None = None) -> GaussianAnomalyDetector:
        """Learn the mean and (co)variance of X's features; y is ignored. Forgets any earlier threshold."""
        self._check_parameters()
        X = self._validated(X, reset=True)
        m = X.shape[0]
        # Exercise 1's formulas, so that the results agree with the lab's to the last digit.
        mu = np.sum(X, axis=0) / m
        deviations = X - mu
        var = np.sum(deviations**2, axis=0) / m
        covariance = deviations.T @ deviations / m if self.covariance == "full" else None
        _cholesky(np.diag(var) if covariance is None else covariance)
        # What an earlier fit learned, its threshold included, would not match this density.
        for name in ("covariance_", "epsilon_", "f1_", "threshold_history_"):
            self.__dict__.pop(name, None)
        self.mu_, self.var_ = mu, var
        if covariance is not None:
            self.covariance_ = covariance
        return self

    def select_threshold(self, X_val: np.ndarray, y_val: np.ndarray) -> GaussianAnomalyDetector:
        """Choose epsilon_ on a labelled validation set (y_val: 1 = anomaly, 0 = normal), as Exercise 2 does.

        The scan is the lab's: 1000 epsilons from min to max of the validation densities,
        `p < epsilon` flags an anomaly, and the first epsilon with the best F1 is kept.
        """
        check_is_fitted(self)
        X_val = self._validated(X_val, reset=False)
        y_val = column_or_1d(y_val)
        check_consistent_length(X_val, y_val)
        if not np.isin(y_val, (0, 1)).all():
            raise ValueError("y_val must hold the labels 1 (anomaly) and 0 (normal) only")
        # On the density, not its log, so that epsilon_ is the lab's to the last digit.
        scan = threshold_metrics(y_val, self.density(X_val))
        best = int(np.argmax(scan.f1))  # the first best, as the lab's strict `>` keeps it
        self.epsilon_ = float(scan.epsilons[best]) if scan.f1[best] > 0 else 0.0
        self.f1_ = float(scan.f1[best])
        self.threshold_history_ = scan
        return self

    def density(self, X: np.ndarray) -> np.ndarray:
        """The density p(x) of each row of X, as the lab's multivariate_gaussian computes it."""
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        return multivariate_gaussian(X, self.mu_, self.covariance_ if self.covariance == "full" else self.var_)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """log p(x) of each row of X: the higher, the more normal.

        Logs, because densities underflow: with 11 features they go down to 1e-18 and below,
        and far enough from the mean they round to 0, all alike; their logs stay apart.
        """
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        return _log_density(X, self.mu_, self._covariance_matrix())

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """log p(x) - log(threshold): positive for normal examples, negative for anomalies."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """+1 for each normal row of X, -1 for each anomaly (p(x) below the threshold)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    @property
    def offset_(self) -> float:
        """log of the threshold in use: epsilon if given, else epsilon_ from select_threshold."""
        check_is_fitted(self)
        if self.epsilon is not None:
            threshold = self.epsilon
        elif hasattr(self, "epsilon_"):
            threshold = self.epsilon_
        else:
            raise NotFittedError(
                f"This {type(self).__name__} has no threshold yet: call select_threshold(X_val, y_val) "
                "with a labelled validation set, or create it with a fixed epsilon, "
                f"e.g. {type(self).__name__}(epsilon=1e-4)."
            )
        return float(np.log(threshold)) if threshold > 0 else -np.inf

    def _check_parameters(self) -> None:
        if self.covariance not in ("diagonal", "full"):
            raise ValueError(f"covariance must be 'diagonal' or 'full', got {self.covariance!r}")
        epsilon = self.epsilon
        if epsilon is not None and (
            isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not 0 < epsilon < np.inf
        ):
            raise ValueError(f"epsilon must be None or a positive number, got {epsilon!r}")

    def _covariance_matrix(self) -> np.ndarray:
        return self.covariance_ if self.covariance == "full" else np.diag(self.var_)

    def _validated(self, X: np.ndarray, reset: bool) -> np.ndarray:
        """X as a 2-D float array, its number of features recorded (reset) or checked against fit's."""
        min_samples = 2 if reset else 1  # a variance needs two examples
        if validate_data is not None:
            return validate_data(self, X, reset=reset, dtype=np.float64, ensure_min_samples=min_samples)
        X = check_array(X, dtype=np.float64, ensure_min_samples=min_samples)
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} "
                f"is expecting {self.n_features_in_} features as input."
            )
        return X


def plot_threshold_history(detector: GaussianAnomalyDetector, ax: Axes | None = None) -> Axes:
    """Precision, recall and F1 of the detector's threshold search, with a dashed line at its epsilon_."""
    check_is_fitted(detector, "threshold_history_")
    ax = _new_axes_if_none(ax)
    _draw_scan(detector.threshold_history_, detector.epsilon_, ax)
    ax.set_title("The detector's search for epsilon on the validation set")
    return ax


class DetectorScore(NamedTuple):
    """One detector's scores on the validation set, at its chosen threshold, and its flags on the training set."""

    detector: str
    precision: float
    recall: float
    f1: float
    flagged_in_training: int


def compare_detectors(
    X_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, random_state: int = 0
) -> list[DetectorScore]:
    """This module's detector (diagonal and full covariance) beside three of scikit-learn's, on equal terms.

    Each detector is fitted to X_train and gets its threshold from the lab's F1 scan on the
    validation set, applied to its own score_samples (higher = more normal; for the Gaussian,
    log p(x)). A training example is flagged when its score is below that threshold; for
    LocalOutlierFactor the training examples' scores are negative_outlier_factor_, since
    its score_samples is meant for new data only.
    """
    detectors = {
        "Gaussian (diagonal)": GaussianAnomalyDetector(),
        "Gaussian (full)": GaussianAnomalyDetector(covariance="full"),
        "EllipticEnvelope": EllipticEnvelope(random_state=random_state),
        "IsolationForest": IsolationForest(random_state=random_state),
        "LocalOutlierFactor": LocalOutlierFactor(novelty=True),
    }
    scores = []
    for name, detector in detectors.items():
        detector.fit(X_train)
        scan = threshold_metrics(y_val, detector.score_samples(X_val))
        best = int(np.argmax(scan.f1))
        if isinstance(detector, LocalOutlierFactor):
            training_scores = detector.negative_outlier_factor_
        else:
            training_scores = detector.score_samples(X_train)
        flagged = int(np.sum(training_scores < scan.epsilons[best]))
        scores.append(
            DetectorScore(name, float(scan.precision[best]), float(scan.recall[best]), float(scan.f1[best]), flagged)
        )
    return scores


def format_comparison(scores: Sequence[DetectorScore]) -> str:
    """The scores as a text table, one row per detector, three decimals."""
    width = max(len("Detector"), *(len(score.detector) for score in scores))
    lines = [f"{'Detector':<{width}}  Precision  Recall     F1  Flagged in training"]
    for score in scores:
        lines.append(
            f"{score.detector:<{width}}  {score.precision:9.3f}  {score.recall:6.3f}  {score.f1:5.3f}"
            f"  {score.flagged_in_training:19d}"
        )
    return "\n".join(lines)


def plot_comparison(scores: Sequence[DetectorScore], ax: Axes | None = None) -> Axes:
    """Precision, recall and F1 of each detector as grouped bars."""
    if ax is None:
        ax = plt.subplots(figsize=(MAX_FIGURE_WIDTH, 4))[1]
    positions = np.arange(len(scores))
    width = 0.27
    for offset, metric in zip((-width, 0, width), ("precision", "recall", "f1")):
        ax.bar(
            positions + offset,
            [getattr(score, metric) for score in scores],
            width,
            label="F1" if metric == "f1" else metric.capitalize(),
        )
    ax.set_xticks(positions, [score.detector for score in scores])
    ax.set_ylim(0, 1.2)  # room for the legend above the bars
    ax.set_ylabel("Score on the validation set")
    ax.set_title("Detectors compared at the threshold with their best F1")
    ax.legend(loc="upper right", ncols=3)
    return ax

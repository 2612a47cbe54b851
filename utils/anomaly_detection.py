"""Helpers of the anomaly-detection lab: its datasets, the Gaussian density and the plots.

The lab fits a Gaussian to the latency and throughput of servers and flags the examples
whose density falls below a threshold epsilon chosen on a labelled validation set.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

__all__ = [
    "load_data",
    "load_data_multi",
    "multivariate_gaussian",
    "plot_dataset",
    "visualize_fit",
    "plot_outliers",
    "threshold_metrics",
    "plot_threshold_metrics",
]

# The folder this file sits in, not the target of a link to it: the lab folder's own data.
DATA_DIR = Path(__file__).parent / "data"

LATENCY_LABEL = "Latency (ms)"
THROUGHPUT_LABEL = "Throughput (mb/s)"
CONTOUR_LEVELS = 10.0 ** np.arange(-20, 1, 3)  # 1e-20, 1e-17, ..., 1e-2
GRID = np.arange(0, 35.5, 0.5)  # 0 to 35 inclusive, for both features
SCAN_STEPS = 1000


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


def plot_outliers(
    X: np.ndarray, mu: np.ndarray, var: np.ndarray, outliers: np.ndarray, ax: Axes | None = None
) -> Axes:
    """visualize_fit, with red circles around the rows of X where the mask `outliers` is True."""
    outliers = np.asarray(outliers)
    if outliers.dtype != bool or outliers.shape != (len(X),):
        raise ValueError(
            f"outliers must be a boolean mask of shape ({len(X)},), one value per row of X, "
            f"got dtype {outliers.dtype} and shape {outliers.shape}: compare p with epsilon, e.g. p < epsilon"
        )
    ax = visualize_fit(X, mu, var, ax)
    count = int(outliers.sum())
    ax.plot(X[outliers, 0], X[outliers, 1], "ro", markersize=10, markerfacecolor="none",
            markeredgewidth=2, label=f"Anomalies ({count})")
    ax.set_title("Anomalies: the examples with p(x) < epsilon, circled")
    ax.legend()
    return ax


def threshold_metrics(
    y_val: np.ndarray, p_val: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of `p_val < epsilon` over the lab's scan of epsilon.

    The scan is the one of select_threshold: 1000 steps from min(p_val) towards max(p_val).
    A metric whose denominator is zero (nothing predicted, or no anomaly) is 0.
    Returns (epsilons, precision, recall, f1), each of the scan's length.
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
    return epsilons, precision, recall, f1


def plot_threshold_metrics(
    y_val: np.ndarray, p_val: np.ndarray, best_epsilon: float | None = None, ax: Axes | None = None
) -> Axes:
    """Precision, recall and F1 against epsilon, with a dashed line at best_epsilon if given."""
    epsilons, precision, recall, f1 = threshold_metrics(y_val, p_val)
    ax = _new_axes_if_none(ax)
    # On a log axis the small thresholds, where the choice is made, get room. The scan's first
    # epsilon, min(p_val), lies many decades below the others and flags nothing: it is left out.
    shown = slice(1, None)
    ax.plot(epsilons[shown], precision[shown], label="Precision")
    ax.plot(epsilons[shown], recall[shown], label="Recall")
    ax.plot(epsilons[shown], f1[shown], label="F1")
    ax.set_xscale("log")
    if best_epsilon is not None:
        ax.axvline(best_epsilon, color="k", linestyle="--", label=f"Best epsilon = {best_epsilon:.3g}")
    ax.set_title("Scores of p < epsilon on the validation set")
    ax.set_xlabel("epsilon (log scale)")
    ax.set_ylabel("Score")
    ax.legend()
    return ax

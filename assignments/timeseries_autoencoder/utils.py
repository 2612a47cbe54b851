"""Helpers of the time-series autoencoder lab: the signal, the network, scores and plots.

The notebook imports everything from here except the four graded functions, which the
students write. Every helper checks its input and stops with a one-line error that names
the bad argument, so that a mistake upstream never turns into NaNs downstream.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit

__all__ = [
    "WINDOW",
    "TEST_FRACTION",
    "ANOMALY_STARTS",
    "ANOMALY_LENGTH",
    "SCORED_SAMPLES",
    "ROLLING_WINDOW",
    "THRESHOLD",
    "make_cpu_signal",
    "anomaly_shapes",
    "insert_anomalies",
    "Autoencoder",
    "train_autoencoder",
    "reconstruct",
    "window_labels",
    "window_scores",
    "detection_scores",
    "isolation_forest_flags",
    "bottleneck_projection",
    "separation",
    "anomaly_coverage",
    "plot_signal",
    "plot_split",
    "plot_window",
    "plot_loss_curves",
    "plot_anomaly_shapes",
    "plot_reconstruction",
    "plot_bottleneck",
    "plot_detector_comparison",
]

WINDOW = 30  # samples per window: 2.5 hours at one sample every 5 minutes
TEST_FRACTION = 0.25  # the last quarter of the signal is the test set
ANOMALY_STARTS = (500, 2000)
ANOMALY_LENGTH = 1000
SCORED_SAMPLES = 3000  # the first test samples, into which the anomalies are inserted
ROLLING_WINDOW = 50
THRESHOLD = 0.3

SAMPLES_PER_DAY = 288  # one sample every 5 minutes
BATCH_PERIOD = 24  # a batch job every 2 hours

RAW_COLOR, RECONSTRUCTION_COLOR, ERROR_COLOR = "#1f77b4", "#ff7f0e", "#d62728"
ANOMALY_COLORS = ("#9467bd", "#2ca02c")
ANOMALY_NAMES = ("exponential ramp", "fast cosine")
_KIND_NAMES = ("normal",) + ANOMALY_NAMES  # indexed by _window_kinds


# ---------------------------------------------------------------------------------------------
# The data
# ---------------------------------------------------------------------------------------------


def make_cpu_signal(n_samples: int = 100_000, seed: int = 2018) -> np.ndarray:
    """CPU utilisation (%) of a server sampled every 5 minutes: a daily cycle, a batch job
    every two hours and measurement noise. The same seed always gives the same signal."""
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer of at least 2, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples)
    daily = 10.0 * np.sin(2 * np.pi * t / SAMPLES_PER_DAY)
    phase = (t % BATCH_PERIOD) / BATCH_PERIOD
    batch_jobs = 20.0 * np.exp(-(((phase - 0.5) / 0.1) ** 2))  # a spike of about half an hour
    return 40.0 + daily + batch_jobs + rng.normal(0.0, 1.5, n_samples)


def anomaly_shapes(length: int = ANOMALY_LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """The two anomalies, in normalised units: an exponential ramp and a fast cosine."""
    ramp = np.exp(np.linspace(0.0, 1.5, length)) - 2.0
    cosine = 2.0 * np.cos(np.linspace(0.0, 2 * np.pi * 5, length))
    return ramp, cosine


def insert_anomalies(
    test: np.ndarray, n_samples: int = SCORED_SAMPLES, starts: tuple[int, int] = ANOMALY_STARTS
) -> tuple[np.ndarray, np.ndarray]:
    """The first `n_samples` of the normalised test signal with the two anomalies written in.

    Returns the new signal (the input is not changed) and a boolean array that is True at
    the anomalous samples.
    """
    test = _as_series(test, "test")
    if n_samples > test.size:
        raise ValueError(
            f"test has {test.size} samples, fewer than the {n_samples} to score: pass the whole test part of the signal"
        )
    target, is_anomaly = test[:n_samples].copy(), np.zeros(n_samples, dtype=bool)
    for start, shape in zip(starts, anomaly_shapes()):
        if start < 0 or start + shape.size > n_samples:
            raise ValueError(f"an anomaly starting at {start} does not fit in {n_samples} samples")
        target[start : start + shape.size] = shape
        is_anomaly[start : start + shape.size] = True
    return target, is_anomaly


# ---------------------------------------------------------------------------------------------
# The autoencoder
# ---------------------------------------------------------------------------------------------


@dataclass
class Autoencoder:
    """A trained dense autoencoder: its weights (as scikit-learn names them) and its history.

    `coefs_[i]` is the weight matrix from layer i to layer i+1 (shape (inputs, outputs)) and
    `intercepts_[i]` that layer's biases. Hidden layers use the logistic sigmoid; the output
    layer is linear.
    """

    coefs_: list[np.ndarray]
    intercepts_: list[np.ndarray]
    train_loss: list[float]
    validation_loss: list[float]
    best_epoch: int
    training_seconds: float = 0.0
    from_cache: bool = False

    @property
    def layer_sizes(self) -> list[int]:
        return [self.coefs_[0].shape[0]] + [coef.shape[1] for coef in self.coefs_]

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """The reconstruction of each row of `windows`."""
        activation = _as_windows(windows, self.layer_sizes[0])
        last = len(self.coefs_) - 1
        for layer, (coef, intercept) in enumerate(zip(self.coefs_, self.intercepts_)):
            activation = activation @ coef + intercept
            if layer < last:
                activation = expit(activation)
        return activation


def train_autoencoder(
    windows: np.ndarray,
    hidden_layers: tuple[int, ...] = (20, 10, 5, 10, 20),
    max_epochs: int = 40,
    patience: int = 5,
    validation_fraction: float = 0.1,
    learning_rate: float = 0.01,
    batch_size: int = 200,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> Autoencoder:
    """Train a dense autoencoder to reproduce its input windows (mean squared error, Adam).

    The last `validation_fraction` of the windows (in time order) is held out; training stops
    when the validation loss has not improved for `patience` epochs, and the weights of the
    best epoch are kept. The result is cached (by the windows and the settings) in
    `cache_dir`, or under $COURSE_KIT_CACHE_DIR (the grader sets it), or in
    `.autoencoder_cache` next to the notebook, so that running the notebook again does not
    retrain. Entries are plain `.npz` arrays, read without pickles.
    """
    windows = _as_windows(windows)
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    n_validation = int(len(windows) * validation_fraction)
    if n_validation < 1 or len(windows) - n_validation < batch_size:
        raise ValueError(
            f"{len(windows)} windows are too few to train on: make more windows (a smaller step) or use a longer signal"
        )
    if np.all(windows.std(axis=0) == 0):
        raise ValueError("all training windows are the same: a constant signal cannot be learned")
    settings = dict(
        hidden_layers=list(hidden_layers),
        max_epochs=max_epochs,
        patience=patience,
        validation_fraction=validation_fraction,
        learning_rate=learning_rate,
        batch_size=batch_size,
        seed=seed,
    )
    cache = _cache_file(windows, settings, cache_dir)
    if cache.is_file():
        try:
            return _load_autoencoder(cache)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is simply trained again
    autoencoder = _fit(windows[:-n_validation], windows[-n_validation:], **settings)
    _save_autoencoder(autoencoder, cache)
    return autoencoder


def _fit(
    fit: np.ndarray,
    validation: np.ndarray,
    hidden_layers: list[int],
    max_epochs: int,
    patience: int,
    validation_fraction: float,
    learning_rate: float,
    batch_size: int,
    seed: int,
) -> Autoencoder:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor
    from threadpoolctl import threadpool_limits

    network = MLPRegressor(
        hidden_layer_sizes=tuple(hidden_layers),
        activation="logistic",
        solver="adam",
        alpha=0.0,
        batch_size=batch_size,
        learning_rate_init=learning_rate,
        shuffle=True,
        random_state=seed,
    )
    start = time.monotonic()
    train_loss, validation_loss = [], []
    best, best_epoch, since_best = None, 0, 0
    # One thread: the matrices are small, and one order of summation gives the same numbers
    # on every machine.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, max_epochs + 1):
            network.partial_fit(fit, fit)
            model = Autoencoder(network.coefs_, network.intercepts_, [], [], epoch)
            train_loss.append(float(np.mean((model.predict(fit) - fit) ** 2)))
            validation_loss.append(float(np.mean((model.predict(validation) - validation) ** 2)))
            if best is None or validation_loss[-1] < validation_loss[best_epoch - 1]:
                best = ([c.copy() for c in network.coefs_], [b.copy() for b in network.intercepts_])
                best_epoch, since_best = epoch, 0
            else:
                since_best += 1
                if since_best >= patience:
                    break
    return Autoencoder(
        best[0], best[1], train_loss, validation_loss, best_epoch, training_seconds=time.monotonic() - start
    )


def _cache_file(windows: np.ndarray, settings: dict, cache_dir: str | os.PathLike | None) -> Path:
    import sklearn

    shared = os.environ.get("COURSE_KIT_CACHE_DIR")
    folder = Path(cache_dir or (Path(shared) / "timeseries_autoencoder" if shared else ".autoencoder_cache"))
    # Rounded, so that answers computing the same windows in another order of floating-point
    # operations (off by 1e-13, say) share one entry; real mistakes differ far more.
    digest = hashlib.sha256(np.ascontiguousarray(np.round(windows, 6)).tobytes())
    digest.update(
        json.dumps(
            {**settings, "shape": windows.shape, "sklearn": sklearn.__version__, "numpy": np.__version__},
            sort_keys=True,
        ).encode()
    )
    return folder / f"autoencoder-{digest.hexdigest()[:24]}.npz"


def _save_autoencoder(autoencoder: Autoencoder, path: Path) -> None:
    arrays = {f"coef{i}": coef for i, coef in enumerate(autoencoder.coefs_)}
    arrays |= {f"intercept{i}": intercept for i, intercept in enumerate(autoencoder.intercepts_)}
    history = dict(
        train_loss=autoencoder.train_loss,
        validation_loss=autoencoder.validation_loss,
        best_epoch=autoencoder.best_epoch,
        training_seconds=autoencoder.training_seconds,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial.npz")
        np.savez(partial, history=np.array(json.dumps(history)), **arrays)
        os.replace(partial, path)
    except OSError:
        pass  # a read-only folder only means that the next run trains again


def _load_autoencoder(path: Path) -> Autoencoder:
    with np.load(path, allow_pickle=False) as saved:
        history = json.loads(str(saved["history"]))
        n_layers = sum(1 for name in saved.files if name.startswith("coef"))
        coefs = [saved[f"coef{i}"] for i in range(n_layers)]
        intercepts = [saved[f"intercept{i}"] for i in range(n_layers)]
    return Autoencoder(
        coefs,
        intercepts,
        history["train_loss"],
        history["validation_loss"],
        history["best_epoch"],
        history["training_seconds"],
        from_cache=True,
    )


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def _window_starts(n_samples: int, window: int, step: int) -> np.ndarray:
    """Where each window starts; the checks every windowing helper shares."""
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    if not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"step must be a positive integer, got {step!r}")
    if window > n_samples:
        raise ValueError(f"window of {window} samples is longer than the series ({n_samples} samples)")
    return np.arange(0, n_samples - window + 1, step)


def _sliding_windows(series: np.ndarray, window: int, step: int) -> np.ndarray:
    starts = _window_starts(series.size, window, step)
    return series[starts[:, None] + np.arange(window)]


def reconstruct(
    autoencoder: Autoencoder, series: np.ndarray, window: int = WINDOW, step: int | None = None
) -> np.ndarray:
    """The autoencoder's reconstruction of a whole series, sample by sample.

    The series is cut into windows of `window` samples every `step` samples (by default
    side by side, step = window); where windows overlap their reconstructions are averaged.
    Samples after the last whole window get the reconstruction of a window ending at the
    series' last sample.
    """
    series = _as_series(series, "series")
    step = window if step is None else step
    starts = _window_starts(series.size, window, step)
    if starts[-1] + window < series.size:
        starts = np.append(starts, series.size - window)
    windows = series[starts[:, None] + np.arange(window)]
    predicted = autoencoder.predict(windows)
    total, count = np.zeros(series.size), np.zeros(series.size)
    for start, values in zip(starts, predicted):
        total[start : start + window] += values
        count[start : start + window] += 1
    return total / count


def window_labels(is_anomaly: np.ndarray, window: int = WINDOW, step: int = WINDOW) -> np.ndarray:
    """For each window of the series, whether it holds at least one anomalous sample."""
    is_anomaly = _as_series(is_anomaly, "is_anomaly").astype(bool)
    return _sliding_windows(is_anomaly, window, step).any(axis=1)


def window_scores(values: np.ndarray, window: int = WINDOW, step: int = WINDOW) -> np.ndarray:
    """The mean of `values` (a reconstruction error, say) over each window."""
    return _sliding_windows(_as_series(values, "values"), window, step).mean(axis=1)


def detection_scores(flagged: np.ndarray, is_anomaly: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the flagged items against the known anomalies."""
    flagged = np.asarray(flagged, dtype=bool)
    is_anomaly = np.asarray(is_anomaly, dtype=bool)
    if flagged.shape != is_anomaly.shape:
        raise ValueError(
            f"flagged has shape {flagged.shape} but is_anomaly has {is_anomaly.shape}: "
            "score the same samples (or windows) that you labelled"
        )
    tp = int(np.sum(flagged & is_anomaly))
    fp = int(np.sum(flagged & ~is_anomaly))
    fn = int(np.sum(~flagged & is_anomaly))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
    }


def isolation_forest_flags(train_windows: np.ndarray, test_windows: np.ndarray, seed: int = 0) -> np.ndarray:
    """Fit an isolation forest to the training windows; which test windows it calls outliers."""
    from sklearn.ensemble import IsolationForest

    train_windows = _as_windows(train_windows)
    test_windows = _as_windows(test_windows, train_windows.shape[1])
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(train_windows)
    return forest.predict(test_windows) == -1


def bottleneck_projection(activations: np.ndarray, n_components: int = 3) -> np.ndarray:
    """The bottleneck activations projected onto their first principal components."""
    from sklearn.decomposition import PCA

    activations = _as_windows(activations)
    if activations.shape[1] < n_components:
        raise ValueError(
            f"activations have {activations.shape[1]} columns, fewer than the {n_components} components asked for"
        )
    return PCA(n_components=n_components, svd_solver="full").fit_transform(activations)


def separation(projection: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """How far windows lie from their nearest normal neighbour, as medians per group.

    Normal windows sit close together on a curve; a large ratio of the anomalous median to
    the normal one means that the anomalous windows stand apart.
    """
    projection, labels = _as_windows(projection), np.asarray(labels, dtype=bool)
    if labels.shape != projection.shape[:1] or labels.all() or not labels.any() or np.sum(~labels) < 2:
        raise ValueError("labels must mark some, but not all, of the projected windows as anomalous")
    normal = projection[~labels]
    distances = np.linalg.norm(projection[:, None, :] - normal[None, :, :], axis=2)
    distances[np.flatnonzero(~labels), np.arange(normal.shape[0])] = np.inf  # not to itself
    nearest = distances.min(axis=1)
    normal_median, anomalous_median = float(np.median(nearest[~labels])), float(np.median(nearest[labels]))
    return {"normal": normal_median, "anomalous": anomalous_median, "ratio": anomalous_median / normal_median}


def anomaly_coverage(flagged_windows: np.ndarray, window: int = WINDOW) -> dict[str, float]:
    """For each inserted anomaly, the fraction of its windows that a detector flagged."""
    flagged_windows = np.asarray(flagged_windows, dtype=bool)
    kinds = _window_kinds(flagged_windows.size, window)
    return {name: float(flagged_windows[kinds == kind].mean()) for kind, name in enumerate(ANOMALY_NAMES, start=1)}


def _window_kinds(n_windows: int, window: int) -> np.ndarray:
    """0 for a normal window, 1 or 2 for a window touching the first or second anomaly."""
    kinds = np.zeros(n_windows, dtype=int)
    for kind, start in enumerate(ANOMALY_STARTS, start=1):
        mask = np.zeros(n_windows * window, dtype=bool)
        mask[start : start + ANOMALY_LENGTH] = True
        kinds[window_labels(mask, window, window)] = kind
    return kinds


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def plot_signal(signal: np.ndarray, days: int = 7) -> None:
    """The whole signal, and its first days up close."""
    fig, (whole, close) = plt.subplots(2, 1, figsize=(12, 6))
    whole.plot(signal, color=RAW_COLOR, linewidth=0.3)
    whole.set(
        title=f"Synthetic CPU utilisation, {signal.size:,} samples (one every 5 minutes)",
        xlabel="sample",
        ylabel="CPU (%)",
    )
    first = signal[: days * SAMPLES_PER_DAY]
    close.plot(first, color=RAW_COLOR, linewidth=0.8)
    close.set(
        title=f"The first {days} days: a daily cycle and a batch job every 2 hours", xlabel="sample", ylabel="CPU (%)"
    )
    fig.tight_layout()


def plot_split(train: np.ndarray, test: np.ndarray) -> None:
    """The normalised training and test parts, in time order."""
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.plot(np.arange(train.size), train, color=RAW_COLOR, linewidth=0.3, label="train")
    ax.plot(
        np.arange(train.size, train.size + test.size), test, color=RECONSTRUCTION_COLOR, linewidth=0.3, label="test"
    )
    ax.set(title="Normalised signal, split in time order", xlabel="sample", ylabel="normalised CPU")
    ax.legend(loc="upper right")
    fig.tight_layout()


def plot_window(windows: np.ndarray, index: int) -> None:
    """One window, sample by sample."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(windows[index], "o-", color=RAW_COLOR, markersize=3)
    ax.set(title=f"Training window {index}", xlabel="sample in the window", ylabel="normalised CPU")
    fig.tight_layout()


def plot_loss_curves(autoencoder: Autoencoder) -> None:
    """Training and validation loss per epoch, with the epoch whose weights were kept."""
    epochs = np.arange(1, len(autoencoder.train_loss) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, autoencoder.train_loss, "o-", label="training windows")
    ax.plot(epochs, autoencoder.validation_loss, "s-", label="validation windows (the last 10%)")
    ax.axvline(autoencoder.best_epoch, color="k", linestyle="--", label=f"best epoch ({autoencoder.best_epoch})")
    ax.set(yscale="log", xlabel="epoch", ylabel="mean squared error", title="Learning curves")
    ax.legend()
    fig.tight_layout()


def plot_anomaly_shapes() -> None:
    """The two anomalies before they are inserted."""
    fig, ax = plt.subplots(figsize=(7, 3))
    for shape, name, color in zip(anomaly_shapes(), ANOMALY_NAMES, ANOMALY_COLORS):
        ax.plot(shape, color=color, label=name)
    ax.set(title="The two anomalies", xlabel="sample", ylabel="normalised CPU")
    ax.legend()
    fig.tight_layout()


def _shade_anomalies(ax: plt.Axes) -> None:
    for start, name, color in zip(ANOMALY_STARTS, ANOMALY_NAMES, ANOMALY_COLORS):
        ax.axvspan(start, start + ANOMALY_LENGTH, color=color, alpha=0.12, label=name)


def plot_reconstruction(
    target: np.ndarray,
    reconstruction: np.ndarray,
    error: np.ndarray,
    rolling_mean: np.ndarray,
    threshold: float = THRESHOLD,
) -> None:
    """The signal and its reconstruction above; the error, its rolling mean and the threshold below."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    _shade_anomalies(top)
    top.plot(target, color=RAW_COLOR, linewidth=0.8, label="signal with anomalies")
    top.plot(reconstruction, color=RECONSTRUCTION_COLOR, linewidth=1.2, label="reconstruction")
    top.set(title="The test signal and the autoencoder's reconstruction", ylabel="normalised CPU")
    top.legend(loc="upper left", fontsize="small")
    bottom.plot(error, color=ERROR_COLOR, linewidth=0.5, alpha=0.6, label="reconstruction error")
    bottom.plot(rolling_mean, color="k", linewidth=1.2, label="rolling mean")
    bottom.axhline(threshold, color="k", linestyle="--", label=f"threshold {threshold}")
    flagged = rolling_mean > threshold
    bottom.fill_between(
        np.arange(flagged.size),
        0,
        1,
        where=flagged,
        color=ERROR_COLOR,
        alpha=0.15,
        transform=bottom.get_xaxis_transform(),
        label="flagged",
    )
    bottom.set(xlabel="test sample", ylabel="absolute error")
    bottom.legend(loc="upper left", fontsize="small")
    fig.tight_layout()


def plot_bottleneck(
    projection: np.ndarray,
    labels: np.ndarray,
    target: np.ndarray,
    reconstruction: np.ndarray,
    window: int = WINDOW,
    selected: int | None = None,
    interactive: bool | None = None,
) -> plt.Figure:
    """The windows' bottleneck activations in 3 principal components, anomalous ones coloured.

    Beside the 3-D view, three 2-D views; below, the window picked (clicked) in a 2-D view
    with its reconstruction. Without an interactive backend (a static notebook, grading) no
    click can happen, so the window `selected` (by default the most remote anomalous one)
    is marked and shown instead.
    """
    interactive = _backend_is_interactive() if interactive is None else interactive
    kinds = np.where(np.asarray(labels, dtype=bool), _window_kinds(labels.size, window), 0)
    # About 850 px wide: it fits beside JupyterLab's file browser, also as an interactive canvas.
    fig = plt.figure(figsize=(8.5, 6.5))
    grid = fig.add_gridspec(3, 3)
    view3d = fig.add_subplot(grid[0:2, 0:2], projection="3d")
    pairs = [(0, 1), (0, 2), (1, 2)]
    views2d = [fig.add_subplot(grid[i, 2]) for i in range(3)]
    detail = fig.add_subplot(grid[2, 0:2])
    for kind, (name, color) in enumerate(zip(_KIND_NAMES, ("0.6",) + ANOMALY_COLORS)):
        points = projection[kinds == kind]
        view3d.scatter(points[:, 0], points[:, 1], points[:, 2], color=color, s=18, label=name)
        for ax, (a, b) in zip(views2d, pairs):
            ax.scatter(points[:, a], points[:, b], color=color, s=10, picker=interactive)
    view3d.set(title="Bottleneck activations, 3 principal components", xlabel="PC 1", ylabel="PC 2", zlabel="PC 3")
    view3d.legend(loc="upper left", fontsize="small")
    for ax, (a, b) in zip(views2d, pairs):
        ax.set(xlabel=f"PC {a + 1}", ylabel=f"PC {b + 1}", xticks=[], yticks=[])
    markers = [
        ax.plot([], [], "o", markersize=12, markerfacecolor="none", markeredgecolor="r", markeredgewidth=2)[0]
        for ax in views2d
    ]

    def show(index: int) -> None:
        start = index * window
        lo, hi = max(0, start - 2 * window), min(target.size, start + 3 * window)
        detail.clear()
        detail.plot(np.arange(lo, hi), target[lo:hi], color=RAW_COLOR, label="signal")
        detail.plot(np.arange(lo, hi), reconstruction[lo:hi], color=RECONSTRUCTION_COLOR, label="reconstruction")
        detail.axvspan(start, start + window, color="r", alpha=0.15, label=f"window {index}")
        detail.set(xlabel="test sample", title=f"Window {index} ({_KIND_NAMES[kinds[index]]})")
        detail.legend(loc="upper left", fontsize="small")
        for marker, (a, b) in zip(markers, pairs):
            marker.set_data([projection[index, a]], [projection[index, b]])
        fig.canvas.draw_idle()

    if selected is None:
        centre = projection[kinds == 0].mean(axis=0)
        distance = np.linalg.norm(projection - centre, axis=1)
        selected = int(np.argmax(np.where(kinds > 0, distance, -np.inf)))
    show(selected)
    if interactive:

        def on_pick(event) -> None:
            ax = event.artist.axes
            a, b = pairs[views2d.index(ax)]
            x, y = event.mouseevent.xdata, event.mouseevent.ydata
            show(int(np.argmin((projection[:, a] - x) ** 2 + (projection[:, b] - y) ** 2)))

        fig.canvas.mpl_connect("pick_event", on_pick)
        fig.suptitle("Click a point in a 2-D view to see its window")
    else:
        fig.suptitle(f"Static view: window {selected} is marked (an interactive backend lets you click points)")
    fig.tight_layout()
    return fig


def _backend_is_interactive() -> bool:
    backend = plt.get_backend().lower()
    return not any(name in backend for name in ("agg", "inline", "pdf", "svg", "ps", "cairo", "template"))


def plot_detector_comparison(
    target: np.ndarray, autoencoder_flags: np.ndarray, forest_flags: np.ndarray, window: int = WINDOW
) -> None:
    """The test signal twice: the windows each detector flagged, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 4), sharey=True)
    for ax, flags, name in zip(axes, (autoencoder_flags, forest_flags), ("Autoencoder", "Isolation forest")):
        _shade_anomalies(ax)
        ax.plot(target, color=RAW_COLOR, linewidth=0.6)
        for index in np.flatnonzero(flags):
            ax.axvspan(index * window, (index + 1) * window, ymin=0.92, ymax=1.0, color=ERROR_COLOR)
        ax.set(title=f"{name}: {int(np.sum(flags))} windows flagged (red bars)", xlabel="test sample")
    axes[0].set_ylabel("normalised CPU")
    axes[0].legend(loc="lower left", fontsize="small")
    fig.tight_layout()


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _as_series(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of samples, got shape {array.shape}")
    if array.dtype != bool and not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} contains NaN or infinite values: check the normalisation (a zero standard deviation?)"
        )
    return array


def _as_windows(windows: np.ndarray, width: int | None = None) -> np.ndarray:
    array = np.asarray(windows, dtype=float)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"windows must be a 2-D array, one window per row, got shape {array.shape}")
    if width is not None and array.shape[1] != width:
        raise ValueError(f"windows have {array.shape[1]} samples each, the network expects {width}")
    if not np.all(np.isfinite(array)):
        raise ValueError("windows contain NaN or infinite values: check the normalisation (a zero standard deviation?)")
    return array

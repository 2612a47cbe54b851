"""A running sum for the rolling mean, list comprehensions and np.stack for the windows."""
# fails: none
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    split = int(len(series) * (1 - test_fraction))
    train = series[:split]
    mean = train.sum() / train.size
    std = np.sqrt(((train - mean) ** 2).mean())
    if std == 0:
        raise ValueError("std is zero")
    normalise = lambda part: (part - mean) / std
    return normalise(series[:split]), normalise(series[split:])

# %% make_windows
# GRADED FUNCTION: make_windows
import numpy as np

def make_windows(series, window, step):
    starts = range(0, len(series) - window + 1, step)
    return np.stack([series[start:start + window] for start in starts])

# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = np.abs(target - reconstruction)
    rolling_mean = np.empty_like(error)
    running = 0.0
    for t, value in enumerate(error):
        running += value
        if t >= window:
            running -= error[t - window]
        rolling_mean[t] = running / min(t + 1, window)
    return error, rolling_mean, rolling_mean > threshold

# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np
from math import exp

def bottleneck_activations(windows, coefs, intercepts):
    a = windows
    depth = len(coefs) // 2
    for W, b in zip(coefs[:depth], intercepts[:depth]):
        z = a.dot(W) + b
        a = np.exp(-np.logaddexp(0, -z))
    return a

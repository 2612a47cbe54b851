"""Vectorised numpy throughout: slicing, index matrices, cumulative sums, matrix products."""
# fails: none
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    split = int(len(series) * (1 - test_fraction))
    train, test = series[:split], series[split:]
    mean, std = np.mean(train), np.std(train)
    if std == 0:
        raise ValueError("the training part is constant (standard deviation 0)")
    return (train - mean) / std, (test - mean) / std

# %% make_windows
# GRADED FUNCTION: make_windows
import numpy as np

def make_windows(series, window, step):
    n_windows = (len(series) - window) // step + 1
    starts = np.arange(n_windows) * step
    return series[starts[:, None] + np.arange(window)]

# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = np.abs(target - reconstruction)
    totals = np.cumsum(np.concatenate(([0.0], error)))
    ends = np.arange(1, len(error) + 1)
    starts = np.maximum(0, ends - window)
    rolling_mean = (totals[ends] - totals[starts]) / (ends - starts)
    return error, rolling_mean, rolling_mean > threshold

# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def bottleneck_activations(windows, coefs, intercepts):
    activations = windows
    for layer in range(len(coefs) // 2):
        activations = 1 / (1 + np.exp(-(activations @ coefs[layer] + intercepts[layer])))
    return activations

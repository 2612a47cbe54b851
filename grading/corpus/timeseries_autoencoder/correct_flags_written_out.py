"""Correct: flags from np.where(..., True, False), windows from a list of slices, the encoder from zip."""
# fails: none
# %% make_windows
# GRADED FUNCTION: make_windows
import numpy as np

def make_windows(series, window, step):
    rows = []
    start = 0
    while start + window <= len(series):
        rows.append(series[start:start + window])
        start += step
    return np.array(rows)

# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = np.abs(np.asarray(target) - np.asarray(reconstruction))
    rolling_mean = np.array([np.mean(error[max(0, t - window + 1):t + 1]) for t in range(len(error))])
    flagged = np.where(rolling_mean > threshold, True, False)
    return error, rolling_mean, flagged

# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def bottleneck_activations(windows, coefs, intercepts):
    encoder = len(coefs) // 2
    activations = windows
    for weights, bias in zip(coefs[:encoder], intercepts[:encoder]):
        activations = 1.0 / (1.0 + np.exp(-(np.dot(activations, weights) + bias)))
    return activations

"""numpy's helpers: sliding_window_view, convolve, a tanh form of the sigmoid."""
# fails: none
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    n_test = len(series) - int(len(series) * (1 - test_fraction))
    train, test = np.split(np.asarray(series, dtype=float), [len(series) - n_test])
    std = train.std()
    if not std > 0:
        raise ValueError("zero standard deviation")
    return (train - train.mean()) / std, (test - train.mean()) / std

# %% make_windows
# GRADED FUNCTION: make_windows
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

def make_windows(series, window, step):
    return sliding_window_view(series, window)[::step].copy()

# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = np.abs(np.subtract(target, reconstruction))
    sums = np.convolve(error, np.ones(window))[: len(error)]
    counts = np.minimum(np.arange(1, len(error) + 1), window)
    rolling_mean = sums / counts
    flagged = np.greater(rolling_mean, threshold)
    return error, rolling_mean, flagged

# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))

def bottleneck_activations(windows, coefs, intercepts):
    encoder = list(zip(coefs, intercepts))[: len(coefs) // 2]
    a = np.asarray(windows)
    for weights, biases in encoder:
        a = sigmoid(np.matmul(a, weights) + biases)
    return a

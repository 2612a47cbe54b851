"""Plain Python loops, one sample or one window at a time."""
# fails: none
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    split = int(len(series) * (1 - test_fraction))
    total = 0.0
    for value in series[:split]:
        total += value
    mean = total / split
    squares = 0.0
    for value in series[:split]:
        squares += (value - mean) ** 2
    std = (squares / split) ** 0.5
    if std == 0:
        raise ValueError("cannot normalise a constant training part")
    train = np.array([(value - mean) / std for value in series[:split]])
    test = np.array([(value - mean) / std for value in series[split:]])
    return train, test

# %% make_windows
# GRADED FUNCTION: make_windows
import numpy as np

def make_windows(series, window, step):
    n_windows = (len(series) - window) // step + 1
    windows = np.zeros((n_windows, window))
    for i in range(n_windows):
        for j in range(window):
            windows[i, j] = series[i * step + j]
    return windows

# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    n = len(target)
    error = np.zeros(n)
    for t in range(n):
        error[t] = abs(target[t] - reconstruction[t])
    rolling_mean = np.zeros(n)
    flagged = np.zeros(n, dtype=bool)
    for t in range(n):
        first = max(0, t - window + 1)
        rolling_mean[t] = np.mean(error[first:t + 1])
        flagged[t] = rolling_mean[t] > threshold
    return error, rolling_mean, flagged

# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def bottleneck_activations(windows, coefs, intercepts):
    n_encoder = len(coefs) // 2
    result = []
    for window in windows:
        a = window
        for layer in range(n_encoder):
            z = np.dot(a, coefs[layer]) + intercepts[layer]
            a = np.array([1.0 / (1.0 + np.exp(-value)) for value in z])
        result.append(a)
    return np.array(result)

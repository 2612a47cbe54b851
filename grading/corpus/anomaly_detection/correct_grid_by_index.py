"""Correct: the grid written as min + k * step for k in range(1000), Python floats returned, np.einsum for sums."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    m = X.shape[0]
    mu = np.einsum("ij->j", X) / m
    centred = X - mu
    var = np.einsum("ij,ij->j", centred, centred) / m
    return mu, var
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    best_epsilon = 0.0
    best_F1 = 0.0

    lowest = float(np.min(p_val))
    step_size = (float(np.max(p_val)) - lowest) / 1000
    anomalous = np.asarray(y_val) == 1
    for k in range(1000):
        epsilon = lowest + k * step_size
        flagged = np.asarray(p_val) < epsilon
        tp = int(np.sum(flagged & anomalous))
        fp = int(np.sum(flagged & ~anomalous))
        fn = int(np.sum(~flagged & anomalous))
        F1 = 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
        if F1 > best_F1:
            best_F1 = F1
            best_epsilon = epsilon

    return float(best_epsilon), float(best_F1)

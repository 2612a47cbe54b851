"""Correct: sums over rows divided by m by hand; counts with np.logical_and and np.count_nonzero."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    m = X.shape[0]
    mu = X.sum(0) / m
    var = ((X - mu) ** 2).sum(0) / m
    return mu, var
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    best_epsilon = 0
    best_F1 = 0

    anomalous = y_val == 1
    normal = np.logical_not(anomalous)
    step_size = (np.max(p_val) - np.min(p_val)) / 1000
    for epsilon in np.arange(np.min(p_val), np.max(p_val), step_size):
        flagged = p_val < epsilon
        tp = np.count_nonzero(np.logical_and(flagged, anomalous))
        fp = np.count_nonzero(np.logical_and(flagged, normal))
        fn = np.count_nonzero(np.logical_and(np.logical_not(flagged), anomalous))
        if tp == 0:
            F1 = 0
        else:
            precision = tp / (tp + fp)
            recall = tp / (tp + fn)
            F1 = 2 * precision * recall / (precision + recall)
        if F1 > best_F1:
            best_F1 = F1
            best_epsilon = epsilon

    return best_epsilon, best_F1

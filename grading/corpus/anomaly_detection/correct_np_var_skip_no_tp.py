"""Correct: np.var(X, axis=0) for the variance; epsilons without a true positive are skipped."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    mu = X.mean(axis=0)
    var = np.var(X, axis=0)
    return mu, var
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    best_epsilon = 0
    best_F1 = 0

    lowest, highest = np.min(p_val), np.max(p_val)
    step_size = (highest - lowest) / 1000
    for epsilon in np.arange(lowest, highest, step_size):
        predictions = (p_val < epsilon).astype(int)
        tp = np.sum((predictions == 1) & (y_val == 1))
        if tp == 0:
            continue
        fp = np.sum((predictions == 1) & (y_val == 0))
        fn = np.sum((predictions == 0) & (y_val == 1))
        prec = tp / (tp + fp)
        rec = tp / (tp + fn)
        F1 = 2 * prec * rec / (prec + rec)
        if F1 > best_F1:
            best_F1 = F1
            best_epsilon = epsilon

    return best_epsilon, best_F1

"""Correct: np.mean and np.var of each column in a list comprehension; F1 as 2tp / (2tp + fp + fn)."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    mu = np.array([np.mean(column) for column in X.T])
    var = np.array([np.var(column) for column in X.T])
    return mu, var
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    best_epsilon = 0
    best_F1 = 0

    step_size = (max(p_val) - min(p_val)) / 1000
    for epsilon in np.arange(min(p_val), max(p_val), step_size):
        predictions = p_val < epsilon
        tp = np.sum(predictions & (y_val == 1))
        fp = np.sum(predictions & (y_val != 1))
        fn = np.sum(~predictions & (y_val == 1))
        F1 = 2 * tp / (2 * tp + fp + fn)
        if F1 > best_F1:
            best_F1 = F1
            best_epsilon = epsilon

    return best_epsilon, best_F1

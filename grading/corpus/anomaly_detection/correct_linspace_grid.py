"""Correct: the 1000 epsilons as np.linspace(min, max, 1001)[:-1], mu and var from np.average and np.mean(dtype=float)."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    mu = np.average(X, axis=0)
    var = np.mean(np.square(X - mu), axis=0, dtype=float)
    return mu, var
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    epsilons = np.linspace(np.min(p_val), np.max(p_val), 1001)[:-1]  # max(p_val) itself is not scanned
    best_epsilon, best_F1 = 0, 0
    for epsilon in epsilons:
        predictions = p_val < epsilon
        tp = np.sum(predictions[y_val == 1])
        fp = np.sum(predictions[y_val == 0])
        fn = np.sum(~predictions[y_val == 1])
        prec = tp / (tp + fp) if tp + fp else 0
        rec = tp / (tp + fn) if tp + fn else 0
        F1 = 2 * prec * rec / (prec + rec) if prec + rec else 0
        if F1 > best_F1:
            best_epsilon, best_F1 = epsilon, F1
    return best_epsilon, best_F1

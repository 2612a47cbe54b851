"""Correct: counts as Python ints, and a ZeroDivisionError handler for epsilons without positives."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    m = len(X)
    mu = np.add.reduce(X, axis=0) / m
    deviations = X - mu
    var = np.add.reduce(deviations * deviations, axis=0) / m
    return mu, var
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    best_epsilon = 0
    best_F1 = 0

    actual = y_val == 1
    step_size = (max(p_val) - min(p_val)) / 1000
    for epsilon in np.arange(min(p_val), max(p_val), step_size):
        predicted = p_val < epsilon
        tp = int(np.sum(predicted & actual))
        fp = int(np.sum(predicted & ~actual))
        fn = int(np.sum(~predicted & actual))
        try:
            prec = tp / (tp + fp)
            rec = tp / (tp + fn)
            F1 = 2 * prec * rec / (prec + rec)
        except ZeroDivisionError:
            F1 = 0
        if F1 > best_F1:
            best_F1 = F1
            best_epsilon = epsilon

    return best_epsilon, best_F1

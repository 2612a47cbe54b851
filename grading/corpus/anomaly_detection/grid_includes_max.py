"""Scans 1001 epsilons with np.linspace(min, max, 1001): one past the lab's grid, up to max(p_val)."""
# fails: test_select_threshold
# public tests pass: test_select_threshold: the end of the epsilon grid: the public cases' best epsilons lie far from it
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    best_epsilon = 0
    best_F1 = 0

    for epsilon in np.linspace(min(p_val), max(p_val), 1001):
        predictions = p_val < epsilon
        tp = np.sum(predictions & (y_val == 1))
        fp = np.sum(predictions & (y_val == 0))
        fn = np.sum(~predictions & (y_val == 1))

        prec = tp / (tp + fp) if tp + fp > 0 else 0
        rec = tp / (tp + fn) if tp + fn > 0 else 0
        F1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0

        if F1 > best_F1:
            best_F1 = F1
            best_epsilon = epsilon

    return best_epsilon, best_F1

"""Right values in the wrong order in both answers: (var, mu) and (F1, epsilon)."""
# fails: test_estimate_gaussian, test_select_threshold
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    mu = np.mean(X, axis=0)
    var = np.mean((X - mu) ** 2, axis=0)
    return var, mu
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    best_epsilon = 0
    best_F1 = 0

    step_size = (max(p_val) - min(p_val)) / 1000
    for epsilon in np.arange(min(p_val), max(p_val), step_size):
        predictions = p_val < epsilon
        tp = np.sum(predictions & (y_val == 1))
        fp = np.sum(predictions & (y_val == 0))
        fn = np.sum(~predictions & (y_val == 1))
        if tp == 0:
            continue
        prec = tp / (tp + fp)
        rec = tp / (tp + fn)
        F1 = 2 * prec * rec / (prec + rec)
        if F1 > best_F1:
            best_F1 = F1
            best_epsilon = epsilon

    return best_F1, best_epsilon

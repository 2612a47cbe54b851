"""Correct: the mean via a matrix product, and every epsilon at once in a 2-D prediction matrix."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    m = X.shape[0]
    ones = np.ones(m)
    mu = (ones @ X) / m
    var = (ones @ ((X - mu) ** 2)) / m
    return mu, var
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    step_size = (max(p_val) - min(p_val)) / 1000
    epsilons = np.arange(min(p_val), max(p_val), step_size)

    # One row per epsilon, one column per example.
    predictions = p_val[np.newaxis, :] < epsilons[:, np.newaxis]
    actual = y_val == 1
    tp = np.sum(predictions & actual, axis=1)
    fp = np.sum(predictions & ~actual, axis=1)
    fn = np.sum(~predictions & actual, axis=1)

    has_tp = tp > 0
    prec = np.divide(tp, tp + fp, out=np.zeros(len(epsilons)), where=has_tp)
    rec = np.divide(tp, tp + fn, out=np.zeros(len(epsilons)), where=has_tp)
    F1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(len(epsilons)), where=has_tp)

    best = np.argmax(F1)  # the first of equal maxima, like updating only on a strictly better F1
    if F1[best] > 0:
        return epsilons[best], F1[best]
    return 0, 0

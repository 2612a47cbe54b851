"""Divides the squared deviations by m - 1 (sample variance) instead of m."""
# fails: test_estimate_gaussian
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    m, n = X.shape
    mu = np.mean(X, axis=0)
    var = np.sum((X - mu) ** 2, axis=0) / (m - 1)
    return mu, var

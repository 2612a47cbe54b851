"""Averages over the features of each example (axis=1) instead of over the examples."""
# fails: test_estimate_gaussian
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    mu = np.mean(X, axis=1)
    var = np.var(X, axis=1)
    return mu, var

"""Computes in float32 and converts the results back to float64: the dtype is right, the digits are not."""
# fails: test_estimate_gaussian
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    X = np.asarray(X, dtype=np.float32)
    m = X.shape[0]
    mu = X.sum(axis=0) / m
    var = ((X - mu) ** 2).sum(axis=0) / m
    return mu.astype(np.float64), var.astype(np.float64)

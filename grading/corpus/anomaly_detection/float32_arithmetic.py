"""Computes mu and var in float32 (half the memory), about 7 significant digits instead of the lab's float64."""
# fails: test_estimate_gaussian
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    X = X.astype(np.float32)
    mu = X.mean(axis=0)
    var = ((X - mu) ** 2).mean(axis=0)
    return mu, var

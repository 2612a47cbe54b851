"""Returns [mu, var] as a list where the specification's `return mu, var` gives a tuple."""
# fails: test_estimate_gaussian
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    mu = np.mean(X, axis=0)
    var = np.var(X, axis=0)
    return [mu, var]

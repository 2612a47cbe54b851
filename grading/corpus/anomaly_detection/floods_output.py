"""A correct submission that prints megabytes of debugging output on every call."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    for _ in range(200):
        print("debug " * 10_000)
    return X.mean(axis=0), X.var(axis=0)

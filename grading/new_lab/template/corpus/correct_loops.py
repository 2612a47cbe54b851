"""Loops over the columns and computes each mean and spread by hand."""

# fails: none
# %% standardize
# GRADED FUNCTION: standardize
import numpy as np


def standardize(X):
    result = np.empty_like(X, dtype=float)
    for j in range(X.shape[1]):
        column = X[:, j]
        mean = sum(column) / len(column)
        spread = (sum((value - mean) ** 2 for value in column) / len(column)) ** 0.5
        result[:, j] = (column - mean) / spread
    return result

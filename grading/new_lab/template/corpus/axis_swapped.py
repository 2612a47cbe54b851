"""Standardizes each row instead of each column (axis=1)."""

# fails: test_standardize
# %% standardize
# GRADED FUNCTION: standardize


def standardize(X):
    return (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)

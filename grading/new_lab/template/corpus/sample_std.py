"""Divides by the sample standard deviation (ddof=1) instead of the population one."""

# fails: test_standardize
# %% standardize
# GRADED FUNCTION: standardize


def standardize(X):
    return (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)

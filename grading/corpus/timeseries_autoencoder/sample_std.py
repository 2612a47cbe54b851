"""Divides by the sample standard deviation (ddof=1)."""
# fails: test_split_and_normalise
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    split = int(len(series) * (1 - test_fraction))
    train, test = series[:split], series[split:]
    mean, std = np.mean(train), np.std(train, ddof=1)
    if std == 0:
        raise ValueError("constant training part")
    return (train - mean) / std, (test - mean) / std

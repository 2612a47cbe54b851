"""Rounds the test part down instead of the training part: n - int(n * test_fraction) training samples."""
# fails: test_split_and_normalise
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    n_test = int(len(series) * test_fraction)
    train, test = series[:len(series) - n_test], series[len(series) - n_test:]
    mean, std = np.mean(train), np.std(train)
    if std == 0:
        raise ValueError("the training part is constant")
    return (train - mean) / std, (test - mean) / std

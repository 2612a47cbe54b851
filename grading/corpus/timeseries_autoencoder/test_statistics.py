"""Normalises the test part with its own mean and standard deviation."""
# fails: test_split_and_normalise
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    split = int(len(series) * (1 - test_fraction))
    train, test = series[:split], series[split:]
    if np.std(train) == 0:
        raise ValueError("constant training part")
    return (train - train.mean()) / train.std(), (test - test.mean()) / test.std()

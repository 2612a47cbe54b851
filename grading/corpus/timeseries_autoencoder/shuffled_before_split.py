"""Shuffles the samples before splitting them."""
# fails: test_split_and_normalise
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    shuffled = np.random.default_rng(0).permutation(series)
    split = int(len(shuffled) * (1 - test_fraction))
    train, test = shuffled[:split], shuffled[split:]
    mean, std = np.mean(train), np.std(train)
    if std == 0:
        raise ValueError("constant training part")
    return (train - mean) / std, (test - mean) / std

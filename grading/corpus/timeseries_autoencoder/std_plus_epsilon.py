"""Adds 0.0001 to the standard deviation instead of stopping on a constant series."""
# fails: test_split_and_normalise
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    split = int(len(series) * (1 - test_fraction))
    train, test = series[:split], series[split:]
    mean, std = np.mean(train), np.std(train)
    return (train - mean) / (std + 0.0001), (test - mean) / (std + 0.0001)

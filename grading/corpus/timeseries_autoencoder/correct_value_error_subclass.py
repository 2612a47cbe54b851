"""Correct: raises its own subclass of ValueError for a constant series; math.floor for the split."""
# fails: none
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import math

import numpy as np


class ConstantSeriesError(ValueError):
    """The training part has a standard deviation of 0: it cannot be normalised."""


def split_and_normalise(series, test_fraction):
    split = math.floor(len(series) * (1 - test_fraction))
    train, test = series[:split], series[split:]
    mean, std = train.mean(), train.std()
    if std == 0:
        raise ConstantSeriesError(f"the first {split} samples are all {mean}")
    return (train - mean) / std, (test - mean) / std

"""Takes the mean and standard deviation of the whole series, test part included."""
# fails: test_split_and_normalise
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    mean, std = np.mean(series), np.std(series)
    if std == 0:
        raise ValueError("constant series")
    normalised = (series - mean) / std
    split = int(len(series) * (1 - test_fraction))
    return normalised[:split], normalised[split:]

"""Test statistics in Exercise 1 and >= in Exercise 3: loses exactly those two exercises."""
# fails: test_split_and_normalise, test_score_reconstruction
# %% split_and_normalise
# GRADED FUNCTION: split_and_normalise
import numpy as np

def split_and_normalise(series, test_fraction):
    split = int(len(series) * (1 - test_fraction))
    train, test = series[:split], series[split:]
    if np.std(train) == 0:
        raise ValueError("constant training part")
    return (train - train.mean()) / train.std(), (test - test.mean()) / test.std()

# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = np.abs(target - reconstruction)
    rolling_mean = np.array([error[max(0, t - window + 1):t + 1].mean() for t in range(len(error))])
    return error, rolling_mean, rolling_mean >= threshold

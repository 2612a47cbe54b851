"""Leaves the first window - 1 rolling means undefined (NaN), as a pandas rolling mean does."""
# fails: test_score_reconstruction
# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = np.abs(target - reconstruction)
    rolling_mean = np.full(len(error), np.nan)
    for t in range(window - 1, len(error)):
        rolling_mean[t] = error[t - window + 1:t + 1].mean()
    return error, rolling_mean, rolling_mean > threshold

"""Centres the rolling window on each sample instead of looking back."""
# fails: test_score_reconstruction
# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = np.abs(target - reconstruction)
    half = window // 2
    rolling_mean = np.array([error[max(0, t - half):t - half + window].mean() for t in range(len(error))])
    return error, rolling_mean, rolling_mean > threshold

"""Returns the flags as 0/1 integers (astype(int)) instead of a boolean array."""
# fails: test_score_reconstruction
# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = np.abs(target - reconstruction)
    totals = np.cumsum(np.concatenate(([0.0], error)))
    ends = np.arange(1, len(error) + 1)
    starts = np.maximum(0, ends - window)
    rolling_mean = (totals[ends] - totals[starts]) / (ends - starts)
    flagged = (rolling_mean > threshold).astype(int)
    return error, rolling_mean, flagged

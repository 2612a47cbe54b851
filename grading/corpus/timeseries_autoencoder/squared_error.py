"""Uses the squared error instead of the absolute error."""
# fails: test_score_reconstruction
# %% score_reconstruction
# GRADED FUNCTION: score_reconstruction
import numpy as np

def score_reconstruction(target, reconstruction, window, threshold):
    error = (target - reconstruction) ** 2
    rolling_mean = np.array([error[max(0, t - window + 1):t + 1].mean() for t in range(len(error))])
    return error, rolling_mean, rolling_mean > threshold

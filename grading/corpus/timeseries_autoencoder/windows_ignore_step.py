"""Always advances by one sample, whatever the step."""
# fails: test_make_windows
# %% make_windows
# GRADED FUNCTION: make_windows
import numpy as np

def make_windows(series, window, step):
    return np.array([series[i:i + window] for i in range(len(series) - window + 1)])

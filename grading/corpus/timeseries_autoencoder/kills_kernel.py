"""Exercise 2's cell ends the Python process it runs in: the other three exercises keep their points."""
# fails: test_make_windows
# %% make_windows
# GRADED FUNCTION: make_windows
import os
import numpy as np

os._exit(1)

def make_windows(series, window, step):
    n_windows = (len(series) - window) // step + 1
    return np.array([series[i * step:i * step + window] for i in range(n_windows)])

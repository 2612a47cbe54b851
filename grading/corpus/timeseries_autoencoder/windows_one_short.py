"""Counts floor((n - window) / step) windows: the last window is missing."""
# fails: test_make_windows
# %% make_windows
# GRADED FUNCTION: make_windows
import numpy as np

def make_windows(series, window, step):
    n_windows = int(np.floor((len(series) - window) / step))
    windows = np.zeros((n_windows, window))
    for i in range(n_windows):
        windows[i] = series[i * step:i * step + window]
    return windows

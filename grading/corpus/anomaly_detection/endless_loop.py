"""A submission whose second answer cell never finishes and cannot be interrupted."""
# fails: test_select_threshold
# %% select_threshold
import signal

import numpy as np


def select_threshold(y_val, p_val):
    return 0, 0


# Deaf to interrupts, as a long-running compiled routine would be.
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass

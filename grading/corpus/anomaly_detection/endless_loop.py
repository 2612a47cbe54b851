"""A submission whose second answer loops forever and ignores interrupts."""
# fails: test_select_threshold
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    while True:
        try:
            pass
        except KeyboardInterrupt:
            pass


while True:
    try:
        pass
    except KeyboardInterrupt:
        pass

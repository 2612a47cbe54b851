"""A submission whose first answer ends the Python process (a copied `os._exit`)."""
# fails: test_estimate_gaussian
# %% estimate_gaussian
import os

import numpy as np


def estimate_gaussian(X):
    return X.mean(axis=0), X.var(axis=0)


os._exit(1)

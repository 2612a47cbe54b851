"""Stops one layer before the bottleneck."""
# fails: test_bottleneck_activations
# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def bottleneck_activations(windows, coefs, intercepts):
    activations = windows
    for layer in range(len(coefs) // 2 - 1):
        activations = 1 / (1 + np.exp(-(activations @ coefs[layer] + intercepts[layer])))
    return activations

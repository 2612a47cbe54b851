"""Leaves out the intercepts (biases) of the encoder layers."""
# fails: test_bottleneck_activations
# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def bottleneck_activations(windows, coefs, intercepts):
    activations = windows
    for layer in range(len(coefs) // 2):
        activations = 1 / (1 + np.exp(-(activations @ coefs[layer])))
    return activations

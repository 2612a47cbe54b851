"""Hard-codes the three encoder layers of the lab's network instead of the first half of any network."""
# fails: test_bottleneck_activations
# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def bottleneck_activations(windows, coefs, intercepts):
    activations = windows
    for layer in range(3):
        activations = 1 / (1 + np.exp(-(activations @ coefs[layer] + intercepts[layer])))
    return activations

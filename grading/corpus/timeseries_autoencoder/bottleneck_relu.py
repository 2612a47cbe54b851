"""Uses ReLU instead of the sigmoid in the encoder."""
# fails: test_bottleneck_activations
# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def bottleneck_activations(windows, coefs, intercepts):
    activations = windows
    for layer in range(len(coefs) // 2):
        activations = np.maximum(0, activations @ coefs[layer] + intercepts[layer])
    return activations

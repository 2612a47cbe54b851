"""Runs the encoder up to the narrowest layer instead of the first len(coefs) // 2 layers."""
# fails: test_bottleneck_activations
# public tests pass: test_bottleneck_activations: a network of an odd number of layers, whose narrowest layer is not the encoder's last (the exercise says the tests use networks of other sizes)
# %% bottleneck_activations
# GRADED FUNCTION: bottleneck_activations
import numpy as np

def bottleneck_activations(windows, coefs, intercepts):
    widths = [coef.shape[1] for coef in coefs]
    depth = int(np.argmin(widths)) + 1
    activations = windows
    for layer in range(depth):
        activations = 1 / (1 + np.exp(-(activations @ coefs[layer] + intercepts[layer])))
    return activations

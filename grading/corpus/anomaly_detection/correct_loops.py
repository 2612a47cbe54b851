"""Correct: plain Python loops over features and examples, and a loop counting tp, fp and fn."""
# fails: none
# %% estimate_gaussian
import numpy as np


def estimate_gaussian(X):
    m, n = X.shape
    mu = np.zeros(n)
    var = np.zeros(n)
    for j in range(n):
        total = 0.0
        for i in range(m):
            total += X[i, j]
        mu[j] = total / m
        squares = 0.0
        for i in range(m):
            squares += (X[i, j] - mu[j]) ** 2
        var[j] = squares / m
    return mu, var
# %% select_threshold
import numpy as np


def select_threshold(y_val, p_val):
    best_epsilon = 0
    best_F1 = 0

    step_size = (max(p_val) - min(p_val)) / 1000
    for epsilon in np.arange(min(p_val), max(p_val), step_size):
        tp = fp = fn = 0
        for i in range(len(p_val)):
            is_anomaly = y_val[i] == 1
            if p_val[i] < epsilon:
                if is_anomaly:
                    tp += 1
                else:
                    fp += 1
            elif is_anomaly:
                fn += 1

        F1 = 0
        if tp > 0:
            prec = tp / (tp + fp)
            rec = tp / (tp + fn)
            F1 = 2 * prec * rec / (prec + rec)

        if F1 > best_F1:
            best_F1 = F1
            best_epsilon = epsilon

    return best_epsilon, best_F1

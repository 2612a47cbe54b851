"""The reference answer, vectorised over the columns (the base of every other entry: a section an entry leaves out is taken from here)."""

# fails: none
# %% standardize
# GRADED FUNCTION: standardize


def standardize(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)

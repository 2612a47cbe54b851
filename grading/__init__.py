"""The course kit's grading code: nbgrader preprocessors, hidden tests and class-level tooling.

This package is imported inside autograding kernels (by the hidden tests), so importing it
must stay cheap and must not pull in nbgrader.
"""

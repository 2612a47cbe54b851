"""Hidden tests, one module per lab, named after the assignment id.

Each module defines `EXERCISES`, a mapping from grade-cell id to `grading.verdicts.checks.Exercise`,
and one `check_<function>(fn)` per exercise for the hidden part of the grade cells.
These modules never ship to students: they live outside the lab folders.
"""

"""Mutation testing of the hidden tests: `python -m grading mutants LAB`.

The hidden tests are as good as the mistakes someone thought of. This package measures them
against mistakes nobody chose: each exercise's reference answer (the master's answer cell) is
changed in one small way at a time (`operators`), each such mutant is judged by the hidden tests
as a student's answer would be, on the cases of many students (`judge`), and the ones that
survive are printed, beside the corpus entries that make the same mistake (`report`).
"""

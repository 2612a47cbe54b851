"""A graded function's points: decided by the grader from a sandboxed call of the student's code.

- `checks`: the vocabulary of hidden tests (`Exercise`, cases, how results are compared).
- `hidden_tests/`: one module per lab, its exercises and hidden cases; never shipped to students.
- `isolated_call`: runs one answer cell and the function it defines on each hidden case in a
  fresh sandbox, and reads back its results as checked arrays (nothing unpickled).
"""

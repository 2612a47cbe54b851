"""Helpers of `grading.verdicts.checks` that the hidden tests build on."""

from __future__ import annotations

import numpy as np

from grading.verdicts.checks import once_per_arguments


def counted(calls: list):
    @once_per_arguments
    def reference(y, p):
        calls.append((y, p))
        return float(np.sum(y * p))

    return reference


def test_a_reference_is_computed_once_for_each_distinct_case():
    calls = []
    reference = counted(calls)
    y, p = np.array([1, 0, 1], dtype=np.uint8), np.array([0.1, 0.5, 0.9])
    results = [reference(y, p) for _ in range(30)]  # a class of 30 judged on the same case
    assert len(calls) == 1 and set(results) == {1.0}
    assert reference(y.copy(), p.copy()) == 1.0 and len(calls) == 1  # equal arrays: the same case


def test_arrays_that_differ_in_values_dtype_or_shape_are_different_cases():
    calls = []
    reference = counted(calls)
    y, p = np.array([1, 0, 1], dtype=np.uint8), np.array([0.1, 0.5, 0.9])
    assert reference(y, p) == 1.0
    assert reference(y, p + 1) == 3.0
    assert reference(y.astype(np.int64), p) == 1.0  # same values, another dtype: computed again
    assert reference(y.reshape(3, 1)[:, 0].copy(), p.reshape(1, 3)) == 1.0
    assert len(calls) == 4

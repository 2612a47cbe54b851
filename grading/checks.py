"""Exercises, test cases and the comparison of a student's results with the reference.

One exercise is one graded function. Its checks run in two places that must agree:
inside the notebook's kernel (the hidden part of a grade cell calls `check_exercise`)
and outside it, where `grading.isolated_call` runs the student's function in a fresh
process and `grading.preprocessors.VerifyAnswers` compares what came back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from grading.sandbox.inside.verdict_runner import as_outputs, call_quietly

Outputs = tuple[np.ndarray, ...]
# One argument of a graded function: an array, a Python scalar, or a list of arrays (which may
# differ in shape, like a network's weight matrices). Only these survive the trip to the
# isolated process (see `grading.isolated_call`) unchanged.
Argument = np.ndarray | int | float | bool | list[np.ndarray]


@dataclass(frozen=True)
class Case:
    """One call of a graded function: its arguments and what a student is told about it.

    `raises` names the exception the function must raise on these arguments (a constant
    series that cannot be normalised, say) instead of returning.
    """

    name: str
    args: tuple[Argument, ...]
    description: str
    raises: str | None = None


@dataclass(frozen=True)
class Exercise:
    """A graded function and how to judge it.

    `answer_cell` is the grade id of the answer cell that must define `function` on its own;
    `compare(case, outputs)` returns the problems found (empty when the outputs are right);
    `n_outputs` is how many values the function returns.
    """

    grade_id: str
    answer_cell: str
    function: str
    n_outputs: int
    cases: Callable[[], list[Case]]
    compare: Callable[[Case, Outputs], list[str]]


class ExerciseFailed(AssertionError):
    """A graded function gave a wrong result or raised; the message says which case and why."""


def problems_with(exercise: Exercise, results: list[Outputs | str]) -> list[str]:
    """What is wrong, case by case, given each case's outputs or the error it raised."""
    problems = []
    for case, result in zip(exercise.cases(), results):
        if case.raises:
            if not (isinstance(result, str) and result.startswith(f"{case.raises}:")):
                got = f"raised {result}" if isinstance(result, str) else "returned a result"
                problems.append(f"{case.description}: should raise {case.raises}, but {got}")
        elif isinstance(result, str):
            problems.append(f"{case.description}: {result}")
        else:
            problems += [f"{case.description}: {problem}" for problem in exercise.compare(case, result)]
    return problems


def run_in_process(exercise: Exercise, function: Callable[..., Any]) -> list[Outputs | str]:
    """Each case's outputs, or the error the function raised on it."""
    results: list[Outputs | str] = []
    for case in exercise.cases():
        try:
            results.append(as_outputs(call_quietly(function, case.args), exercise.n_outputs))
        except Exception as error:  # the student's code may raise anything
            results.append(f"{type(error).__name__}: {error}")
    return results


def check_exercise(exercise: Exercise, function: Callable[..., Any]) -> None:
    """Run every case of `exercise` on `function`; raise ExerciseFailed listing what went wrong."""
    problems = problems_with(exercise, run_in_process(exercise, function))
    if problems:
        raise ExerciseFailed(
            f"{exercise.function} failed {len(problems)} hidden check(s):\n- " + "\n- ".join(problems)
        )
    print(f"{exercise.function}: all hidden checks passed.")


def describe_mismatch(label: str, expected: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> str | None:
    """Say how `got` differs from `expected` (shape first, then values), or None when they agree."""
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        return f"{label} has shape {got.shape}, expected {expected.shape}"
    if not np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=False):
        with np.printoptions(precision=6, threshold=8):
            return f"{label} is {got}, expected {expected}"
    return None

"""Exercises, test cases and the comparison of a student's results with the reference.

One exercise is one graded function. Its checks run in two places that must agree:
inside the notebook's kernel (the hidden part of a grade cell calls `check_exercise`)
and outside it, where `grading.verdicts.isolated_call` runs the student's function in a fresh
process and `grading.preprocessors.VerifyAnswers` compares what came back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grading.sandbox.inside.verdict_runner import as_outputs, call_quietly, describe_return, error_classes


class Outputs(tuple):
    """What one call returned: one array per value, and the Python types it came in.

    Each array keeps the dtype its value had (bool, integer or float: 0/1 integers are not
    booleans, float32 is not float64). `container` is "tuple", "list" or "value" (a function
    of one output); `kinds[j]` is what value j was: "ndarray", "float" (a Python float or a
    numpy floating scalar), "int", "bool", "list", "tuple" or "other". Only these plain words
    and the arrays cross back from an isolated run.
    """

    container: str
    kinds: tuple[str, ...]

    def __new__(cls, arrays: Any, container: str = "tuple", kinds: Any = None) -> Outputs:
        outputs = super().__new__(cls, arrays)
        outputs.container = container
        outputs.kinds = tuple(kinds) if kinds is not None else ("ndarray",) * len(outputs)
        return outputs


class Raised(str):
    """The error a call raised, as the text "ExcName: message", with `classes`: the qualified
    names of its class and of every class it derives from (its MRO), as plain strings."""

    classes: tuple[str, ...]

    def __new__(cls, text: str, classes: Any = ()) -> Raised:
        raised = super().__new__(cls, text)
        raised.classes = tuple(classes)
        return raised

    def is_a(self, builtin_name: str) -> bool:
        """Whether the error is an instance of the built-in exception `builtin_name` (or of a subclass)."""
        return f"builtins.{builtin_name}" in self.classes


# One argument of a graded function: an array, a Python scalar, or a list of arrays (which may
# differ in shape, like a network's weight matrices). Only these survive the trip to the
# isolated process (see `grading.verdicts.isolated_call`) unchanged.
Argument = np.ndarray | int | float | bool | list[np.ndarray]


@dataclass(frozen=True)
class Case:
    """One call of a graded function: its arguments and what a student is told about it.

    `raises` names the built-in exception the function must raise on these arguments (a
    constant series that cannot be normalised, say) instead of returning: an instance of it
    or of any subclass of it passes.
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


def _fingerprint(argument: Any) -> Any:
    """A hashable stand-in for an argument: an array by its dtype, shape and bytes."""
    if isinstance(argument, np.ndarray):
        return argument.dtype.str, argument.shape, argument.tobytes()
    if isinstance(argument, (list, tuple)):
        return tuple(_fingerprint(item) for item in argument)
    return type(argument).__name__, argument


def once_per_arguments(reference: Callable[..., Any]) -> Callable[..., Any]:
    """`reference` computed once per distinct arguments, for a reference whose result is immutable
    (floats, tuples of floats): a class's students are judged on the same hidden cases, so each
    case's expected result is computed for the first student and remembered for the others."""
    results: dict[Any, Any] = {}

    @functools.wraps(reference)
    def remembered(*args: Any) -> Any:
        key = _fingerprint(args)
        if key not in results:
            results[key] = reference(*args)
        return results[key]

    return remembered


class ExerciseFailed(AssertionError):
    """A graded function gave a wrong result or raised; the message says which case and why."""


def problems_with(exercise: Exercise, results: list[Outputs | str]) -> list[str]:
    """What is wrong, case by case, given each case's outputs or the error it raised.

    An expected exception is judged by class (an instance of it or of a subclass passes); a
    function of several outputs must return them as a tuple, as the specification's
    `return a, b` does; the exercise's `compare` judges the outputs themselves.
    """
    problems = []
    for case, result in zip(exercise.cases(), results):
        if case.raises:
            if isinstance(result, Raised) and result.is_a(case.raises):
                continue
            if isinstance(result, str):
                got = f"raised {result}, which is not a {case.raises}"
            else:
                got = "returned a result"
            problems.append(f"{case.description}: should raise {case.raises}, but {got}")
        elif isinstance(result, str):
            problems.append(f"{case.description}: {result}")
        else:
            if exercise.n_outputs > 1 and getattr(result, "container", "tuple") != "tuple":
                problems.append(
                    f"{case.description}: returned a {result.container} of {exercise.n_outputs} values; "
                    f"return them as a tuple (return a, b)"
                )
            problems += [f"{case.description}: {problem}" for problem in exercise.compare(case, result)]
    return problems


def run_in_process(exercise: Exercise, function: Callable[..., Any]) -> list[Outputs | str]:
    """Each case's outputs, or the error the function raised on it (as the isolated run reports them)."""
    results: list[Outputs | str] = []
    for case in exercise.cases():
        try:
            result = call_quietly(function, case.args)
            arrays = as_outputs(result, exercise.n_outputs)
            container, *kinds = describe_return(result, exercise.n_outputs)
            results.append(Outputs(arrays, container, kinds))
        except Exception as error:  # the student's code may raise anything
            results.append(Raised(f"{type(error).__name__}: {error}", error_classes(error)))
    return results


def check_exercise(exercise: Exercise, function: Callable[..., Any]) -> None:
    """Run every case of `exercise` on `function`; raise ExerciseFailed listing what went wrong."""
    problems = problems_with(exercise, run_in_process(exercise, function))
    if problems:
        raise ExerciseFailed(f"{exercise.function} failed {len(problems)} hidden check(s):\n- " + "\n- ".join(problems))
    print(f"{exercise.function}: all hidden checks passed.")


def describe_mismatch(label: str, expected: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> str | None:
    """Say how `got` differs from `expected` (shape first, then values), or None when they agree.

    Values are printed with 6 digits, or with as many more as it takes to show the difference.
    """
    expected = np.asarray(expected)
    expected = expected if expected.dtype == bool else expected.astype(float)
    if got.shape != expected.shape:
        return f"{label} has shape {got.shape}, expected {expected.shape}"
    if not np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=False):
        for precision in (6, 10, 17):
            with np.printoptions(precision=precision, threshold=8):
                shown = f"{label} is {got}, expected {expected}"
                if str(got) != str(expected):
                    break
        return shown
    return None


def describe_dtype(label: str, got: np.ndarray, expected: str, why: str) -> str | None:
    """Say that `got` does not have the dtype the specification names (and `why` it matters), or None."""
    if got.dtype != np.dtype(expected):
        return f"{label} has dtype {got.dtype}, expected {expected}: {why}"
    return None


def describe_float(label: str, outputs: Outputs, index: int) -> str | None:
    """Say that output `index` is not the single float the specification names, or None.

    A Python float and a numpy floating scalar (np.float64 is a float) pass; an integer, a
    bool, an array (even of one element) or a list do not.
    """
    kind = outputs.kinds[index]
    if kind == "float":
        return None
    shape = f" of shape {outputs[index].shape}" if kind in ("ndarray", "list", "tuple") else ""
    article = "an" if kind in ("ndarray", "int", "other") else "a"
    return f"{label} is {article} {kind}{shape}, expected a single float"

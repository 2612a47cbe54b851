"""Exercises, test cases and the comparison of a student's results with the reference.

One exercise is one graded function. Its checks run in two places that must agree:
inside the notebook's kernel (the hidden part of a grade cell calls `check_exercise`)
and outside it, where `grading.verdicts.isolated_call` runs the student's function in a fresh
process and `grading.preprocessors.VerifyAnswers` compares what came back.

An exercise's cases are drawn, kind by kind, from a seed: each student's own seed
(`grading.verdicts.student_cases`), so that the inputs a student's code can see, and might
echo into its own feedback, are worth nothing to a classmate. A kind is what the feedback
names ("a single feature"); its numbers are shown only where the kind is `showable`.
"""

from __future__ import annotations

import functools
import hashlib
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
    or of any subclass of it passes. `description` names the case's kind, never its drawn
    numbers; `fixed` cases are the same for every seed; a problem found on a case that is not
    `showable` is told without its numbers (`Problem.general`).
    """

    name: str
    args: tuple[Argument, ...]
    description: str
    raises: str | None = None
    fixed: bool = False  # the same inputs for every student (the lab's real data)
    showable: bool = False  # the feedback may show this case's numbers


@dataclass(frozen=True)
class Exercise:
    """A graded function and how to judge it.

    `answer_cell` is the grade id of the answer cell that must define `function` on its own;
    `cases(rng)` draws one case of each kind, in the same order for every generator;
    `compare(case, outputs)` returns the problems found (empty when the outputs are right);
    `n_outputs` is how many values the function returns.
    """

    grade_id: str
    answer_cell: str
    function: str
    n_outputs: int
    cases: Callable[[np.random.Generator], list[Case]]
    compare: Callable[[Case, Outputs], list[str]]

    def cases_for(self, seed: int) -> list[Case]:
        """The cases drawn from `seed` (the same ones on every call with it)."""
        return _drawn(self, seed)


PREVIEW_SEED = 0  # the cases of a check run outside grading: the instructor's own run of a master


@functools.lru_cache(maxsize=512)
def _drawn(exercise: Exercise, seed: int) -> list[Case]:
    return exercise.cases(np.random.default_rng(seed))


class Problem(str):
    """What is wrong on one case, with its numbers; `general` says it without them."""

    general: str

    def __new__(cls, text: str, general: str) -> Problem:
        problem = super().__new__(cls, text)
        problem.general = general
        return problem


def as_told(case: Case, problem: str) -> str:
    """`problem` as the student reads it: without the case's numbers unless its kind is showable."""
    return problem if case.showable else getattr(problem, "general", problem)


def _fingerprint(argument: Any) -> Any:
    """A hashable stand-in for an argument: an array by its dtype, shape and bytes."""
    if isinstance(argument, np.ndarray):
        return argument.dtype.str, argument.shape, argument.tobytes()
    if isinstance(argument, (list, tuple)):
        return tuple(_fingerprint(item) for item in argument)
    return type(argument).__name__, argument


def once_per_arguments(reference: Callable[..., Any], size: int = 256) -> Callable[..., Any]:
    """`reference` computed once per distinct arguments (the last `size` of them), for a reference
    whose result is immutable (floats, tuples of floats): every student shares the fixed cases,
    and a student's own cases are judged twice (ahead on a worker's answer, then in nbgrader's
    pass), so an expected result is computed once and remembered."""
    results: dict[Any, Any] = {}

    @functools.wraps(reference)
    def remembered(*args: Any) -> Any:
        key = _fingerprint(args)
        if key in results:
            results[key] = results.pop(key)  # the most recently used goes last
        else:
            results[key] = reference(*args)
            if len(results) > size:
                del results[next(iter(results))]
        return results[key]

    return remembered


def results_digest(results: list[Outputs | str]) -> str:
    """A digest of what a function gave on some cases: each output's container, type, dtype, shape
    and bytes, or the class of the error it raised (two wordings of one error are one behaviour)."""
    digest = hashlib.sha256()
    for result in results:
        if isinstance(result, Raised):
            digest.update(f"raised {result.classes[:1]}".encode())
        elif isinstance(result, str):
            digest.update(b"failed")
        else:
            digest.update(f"{result.container} {result.kinds}".encode())
            for array in result:
                digest.update(f"{array.dtype.str} {array.shape}".encode() + np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class ExerciseFailed(AssertionError):
    """A graded function gave a wrong result or raised; the message says which case and why."""


def problems_with(exercise: Exercise, results: list[Outputs | str], seed: int = PREVIEW_SEED) -> list[str]:
    """What is wrong, case by case, given each case's outputs or the error it raised, on the
    cases drawn from `seed`.

    An expected exception is judged by class (an instance of it or of a subclass passes); a
    function of several outputs must return them as a tuple, as the specification's
    `return a, b` does; the exercise's `compare` judges the outputs themselves. A problem is
    told with the case's numbers only where its kind is showable.
    """
    return [
        problem
        for case, result in zip(exercise.cases_for(seed), results)
        for problem in problems_on(exercise, case, result)
    ]


def problems_on(exercise: Exercise, case: Case, result: Outputs | str) -> list[str]:
    """What is wrong on one case, each problem prefixed by the case's kind (`problems_with`)."""
    if case.raises:
        if isinstance(result, Raised) and result.is_a(case.raises):
            return []
        got = f"raised {result}, which is not a {case.raises}" if isinstance(result, str) else "returned a result"
        return [f"{case.description}: should raise {case.raises}, but {got}"]
    if isinstance(result, str):
        return [f"{case.description}: {result}"]
    problems = []
    if exercise.n_outputs > 1 and getattr(result, "container", "tuple") != "tuple":
        problems.append(
            f"{case.description}: returned a {result.container} of {exercise.n_outputs} values; "
            f"return them as a tuple (return a, b)"
        )
    return problems + [f"{case.description}: {as_told(case, problem)}" for problem in exercise.compare(case, result)]


def run_in_process(exercise: Exercise, function: Callable[..., Any], seed: int = PREVIEW_SEED) -> list[Outputs | str]:
    """Each case's outputs, or the error the function raised on it (as the isolated run reports them)."""
    return [run_case(exercise, function, case) for case in exercise.cases_for(seed)]


def run_case(exercise: Exercise, function: Callable[..., Any], case: Case) -> Outputs | str:
    """The outputs of `function` on `case`, or the error it raised."""
    try:
        result = call_quietly(function, case.args)
        arrays = as_outputs(result, exercise.n_outputs)
        container, *kinds = describe_return(result, exercise.n_outputs)
        return Outputs(arrays, container, kinds)
    except Exception as error:  # the student's code may raise anything
        return Raised(f"{type(error).__name__}: {error}", error_classes(error))


def check_exercise(exercise: Exercise, function: Callable[..., Any], seed: int = PREVIEW_SEED) -> None:
    """Run every case of `exercise` on `function`; raise ExerciseFailed listing what went wrong."""
    problems = problems_with(exercise, run_in_process(exercise, function, seed), seed)
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
    close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=False)
    if not np.all(close):
        for precision in (6, 10, 17):
            with np.printoptions(precision=precision, threshold=8):
                shown = f"{label} is {got}, expected {expected}"
                if str(got) != str(expected):
                    break
        if np.ndim(close) == 0:
            return Problem(shown, f"{label} is not the expected value")
        wrong = np.size(close) - np.count_nonzero(close)
        return Problem(shown, f"{label} is wrong in {wrong} of its {np.size(close)} values")
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

"""Hidden tests of the lab "LAB_TITLE".

Each exercise is judged on cases the student never sees, against a reference answer computed
here, in the grader. Each student gets cases of their own, drawn from their seed: write one
case of each kind, its numbers drawn from `rng`, and name the kind in its description (the
feedback names a failing case by it; it shows the numbers only of a `showable` case). Pick
kinds that tell the typical mistakes apart from the right answer whatever the draw (each entry
in grading/corpus/LAB_NAME/ must lose its points), and that a hard-coded answer to the public
tests cannot pass:
- a matrix of one row more than the public one, so that results are not copied;
- columns of very different spreads, so that the axis matters;
- a small matrix, where the sample and the population standard deviations differ most.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grading.verdicts.checks import Case, Exercise, Outputs, check_exercise, describe_dtype, describe_mismatch


def reference_standardize(X: np.ndarray) -> np.ndarray:
    """Each column less its mean, divided by its population standard deviation."""
    return (X - X.mean(axis=0)) / X.std(axis=0)


def standardize_cases(rng: np.random.Generator) -> list[Case]:
    rows = int(rng.integers(5, 10))
    return [
        Case(
            "three_rows",
            (np.array([[1.0, 2.0], [2.0, 4.0], [6.0, 0.0]]),),
            "a 3 x 2 matrix",
            fixed=True,
            showable=True,
        ),
        Case(
            "spreads",
            (rng.normal(scale=[1.0, 100.0, 0.01], size=(rows, 3)),),
            "columns of very different spreads",
        ),
        Case("one_column", (rng.normal(size=(int(rng.integers(3, 7)), 1)),), "a single column"),
    ]


def compare_standardize(case: Case, outputs: Outputs) -> list[str]:
    got = outputs[0]
    problems = [describe_dtype("the result", got, "float64", "the lab works in double precision")]
    problems.append(describe_mismatch("the result", reference_standardize(*case.args), got, rtol=1e-9, atol=1e-12))
    return [problem for problem in problems if problem]


EXERCISES = {
    "test_standardize": Exercise(
        grade_id="test_standardize",
        answer_cell="standardize",
        function="standardize",
        n_outputs=1,
        cases=standardize_cases,
        compare=compare_standardize,
    ),
}


def check_standardize(standardize: Callable) -> None:
    """Hidden checks of Exercise 1."""
    check_exercise(EXERCISES["test_standardize"], standardize)

"""The mutation operators (`grading.mutation.operators`): each makes the change its table says, on
the graded function's body alone, and every mutant of a master is code that runs."""

from __future__ import annotations

import ast

import pytest

from grading.course import Course
from grading.mutation.operators import NODE_OPERATORS, mutants_of
from grading.mutation.report import master_answers
from grading.preprocessors.verify_answers import hidden_tests

SOURCE = '''import numpy as np

def answer(X, y, k):
    """Docstring with 1000 and x < y, never changed."""
    m = len(X)
    mu = np.sum(X, axis=0) / m
    grid = np.arange(min(y), max(y), 0.5)
    flagged = (X[:k] < 3) & ~(y == 1)
    if int(m * 0.5) > 2 and k >= 1:
        mu = np.abs(mu)
    return mu, flagged
'''


def changed_lines(source: str) -> set[str]:
    """The lines of `source` that SOURCE does not have, without their indentation."""

    def lines(text: str) -> set[str]:
        return {line.strip() for line in ast.unparse(ast.parse(text)).splitlines()}

    return lines(source) - lines(SOURCE)


@pytest.mark.parametrize(
    ("operator", "line"),
    [
        ("axis", "mu = np.sum(X, axis=1) / m"),
        ("axis", "mu = np.sum(X) / m"),
        ("sample_statistic", "mu = np.sum(X, axis=0) / (m - 1)"),
        ("range_bound", "grid = np.arange(min(y), max(y) + 0.5, 0.5)"),
        ("range_bound", "grid = np.arange(min(y), max(y) - 0.5, 0.5)"),
        ("slice_bound", "flagged = (X[:k + 1] < 3) & ~(y == 1)"),
        ("slice_bound", "flagged = (X[:k - 1] < 3) & ~(y == 1)"),
        ("returned_values", "return (flagged, mu)"),
        ("returned_values", "return [mu, flagged]"),
        ("rounding", "if round(m * 0.5) > 2 and k >= 1:"),
        ("comparison", "flagged = (X[:k] <= 3) & ~(y == 1)"),
        ("comparison", "if int(m * 0.5) >= 2 and k >= 1:"),
        ("comparison", "if int(m * 0.5) > 2 and k > 1:"),
        ("comparison", "flagged = (X[:k] < 3) & ~(y != 1)"),
        ("boolean", "flagged = (X[:k] < 3) | ~(y == 1)"),
        ("boolean", "flagged = (X[:k] < 3) & (y == 1)"),
        ("boolean", "if int(m * 0.5) > 2 or k >= 1:"),
        ("reduction", "mu = np.mean(X, axis=0) / m"),
        ("reduction", "grid = np.arange(max(y), max(y), 0.5)"),
        ("reduction", "mu = mu"),
        ("arithmetic", "mu = np.sum(X, axis=0) * m"),
        ("arithmetic", "if int(m / 0.5) > 2 and k >= 1:"),
        ("constant", "grid = np.arange(min(y), max(y), 1.5)"),
        ("constant", "if int(m * 0.5) > 3 and k >= 1:"),
    ],
)
def test_each_operator_makes_the_change_its_table_names(operator, line):
    made = [mutant for mutant in mutants_of(SOURCE, "answer") if mutant.operator == operator]
    assert any(changed_lines(mutant.source) == {line} for mutant in made), [m.change for m in made]


def test_a_float32_mutant_casts_one_argument_on_entry():
    casts = [mutant for mutant in mutants_of(SOURCE, "answer") if mutant.operator == "float32"]
    assert [changed_lines(mutant.source) for mutant in casts] == [
        {f"{name} = np.asarray({name}).astype(np.float32)"} for name in ("X", "y", "k")
    ]


def test_only_the_functions_body_changes_and_each_mutant_once():
    mutants = mutants_of(SOURCE, "answer")
    assert len({mutant.source for mutant in mutants}) == len(mutants)
    for mutant in mutants:
        tree = ast.parse(mutant.source)
        assert ast.get_docstring(tree.body[1]) == "Docstring with 1000 and x < y, never changed."
        assert len(changed_lines(mutant.source)) == 1
    assert {mutant.operator for mutant in mutants} == {*NODE_OPERATORS, "float32"}


def test_an_answer_cell_without_its_function_is_refused_by_name():
    with pytest.raises(ValueError, match=r"does not define answer\(\)"):
        mutants_of("x = 1\n", "answer")


@pytest.mark.parametrize("lab", Course().labs())
def test_every_mutant_of_a_master_defines_its_function(lab):
    answers = master_answers(Course(), lab)
    for exercise in hidden_tests()[lab].EXERCISES.values():
        mutants = mutants_of(answers[exercise.answer_cell], exercise.function)
        assert len(mutants) >= 5
        for mutant in mutants:
            namespace: dict = {}
            exec(compile(mutant.source, mutant.function, "exec"), namespace)
            assert callable(namespace[exercise.function])

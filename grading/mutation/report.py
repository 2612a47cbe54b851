"""`python -m grading mutants LAB`: every mutant of the lab's graded functions, and what the hidden
tests made of it, as a table whose last line is `K/N mutants killed (E equivalent)`.

N counts the mutants that are not equivalent; the hidden tests are as strong as the operators
can tell when K = N. Beside each mutant are the corpus entries that behave exactly as it does on
the first student's cases: the mistakes the kit already knew by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import nbformat

from grading.course import Course
from grading.mutation.judge import SEEDS, Judgement, behaviour_in_child, in_children, judge_all
from grading.mutation.operators import mutants_of
from grading.preprocessors.verify_answers import hidden_tests
from grading.sample_class import BASE_ENTRY, corpus


@dataclass(frozen=True)
class LabMutants:
    lab: str
    judgements: list[Judgement]
    beside: dict[str, list[str]]  # mutant's source -> corpus entries that behave as it does

    @property
    def equivalent(self) -> list[Judgement]:
        return [judgement for judgement in self.judgements if judgement.equivalent]

    @property
    def counted(self) -> list[Judgement]:
        return [judgement for judgement in self.judgements if not judgement.equivalent]

    @property
    def survivors(self) -> list[Judgement]:
        return [judgement for judgement in self.counted if not judgement.killed]

    def last_line(self) -> str:
        killed = len(self.counted) - len(self.survivors)
        return f"{killed}/{len(self.counted)} mutants killed ({len(self.equivalent)} equivalent)"


def master_answers(course: Course, lab: str) -> dict[str, str]:
    """The master's answer cells: grade id -> source."""
    master = nbformat.read(course.solutions / lab / f"{lab}.ipynb", as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in master.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
    }


def corpus_behaviours(lab: str, workers: int) -> dict[str, dict[str, str]]:
    """grade id -> corpus entry -> its behaviour on the first student's cases of that exercise."""
    entries = {entry.name: entry for entry in corpus(lab)}
    found: dict[str, dict[str, str]] = {}
    for grade_id, exercise in hidden_tests()[lab].EXERCISES.items():
        sources = {
            name: {**entries[BASE_ENTRY].cells, **entry.cells}[exercise.answer_cell] for name, entry in entries.items()
        }
        tasks = [
            lambda source=source, exercise=exercise: behaviour_in_child(exercise, source) for source in sources.values()
        ]
        answers = in_children(tasks, workers, seconds=10)
        found[grade_id] = {name: answer["behaviour"] for name, answer in zip(sources, answers) if "behaviour" in answer}
    return found


def mutate_lab(
    course: Course, lab: str, workers: int | None = None, progress: Callable[[str], None] = print
) -> LabMutants:
    """Every mutant of every graded function of `lab`, judged by its hidden tests."""
    workers = workers or os.cpu_count() or 1
    answers, judgements, beside = master_answers(course, lab), [], {}
    behaviours = corpus_behaviours(lab, workers)
    for grade_id, exercise in hidden_tests()[lab].EXERCISES.items():
        source = answers[exercise.answer_cell]
        mutants = mutants_of(source, exercise.function)
        progress(
            f"mutants: {lab}: {exercise.function}: judging {len(mutants)} mutants on the cases of {len(SEEDS)} students"
        )
        right = behaviours[grade_id].get(BASE_ENTRY)
        for judgement in judge_all(exercise, source, mutants, workers):
            judgements.append(judgement)
            if not judgement.equivalent and judgement.behaviour != right:
                beside[judgement.mutant.source] = sorted(
                    name for name, seen in behaviours[grade_id].items() if seen == judgement.behaviour
                )
    return LabMutants(lab, judgements, beside)


def verdict(judgement: Judgement) -> str:
    if judgement.equivalent:
        return f"equivalent: {judgement.why}"
    if judgement.killed:
        return "killed"
    return f"SURVIVES on {len(SEEDS) - judgement.killed_on} of {len(SEEDS)} students' cases: {judgement.why}"


def table(result: LabMutants) -> list[str]:
    """The lab's mutants, one line each, survivors first; then the summary line."""
    rows = [("function", "line", "operator", "change", "corpus entries alike", "verdict")]
    order = sorted(
        result.judgements, key=lambda judgement: (judgement.killed or judgement.equivalent, judgement.equivalent)
    )
    for judgement in order:
        mutant = judgement.mutant
        rows.append(
            (
                mutant.function,
                str(mutant.line),
                mutant.operator,
                mutant.change,
                ", ".join(result.beside.get(mutant.source, [])) or "-",
                verdict(judgement),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths)) + "  " + row[5] for row in rows]
    return [*lines, result.last_line()]

"""Judging mutants: killed on the cases of every student, equivalent by a check, or surviving.

A mutant is killed when the hidden tests fail it on the cases drawn from every one of `SEEDS`
(20 students): a mutant that some students' cases let through is a survivor, since those
students would get its points. A mutant the hidden tests do not kill is compared with the master
on the cases of `SEEDS` and of `MORE_SEEDS` (50 draws in all, of every kind): it is equivalent
when it gives the master's outputs on every one of them, bit for bit or up to rounding (a
difference of at most `ROUNDING` relative), and a survivor otherwise, named with the first kind
of case that tells it apart.

Mutants and corpus entries run in forked children with a time limit (a mutant may loop for ever,
a corpus entry may end its process), and only plain JSON comes back. The code they run is the
master's, changed, and the kit's own corpus, never a student's.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from grading.mutation.operators import Mutant
from grading.verdicts.checks import Case, Exercise, Outputs, Raised, problems_on, run_case
from grading.verdicts.checks import results_digest as behaviour

SEEDS = range(20)
MORE_SEEDS = range(20, 50)
ROUNDING = 1e-12
CHILD_SECONDS = 120


@dataclass(frozen=True)
class Judgement:
    """What the hidden tests made of a mutant; `why` says why it is equivalent or how it survives."""

    mutant: Mutant
    killed_on: int  # how many of SEEDS' students' cases kill it
    equivalent: bool
    why: str
    behaviour: str  # a digest of its outputs on the first student's cases

    @property
    def killed(self) -> bool:
        return self.killed_on == len(SEEDS)


def defined(source: str, function: str) -> Callable:
    """The function an answer cell defines, its prints swallowed."""
    namespace: dict = {"__name__": "__main__"}
    exec(compile(source, f"<{function}>", "exec"), namespace)
    if not callable(namespace.get(function)):
        raise NameError(f"{function} is not defined")
    return namespace[function]


def kills(exercise: Exercise, function: Callable) -> tuple[int, str]:
    """On how many of SEEDS' students' cases the hidden tests fail `function`, and its behaviour on
    the first student's cases. A fixed case (the same for everyone) is run once; a student's
    cases stop at the first that fails."""
    fixed: dict[str, Outputs | str] = {}
    killed_on, first = 0, ""
    for seed in SEEDS:
        cases = exercise.cases_for(seed)
        results, failed = [], False
        for case in cases:
            if case.fixed and case.name not in fixed:
                fixed[case.name] = run_case(exercise, function, case)
            results.append(fixed[case.name] if case.fixed else run_case(exercise, function, case))
            failed = failed or bool(problems_on(exercise, case, results[-1]))
            if failed and seed != SEEDS[0]:  # the first student's cases all run: their behaviour is kept
                break
        if seed == SEEDS[0]:
            first = behaviour(results)
        killed_on += failed
    return killed_on, first


def _difference(mine: Outputs | str, master: Outputs | str) -> float | None:
    """0 when two results are the same bit for bit, the largest relative difference of two results
    of the same types and shapes, or None when they differ in kind."""
    if isinstance(mine, str) or isinstance(master, str):
        same = isinstance(mine, Raised) and isinstance(master, Raised) and mine.classes[:1] == master.classes[:1]
        return 0.0 if same else None
    if (mine.container, mine.kinds) != (master.container, master.kinds) or len(mine) != len(master):
        return None
    worst = 0.0
    for got, want in zip(mine, master):
        if got.dtype != want.dtype or got.shape != want.shape:
            return None
        if np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"):
            continue
        if got.dtype.kind not in "fc" or not np.array_equal(np.isnan(got), np.isnan(want)):
            return None
        scale = np.maximum(np.abs(want), np.finfo(float).tiny)
        worst = max(worst, float(np.nanmax(np.abs(got - want) / scale)))
    return worst


def battery(exercise: Exercise) -> list[tuple[int, Case]]:
    """(seed, case) of every case of 50 draws: the fixed cases once."""
    return [
        (seed, case)
        for seed in (*SEEDS, *MORE_SEEDS)
        for case in exercise.cases_for(seed)
        if not (case.fixed and seed != SEEDS[0])
    ]


def equivalence(exercise: Exercise, function: Callable, master_results: list[Outputs | str]) -> tuple[bool, str]:
    """Whether `function` gives the master's results on every case of the battery, and why (or where not)."""
    worst = 0.0
    cases = battery(exercise)
    for (seed, case), master in zip(cases, master_results):
        difference = _difference(run_case(exercise, function, case), master)
        if difference is None or difference > ROUNDING:
            return False, f"outputs differ from the master's on {case.description} (draw {seed})"
        worst = max(worst, difference)
    draws = len(SEEDS) + len(MORE_SEEDS)
    if worst == 0:
        return True, f"the master's outputs, bit for bit, on all {len(cases)} cases of {draws} draws"
    return (
        True,
        f"the master's outputs up to rounding ({worst:.0e} relative) on all {len(cases)} cases of {draws} draws",
    )


def kills_in_child(exercise: Exercise, mutant: Mutant) -> dict:
    """How many students' cases kill one mutant (run in a forked child): plain data."""
    try:
        function = defined(mutant.source, exercise.function)
    except Exception as error:  # noqa: BLE001 - a mutant may not even define its function
        return {"killed_on": len(SEEDS), "behaviour": "", "why": f"the cell raises {type(error).__name__}"}
    killed_on, first = kills(exercise, function)
    return {"killed_on": killed_on, "behaviour": first}


def equivalence_in_child(exercise: Exercise, mutant: Mutant, master_results: list[Outputs | str]) -> dict:
    equivalent, why = equivalence(exercise, defined(mutant.source, exercise.function), master_results)
    return {"equivalent": equivalent, "why": why}


def behaviour_in_child(exercise: Exercise, source: str) -> dict:
    """The behaviour, on the first student's cases, of the function a corpus entry defines."""
    function = defined(source, exercise.function)
    return {"behaviour": behaviour([run_case(exercise, function, case) for case in exercise.cases_for(SEEDS[0])])}


def _child(connection, task: Callable[[], dict]) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            answer = task()
        except BaseException as error:  # noqa: BLE001 - whatever the code did, the parent hears of it
            answer = {"error": f"{type(error).__name__}"}
    connection.send_bytes(json.dumps(answer).encode())


def in_children(tasks: Sequence[Callable[[], dict]], workers: int, seconds: float = CHILD_SECONDS) -> list[dict]:
    """Each task's answer, from forked children, `workers` at a time; {"error": ...} for a child
    that died or ran past `seconds`."""
    context = multiprocessing.get_context("fork")
    answers: list[dict] = [{} for _ in tasks]
    running: list[tuple[int, multiprocessing.Process, object, float]] = []
    waiting = list(range(len(tasks)))
    while waiting or running:
        while waiting and len(running) < workers:
            index = waiting.pop(0)
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(target=_child, args=(sender, tasks[index]), daemon=True)
            child.start()
            sender.close()
            running.append((index, child, receiver, time.monotonic() + seconds))
        multiprocessing.connection.wait([receiver for _, _, receiver, _ in running], timeout=0.2)
        for entry in list(running):
            index, child, receiver, deadline = entry
            done = receiver.poll()
            if done or not child.is_alive() or time.monotonic() > deadline:
                try:
                    answers[index] = json.loads(receiver.recv_bytes()) if done else {}
                except (EOFError, OSError, ValueError):
                    answers[index] = {}
                answers[index] = answers[index] or {"error": "ended or ran too long"}
                if child.is_alive():
                    child.kill()
                child.join()
                receiver.close()
                running.remove(entry)
    return answers


def judge_all(exercise: Exercise, master_source: str, mutants: Sequence[Mutant], workers: int) -> list[Judgement]:
    """Every mutant of `exercise` judged, `workers` at a time: first by the hidden tests on the cases
    of every student of SEEDS; then each one they do not kill, against the master's results on
    the battery (computed once, here, from the master's own answer)."""
    cases = battery(exercise)  # drawn once here, before the children fork
    answers = in_children([lambda mutant=mutant: kills_in_child(exercise, mutant) for mutant in mutants], workers)
    answers = [
        answer if "error" not in answer else {"killed_on": len(SEEDS), "why": f"it {answer['error']}"}
        for answer in answers  # a mutant that loops for ever or ends the process: no student gets its points
    ]
    alive = [index for index, answer in enumerate(answers) if answer["killed_on"] < len(SEEDS)]
    if alive:
        master = defined(master_source, exercise.function)
        master_results = [run_case(exercise, master, case) for _, case in cases]
        checked = in_children(
            [lambda mutant=mutants[index]: equivalence_in_child(exercise, mutant, master_results) for index in alive],
            workers,
        )
        for index, answer in zip(alive, checked):
            answers[index].update(answer if "error" not in answer else {"why": f"it {answer['error']} on more cases"})
    return [
        Judgement(
            mutant,
            answer["killed_on"],
            answer.get("equivalent", False),
            answer.get("why", ""),
            answer.get("behaviour", ""),
        )
        for mutant, answer in zip(mutants, answers)
    ]

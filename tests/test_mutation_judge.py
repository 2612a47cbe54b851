"""Judging mutants (`grading.mutation.judge`, `grading.mutation.report`): the hidden tests of both
labs kill every mutant that is not equivalent, and the check that kills one is the kind of case
written for it: without that kind, the same mutant survives."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time
from functools import cache

import pytest

from grading.course import KIT_ROOT, Course
from grading.mutation.judge import SEEDS, in_children, judge_all
from grading.mutation.operators import mutants_of
from grading.mutation.report import master_answers
from grading.preprocessors.verify_answers import hidden_tests

LAB = "anomaly_detection"
SELECT = hidden_tests()[LAB].EXERCISES["test_select_threshold"]


@cache
def select_threshold_mutant(change: str):
    source = master_answers(Course(), LAB)["select_threshold"]
    return next(mutant for mutant in mutants_of(source, "select_threshold") if mutant.change == change)


def judged(exercise, change: str):
    [judgement] = judge_all(
        exercise, master_answers(Course(), LAB)["select_threshold"], [select_threshold_mutant(change)], 2
    )
    return judgement


def test_the_mutant_that_flags_p_equal_to_epsilon_is_killed_on_every_students_cases():
    judgement = judged(SELECT, "`<` → `<=`")
    assert judgement.killed and judgement.killed_on == len(SEEDS) and not judgement.equivalent


def test_without_the_kinds_written_for_it_the_same_mutant_survives():
    """The real data and random examples alone never flag an example whose p equals an epsilon."""
    kept = {"real_part1", "real_part2", "random_0", "random_1", "random_2"}
    weaker = dataclasses.replace(SELECT, cases=lambda rng: [case for case in SELECT.cases(rng) if case.name in kept])
    judgement = judged(weaker, "`<` → `<=`")
    assert not judgement.killed and not judgement.equivalent
    assert judgement.killed_on == 0
    assert re.match(r"outputs differ from the master's on .+ \(draw \d+\)$", judgement.why)


def test_a_mutant_no_drawn_case_tells_apart_is_equivalent_with_the_reason():
    judgement = judged(SELECT, "`y_val` cast to float32 on entry")  # labels 0 and 1 are exact in float32
    assert judgement.equivalent and not judgement.killed
    assert re.fullmatch(r"the master's outputs, bit for bit, on all \d+ cases of 50 draws", judgement.why)


def test_a_child_that_loops_for_ever_or_ends_its_process_is_answered_for():
    def endless():
        while True:
            pass

    def ends():
        import os

        os._exit(3)

    started = time.monotonic()
    answers = in_children([endless, ends, lambda: {"fine": 1}], workers=2, seconds=2)
    assert answers == [{"error": "ended or ran too long"}, {"error": "ended or ran too long"}, {"fine": 1}]
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_the_hidden_tests_of_every_lab_kill_every_mutant_that_is_not_equivalent():
    """`python -m grading mutants LAB`, as the README shows it: K = N, with N >= 20 per lab."""
    for lab in Course().labs():
        done = subprocess.run(
            [sys.executable, "-m", "grading", "mutants", lab],
            cwd=KIT_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        killed, counted, equivalent = map(
            int, re.fullmatch(r"(\d+)/(\d+) mutants killed \((\d+) equivalent\)", lines[-1]).groups()
        )
        assert killed == counted >= 20, "\n".join(line for line in lines if "SURVIVES" in line)
        rows = [line for line in lines[1:-1] if re.match(r"\w+ +\d+ ", line)]
        assert len(rows) == counted + equivalent
        assert all(re.search(r"equivalent: the master's outputs", line) for line in rows if "equivalent" in line)

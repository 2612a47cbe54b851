"""What the bubblewrap sandbox costs: start-up per run, and seconds per submission of a class.

Times, with the default `Sandbox()` settings and with `Sandbox(unsafe_no_sandbox=True)`:
a trivial program (`python -c pass`) started through `SandboxedRun`, one verdict run
(`call_in_fresh_process` on a tiny function and one case), and the autograding of a class of
the first lab built from the correctness corpus, each in its own fresh scratch course. Checks
that both class runs give every student the same score. Progress goes to stderr, the table to
stdout. Run from the kit's root (about 2 minutes on 2 cores):

    .venv/bin/python benchmarks/sandbox_cost.py [--repeats N] [--students N]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from grading.autograde_class import autograde_class
from grading.checks import Case
from grading.cli import copy_course, release
from grading.course import Course
from grading.isolated_call import call_in_fresh_process
from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of, write_submission
from grading.sandbox.launch import HOME, Mounts, Sandbox, SandboxedRun

LAB = "anomaly_detection"
MISTAKES = ("sample_variance", "less_or_equal")  # each loses one exercise
MODES = {"sandbox": {}, "no sandbox": {"Sandbox.unsafe_no_sandbox": True}}


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def median_ms(action: Callable[[], None], repeats: int) -> float:
    """Median milliseconds of `action`, after one untimed warm-up call."""
    action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def trivial_run(settings: Sandbox) -> None:
    """Start `python -c pass` through SandboxedRun and wait for its end."""
    with SandboxedRun(settings, Mounts(work=f"{HOME}/work"), [sys.executable, "-c", "pass"]) as run:
        run.stdin.close()
        finished = run.wait(timeout=30)
        if finished.returncode != 0:
            raise RuntimeError(f"trivial run failed ({finished}): {run.stderr_tail()}")


def verdict_run(settings: Sandbox) -> None:
    """One verdict run of a tiny function on one small case."""
    case = Case("tiny", (np.arange(3.0),), "three numbers")
    results = call_in_fresh_process(["def plus_one(x):\n    return x + 1\n"], "plus_one", [case], 1, 30, settings)
    assert np.array_equal(results[0][0], np.arange(1.0, 4.0)), results


def start_up_costs(repeats: int) -> dict[str, dict[str, float]]:
    """Median ms per run kind ("trivial program", "verdict run") and mode."""
    costs: dict[str, dict[str, float]] = {}
    for kind, action in (("trivial program", trivial_run), ("verdict run", verdict_run)):
        for mode, overrides in MODES.items():
            settings = Sandbox(unsafe_no_sandbox=bool(overrides))
            log(f"start-up: {kind}, {mode}: {repeats} runs")
            costs.setdefault(kind, {})[mode] = median_ms(lambda: action(settings), repeats)
    return costs


def class_submissions(course: Course, students: int) -> dict[str, object]:
    """Up to `students` notebooks: the corpus's correct entries, then a few of its typical mistakes."""
    entries = {entry.name: entry for entry in corpus(LAB)}
    base, release_notebook = entries[BASE_ENTRY], released_notebook(course, LAB)
    correct = [name for name in entries if name.startswith("correct_")]
    names = correct[:max(0, students - len(MISTAKES))] + list(MISTAKES)
    return {name: submission_of(entries[name], base, release_notebook) for name in names}


def grade_class(source: Course, scratch: Path, mode: str, students: int) -> tuple[float, dict[str, tuple]]:
    """Seconds to autograde the class in a fresh copy of `source`, and each student's (score, failed)."""
    course = copy_course(source, scratch / mode.replace(" ", "_"))
    with contextlib.redirect_stdout(sys.stderr):
        release(course, [LAB])
    for student, notebook in class_submissions(course, students).items():
        write_submission(course, LAB, student, notebook)
    log(f"class: autograding {len(course.students(LAB))} submissions, {mode}")
    started = time.perf_counter()
    results = autograde_class(course, LAB, progress=log, workers=1, **MODES[mode])  # one worker, as without a sandbox
    seconds = time.perf_counter() - started
    return seconds, {r.student: (r.score, tuple(r.failed)) for r in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per start-up figure (default 20)")
    parser.add_argument("--students", type=int, default=10, help="size of the class (default 10)")
    args = parser.parse_args()

    costs = start_up_costs(args.repeats)
    with tempfile.TemporaryDirectory(prefix="sandbox-cost-") as folder:
        scratch = Path(folder)
        source = copy_course(Course(), scratch / "source")
        classes = {mode: grade_class(source, scratch, mode, args.students) for mode in MODES}
    (with_seconds, with_scores), (without_seconds, without_scores) = classes.values()
    n = len(with_scores)

    print(f"Sandbox cost on {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'what':<38} {'sandbox':>10} {'no sandbox':>11} {'ratio':>6}")
    for kind, by_mode in costs.items():
        on, off = by_mode["sandbox"], by_mode["no sandbox"]
        print(f"{kind + ' start-up (ms, median)':<38} {on:>10.0f} {off:>11.0f} {on / off:>6.2f}")
    on, off = with_seconds / n, without_seconds / n
    print(f"{f'class of {n} (s per submission)':<38} {on:>10.2f} {off:>11.2f} {on / off:>6.2f}")
    agree = with_scores == without_scores
    print(f"per-student scores agree: {'yes' if agree else 'NO'}")
    if not agree:
        for student in sorted(with_scores.keys() | without_scores.keys()):
            if with_scores.get(student) != without_scores.get(student):
                print(f"  {student}: sandbox {with_scores.get(student)}, no sandbox {without_scores.get(student)}")


if __name__ == "__main__":
    main()

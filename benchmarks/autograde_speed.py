"""How fast the kit grades: seconds per student for a class, and the cost of its parts.

For each lab, builds a scratch course, fills it with N copies of a correct submission,
autogrades the class as `python -m grading autograde` does, and prints the figures. The first
student of the time-series lab trains its network; the others find it in the course's cache.
Run from the kit's root:

    .venv/bin/python benchmarks/autograde_speed.py [--students N] [--lab LAB]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from grading.autograde_class import autograde_class
from grading.cli import copy_course, release
from grading.course import Course
from grading.preprocessors.verify_answers import HIDDEN_TESTS, problems_of
from grading.sample_class import BASE_ENTRY, CORPUS, read_entry, released_notebook, submission_of, write_submission


def time_isolated_runs(lab: str, repeats: int) -> dict[str, float]:
    """Mean seconds of one exercise's isolated run (a fresh Python process and the hidden cases)."""
    answers = read_entry(CORPUS / lab / f"{BASE_ENTRY}.py").cells
    means = {}
    for exercise in HIDDEN_TESTS[lab].EXERCISES.values():
        started = time.perf_counter()
        for _ in range(repeats):
            assert not problems_of(exercise, answers[exercise.answer_cell], timeout=60)
        means[exercise.function] = (time.perf_counter() - started) / repeats
    return means


def time_class(lab: str, students: int) -> list[float]:
    """Seconds each student's autograde took, for a class of identical correct submissions."""
    with tempfile.TemporaryDirectory() as scratch:
        course = copy_course(Course(), Path(scratch) / "course")
        release(course, [lab])
        base = read_entry(CORPUS / lab / f"{BASE_ENTRY}.py")
        notebook = submission_of(base, base, released_notebook(course, lab))
        for number in range(students):
            write_submission(course, lab, f"student{number:03d}", notebook)
        seconds: list[float] = []
        previous = time.perf_counter()

        def lap(_line: str) -> None:
            nonlocal previous
            now = time.perf_counter()
            seconds.append(now - previous)
            previous = now

        results = autograde_class(course, lab, progress=lap)
        assert all(result.score == result.max_score for result in results)
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=10, help="size of the class (default 10)")
    parser.add_argument("--repeats", type=int, default=5, help="isolated runs timed per exercise (default 5)")
    parser.add_argument("--lab", choices=Course().labs(), help="one lab only (default: every lab)")
    args = parser.parse_args()

    for lab in [args.lab] if args.lab else Course().labs():
        print(f"{lab}:")
        for function, seconds in time_isolated_runs(lab, args.repeats).items():
            print(f"  isolated run of {function}: {seconds * 1000:.0f} ms")
        seconds = time_class(lab, args.students)
        print(f"  class of {len(seconds)}: {sum(seconds):.1f} s in all, "
              f"{statistics.mean(seconds):.2f} s per student (min {min(seconds):.2f}, max {max(seconds):.2f}), "
              f"{60 * len(seconds) / sum(seconds):.1f} students per minute")


if __name__ == "__main__":
    main()

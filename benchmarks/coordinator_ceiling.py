"""How many students a second one grading process can take: the coordinator's ceiling.

The sandboxes are the only part replaced. A class of the first lab's honest corpus entries (one
student each) is graded for real first, on local workers, and every worker's answer is kept. Then
a class of `--students` (10,000 by default; the same entries, cycled) is graded by the kit's own
command (`python -m grading autograde`, in this process) with a pool that answers each student at
once with the answer recorded for their entry: the coordinator checks each answer, puts the
student through nbgrader's pipeline, the gradebook, the journal and the class's reports, as it
would for workers that never keep it waiting. Once with the course's SQLite gradebook, once with a
PostgreSQL server on loopback (Debian's `initdb` and `pg_ctl`, as the tests start it).

Prints, per database: the class's seconds, the coordinator's CPU per student, the seconds before
the first student and after the last (set-up, reports), the ceiling in students per second, and
the rate over each tenth of the class (a gradebook that slows as it grows shows it there). The
per-cell scores of the simulated class are checked against those of the recorded one.

Each simulated student is judged on the hidden cases of the recorded student whose answer they
copy (their seed), since the recorded answer holds the outputs on those cases. Drawing a
student's own cases, with their references and the verdict runs' inputs, is measured on its own
(`drawing_cost`, on fresh seeds) and printed beside the ceiling: a real class pays both. Run from
the kit's root:

    .venv/bin/python benchmarks/coordinator_ceiling.py [--students N] [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from class_speed import FIRST, honest_entries, kit_course, kit_scores, section, student_ids, table, write_class

from grading import cli
from grading.classwork import autograde_class as coordinator
from grading.classwork import lab_cache
from grading.course import Course
from grading.gradebook_url import ENV_VAR
from grading.preprocessors.verify_answers import VerifyAnswers, hidden_tests
from grading.sandbox import cgroups
from grading.verdicts.checks import problems_with, run_in_process
from grading.verdicts.isolated_call import verdict_payload
from grading.verdicts.student_cases import course_secret, seed_for

KIT = Path(__file__).resolve().parents[1]
STUDENT_LINE = re.compile(r"^\[(\d+)/(\d+)\] ")
DATABASES = ("sqlite", "postgresql")


def log(message: str) -> None:
    print(f"coordinator_ceiling: {message}", file=sys.stderr, flush=True)


class RecordingPool:
    """The real pool, keeping each student's answer as it passes."""

    def __init__(self, pool):
        self.pool = pool
        self.recorded: dict[str, dict] = {}

    def answers(self, works):
        for work, answer in self.pool.answers(works):
            if isinstance(answer, dict):
                self.recorded[work.student] = answer
            yield work, answer

    def describe(self) -> str:
        return f"{self.pool.describe()}, recording"

    def close(self) -> None:
        self.pool.close()


class RecordedPool:
    """Answers each student at once with the answer recorded for the student whose submission
    theirs copies (`recorded_for`): the same cells, so the coordinator's checks accept it."""

    def __init__(self, recorded: dict[str, dict], recorded_for: Callable[[str], str]):
        self.recorded, self.recorded_for = recorded, recorded_for

    def answers(self, works):
        for work in works:
            yield work, {**self.recorded[self.recorded_for(work.student)], "student": work.student}

    def describe(self) -> str:
        return "answers recorded from real runs"

    def close(self) -> None:
        pass


@contextlib.contextmanager
def pool_made_by(wrap: Callable) -> Iterator[list]:
    """The coordinator's pools made by `wrap(the pool it would make)`; yields the pools made."""
    made = []
    original = coordinator.make_pool

    def make_pool(*args, **kwargs):
        made.append(wrap(original(*args, **kwargs)))
        return made[-1]

    coordinator.make_pool = make_pool
    try:
        yield made
    finally:
        coordinator.make_pool = original


@dataclass
class StudentClock:
    """Stands for the command's standard output: counts the students' progress lines as they are
    printed, with the time of each, and says every `every` of them on standard error."""

    every: int
    started: float = field(default_factory=time.monotonic)
    times: list[float] = field(default_factory=list)
    _partial: str = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if STUDENT_LINE.match(line.strip()):
                self.times.append(time.monotonic() - self.started)
                if len(self.times) % self.every == 0:
                    log(f"  {len(self.times)} graded in {self.times[-1]:.0f} s")
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@dataclass
class Ceiling:
    database: str
    students: int
    seconds: float
    cpu: float
    times: list[float]

    def rate(self, first: int, last: int) -> float:
        """Students per second from the `first`-th student's line to the `last`-th's."""
        span = self.times[last - 1] - self.times[first - 1]
        return (last - first) / span if span > 0 else float("inf")

    def row(self) -> list[str]:
        n = len(self.times)
        return [
            self.database,
            str(self.students),
            f"{self.seconds:.0f}",
            f"{self.cpu / self.students:.4f}",
            f"{self.times[0]:.1f}",
            f"{self.seconds - self.times[-1]:.1f}",
            f"{self.rate(1, n):.1f}",
        ]

    def tenths(self) -> list[str]:
        n = len(self.times)
        bounds = [max(1, n * tenth // 10) for tenth in range(11)]
        return [f"{self.rate(low, high):.1f}" for low, high in zip(bounds, bounds[1:]) if high > low]


def grade(course: Course, lab: str, every: int) -> tuple[float, float, list[float]]:
    """The kit's `autograde` command of the whole class, in this process: its seconds, its CPU and
    when each student's line came."""
    clock = StudentClock(every)
    cpu = time.process_time()
    with contextlib.redirect_stdout(clock):
        status = cli.main(["autograde", lab, "--course", str(course.root), "--force"])
    seconds, cpu = time.monotonic() - clock.started, time.process_time() - cpu
    if status != 0:
        raise RuntimeError(f"autograde of {course.root} exited with {status}")
    return seconds, cpu, clock.times


@dataclass
class Recording:
    answers: dict[str, dict]  # student -> their worker's answer
    scores: dict  # student -> grade cell -> score
    runs_cpu: float | None  # CPU seconds of the sandboxed runs per student, from the kit's cgroups
    seeds: dict[str, int]  # student -> the seed of their hidden cases


@contextlib.contextmanager
def seeds_of(seeds: dict[str, int], recorded_for: dict[str, str]) -> Iterator[None]:
    """Each simulated student judged on the cases of the recorded student whose answer they copy."""
    original = VerifyAnswers.seed
    VerifyAnswers.seed = lambda self, lab, student: seeds[recorded_for[student]]
    try:
        yield
    finally:
        VerifyAnswers.seed = original


def drawing_cost(lab: str, students: int = 200) -> float:
    """CPU seconds the grader spends per student on their own hidden cases: drawing them (each
    checked sound), the verdict runs' inputs, and the comparison with the references."""
    module = hidden_tests()[lab]
    spent = 0.0
    for seed in range(10**6, 10**6 + students):
        for exercise in module.EXERCISES.values():
            started = time.process_time()
            cases = exercise.cases_for(seed)
            verdict_payload(("",), exercise.function, cases, exercise.n_outputs)
            spent += time.process_time() - started
            outputs = run_in_process(exercise, getattr(module, f"reference_{exercise.function}"), seed)
            started = time.process_time()
            problems_with(exercise, outputs, seed)
            spent += time.process_time() - started
    return spent / students


def record(scratch: Path, lab: str, entries: list) -> Recording:
    """Each entry's answer from a real run on local workers (the lab's cache filled first), and
    the recorded class's cell scores."""
    course = kit_course(scratch / "recorded", lab)
    lab_cache.fill_from_master(course, lab, course.nbgrader_api().config)
    students = student_ids(len(entries))
    write_class(course, lab, entries, students)
    log(f"recording: {len(students)} students graded for real on local workers")
    charged = cgroups.cpu_seconds_charged()
    with pool_made_by(RecordingPool) as pools:
        grade(course, lab, every=10)
    after = cgroups.cpu_seconds_charged()
    recorded = pools[0].recorded
    missing = sorted(set(students) - set(recorded))
    if missing:
        raise RuntimeError(f"no recorded answer for {', '.join(missing)}: their work failed on the worker")
    runs_cpu = None if charged is None or after is None else (after - charged) / len(students)
    secret = course_secret(course.records)
    return Recording(recorded, kit_scores(course, lab), runs_cpu, {s: seed_for(secret, lab, s) for s in students})


@contextlib.contextmanager
def gradebook(database: str) -> Iterator[None]:
    """The course's own SQLite gradebook, or a new database on a PostgreSQL server of its own."""
    if database == "sqlite":
        yield
        return
    sys.path.insert(0, str(KIT / "tests"))
    from postgres_server import PostgresServer, binaries

    found = binaries()
    if found is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(found).start()
    os.environ[ENV_VAR] = server.database("ceiling")
    try:
        yield
    finally:
        os.environ.pop(ENV_VAR, None)
        server.stop()


def simulate(scratch: Path, lab: str, entries: list, students: int, database: str, recording: Recording) -> Ceiling:
    course = kit_course(scratch / f"class-{database}", lab)
    names = student_ids(students)
    log(f"{database}: writing {students} submissions")
    write_class(course, lab, entries, names)
    originals = student_ids(len(entries))  # the recorded student who submitted the same entry
    recorded_for = {name: originals[number % len(entries)] for number, name in enumerate(names)}
    log(f"{database}: grading {students} students on recorded answers")
    with (
        gradebook(database),
        pool_made_by(lambda _: RecordedPool(recording.answers, recorded_for.__getitem__)),
        seeds_of(recording.seeds, recorded_for),
    ):
        seconds, cpu, times = grade(course, lab, every=max(1, students // 20))
        scores = kit_scores(course, lab)
    wrong = [name for name in names if scores.get(name) != recording.scores[recorded_for[name]]]
    if len(times) != students or wrong:
        raise RuntimeError(f"{database}: {len(times)} students graded, {len(wrong)} scored unlike their recording")
    return Ceiling(database, students, seconds, cpu, times)


def report(ceilings: Iterable[Ceiling], runs_cpu: float | None, drawing: float) -> None:
    ceilings = list(ceilings)
    section(
        "The coordinator's ceiling: answers recorded from real runs, the real command, gradebook and reports",
        table(
            ["gradebook", "students", "seconds", "CPU s/student", "before first s", "after last s", "students/s"],
            [ceiling.row() for ceiling in ceilings],
        ),
    )
    section(
        "Students per second over each tenth of the class",
        table(["gradebook", *[f"{n}/10" for n in range(1, 11)]], [[c.database, *c.tenths()] for c in ceilings]),
    )
    print(
        f"drawing each student's own hidden cases, their inputs and their comparison: {drawing * 1000:.0f} ms"
        " of the grader's CPU per student (on 200 fresh seeds), on top of the CPU per student above"
    )
    for ceiling in ceilings if runs_cpu else ():
        print(
            f"{ceiling.database}: one coordinator keeps about {ceiling.rate(1, len(ceiling.times)) * runs_cpu:.0f}"
            f" workers busy (a student's sandboxed runs took {runs_cpu:.2f} s of CPU in the recording, the"
            " workers' start-up included: make bench's class part measures a class's steady cost)"
        )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=10_000, help="size of the simulated class (default 10000)")
    parser.add_argument("--databases", nargs="+", choices=DATABASES, default=list(DATABASES))
    parser.add_argument("--entries", type=int, help="record only the first N honest entries (default: all)")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    started = time.monotonic()
    entries = honest_entries(FIRST)[: args.entries]
    with tempfile.TemporaryDirectory(prefix="coordinator-ceiling-") as folder:
        scratch = Path(folder)
        recording = record(scratch, FIRST, entries)
        ceilings = [
            simulate(scratch, FIRST, entries, args.students, database, recording) for database in args.databases
        ]
    report(ceilings, recording.runs_cpu, drawing_cost(FIRST))
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

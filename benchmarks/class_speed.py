"""How fast a class is graded on this machine: stock nbgrader beside the kit, and how the cost grows.

Prints one plain-text table per part (progress goes to stderr, the figures to stdout):

  stock, kit  a class of honest submissions of the first lab (correct variants and typical
              mistakes from the corpus, cycled; students s001, s002, ...) graded by stock
              `nbgrader autograde` (a copy of the course with a stock configuration: nbgrader's
              own Execute in a kernel, no kit preprocessors), then by the kit with one worker
              and with every worker: seconds per submission, speed-up over stock, peak memory
              of the coordinator and of the largest process running submitted code (a stock
              kernel, a sandbox of the kit), the kit's CPU per submission (its coordinator's own
              process beside every sandboxed run, from the kit's cgroups, and the first as a
              share of the second), and the students whose per-cell scores differ from stock's.
  lab2        the same for the second lab with its network in the cache (filled from the
              master first, not timed), and the seconds of one student whose own split or
              windows force a new training, beside a cached one.
  floor       each master's cells in a warm interpreter with figures rendered, as the kit's
              notebook runner runs them, hidden tests left out: the second run's seconds.
  scaling     classes of 50, 100 and 200 (first lab, kit, every worker): the cost is linear.
  dask        the class graded through a Dask scheduler over TLS on loopback with 1 and 2 workers.

Honest means: no entry that misbehaves (loops forever, kills its kernel, floods its output) or
hard-codes published results. Every grading is the command line's (`python -m grading
autograde`, `nbgrader autograde`) in a process of its own, on scratch copies of the course in a
temporary folder removed at the end. Run from the kit's root (`make bench` runs the defaults):

    .venv/bin/python benchmarks/class_speed.py [--students N] [--labs LAB ...] [--only PART ...] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import inspect
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np
import psutil
from stock_config import stock_config  # beside this file

from grading.cells import without_hidden_tests
from grading.classwork import lab_cache
from grading.cli import copy_course, release
from grading.course import Course
from grading.execution.cluster_security import make_certificates, tls_options
from grading.execution.pool import default_workers
from grading.sample_class import BASE_ENTRY, CorpusEntry, corpus, released_notebook, submission_of, write_submission
from grading.sandbox import cgroups

KIT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
BIN = PYTHON.parent
FIRST, SECOND = "anomaly_detection", "timeseries_autoencoder"
PARTS = ("stock", "kit", "lab2", "floor", "scaling", "dask")
NOT_HONEST = frozenset({"endless_loop", "kills_kernel", "floods_output", "hardcoded_gaussian", "hardcoded_threshold"})
SANDBOX_PROGRAMS = ("server.py", "notebook_runner.py", "verdict_runner.py")
KERNEL_PROGRAMS = ("ipykernel_launcher",)
RUNNERS = KIT / "grading" / "sandbox" / "inside"
POLL_SECONDS = 0.25
Scores = dict[str, dict[str, float]]  # student -> grade cell -> score
STOCK_COURSE_ID = "stock-course"
STOCK_CONFIG = stock_config(f'c.CourseDirectory.course_id = "{STOCK_COURSE_ID}"')
STUDENT_LINE = re.compile(r"\] (\S+): [^(\n]*\(([\d.]+) s, ([\d.]+) s on ")
# Runs in a process of its own, in the lab's folder: the kit's notebook runner (argv[1]) serves
# the request on standard input twice, in the same interpreter; prints the seconds of each run.
FLOOR_PROGRAM = r"""
import io, json, os, sys, time
sys.path.insert(0, sys.argv[1])
import notebook_runner
request = json.loads(sys.stdin.read())
out = os.fdopen(os.dup(1), "w")
settings = {key: request[key] for key in ("cell_timeout", "max_output_chars") if key in request}
cells = [json.dumps({"source": cell["source"]}).encode() + b"\n" for cell in request["cells"]]
seconds, errors = [], []
for _ in range(2):
    replies = io.BytesIO()
    started = time.perf_counter()
    notebook_runner.kernel(settings, cells, replies)
    seconds.append(time.perf_counter() - started)
    errors = [o["ename"] for line in replies.getvalue().splitlines() for o in json.loads(line)["outputs"]
              if o.get("output_type") == "error"]
out.write(json.dumps({"seconds": seconds, "errors": errors}) + "\n")
out.flush()
"""


def log(message: str) -> None:
    """One progress line, as a step starts."""
    print(f"class_speed: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sizes:
    """Class sizes of the parts."""

    students: int = 100
    lab2: int = 20
    scaling: tuple[int, ...] = (50, 100, 200)
    dask: int = 40
    kit_workers: tuple[int | None, ...] = (1, None)  # the kit's runs of parts 1 and 2 (None: every worker)


QUICK = Sizes(students=3, lab2=2, scaling=(2, 4), dask=2, kit_workers=(None,))


@dataclass
class Run:
    """One grading command: wall seconds, peak memory (MB) and what it printed."""

    label: str
    students: int
    seconds: float
    coordinator_mb: float
    runner_mb: float
    output: str
    differing: int | None = None
    coordinator_cpu: float | None = None  # CPU seconds of the grading command's own process
    runs_cpu: float | None = None  # CPU seconds charged to the kit's cgroups: every sandboxed run

    @property
    def cpu_share(self) -> str:
        """The coordinator's CPU as a share of the runs' CPU."""
        if self.coordinator_cpu is None or not self.runs_cpu:
            return "-"
        return f"{100 * self.coordinator_cpu / self.runs_cpu:.1f}%"

    def cpu_per_student(self, seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / max(1, self.students):.3f}"

    @property
    def per_student(self) -> float:
        return self.seconds / max(1, self.students)


# ---------------------------------------------------------------------------------------------
# Memory and commands
# ---------------------------------------------------------------------------------------------


def peak_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a process so far, in MB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def code_runners(roots: Iterable[int], programs: tuple[str, ...]) -> list[int]:
    """Processes under `roots` that run submitted code (their command line names one of `programs`)."""
    found = []
    for root in roots:
        try:
            children = psutil.Process(root).children(recursive=True)
        except psutil.Error:
            continue
        for child in children:
            try:
                if any(program in part for part in child.cmdline() for program in programs):
                    found.append(child.pid)
            except psutil.Error:
                continue
    return found


@dataclass
class PeakMemory:
    """Polls, while a command runs, the peak memory of its process and of its largest code runner."""

    coordinator: int
    roots: list[int]
    programs: tuple[str, ...]
    coordinator_mb: float = 0.0
    runner_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.coordinator_mb = max(self.coordinator_mb, peak_mb(self.coordinator))
            for pid in code_runners([self.coordinator, *self.roots], self.programs):
                self.runner_mb = max(self.runner_mb, peak_mb(pid))

    @contextlib.contextmanager
    def watching(self) -> Iterator[PeakMemory]:
        thread = threading.Thread(target=self._poll, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


# Runs `python -m grading` with its arguments and, as it exits, writes the CPU seconds its own
# process used (every thread; not the sandboxes, which are counted by their cgroups) to the file
# named by $CLASS_SPEED_CPU.
COORDINATOR_PROGRAM = r"""
import atexit, os, resource, runpy, sys
def _report():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["CLASS_SPEED_CPU"], "w") as out:
        out.write(str(usage.ru_utime + usage.ru_stime))
atexit.register(_report)
runpy.run_module("grading", run_name="__main__", alter_sys=True)
"""


def environment(**extra: str) -> dict[str, str]:
    """This environment for a grading command: the Python environment's bin first (nbgrader runs
    `alembic` by name), the scratch course's own gradebook, no cache folder unless given."""
    env = {
        key: value for key, value in os.environ.items() if key not in ("COURSE_GRADEBOOK_URL", "COURSE_KIT_CACHE_DIR")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def timed(
    label: str,
    students: int,
    command: list[str],
    cwd: Path,
    programs: tuple[str, ...],
    env: dict[str, str] | None = None,
    roots: Iterable[int] = (),
) -> Run:
    """Run a grading command to its end, watching its memory; raises with its output if it fails."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env or environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    with PeakMemory(process.pid, list(roots), programs).watching() as memory:
        try:
            output, _ = process.communicate(timeout=1800 + 60 * students)
        except subprocess.TimeoutExpired:
            stop([process])
            raise
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"{label}: exit code {process.returncode}:\n{output[-3000:]}")
    return Run(label, students, seconds, memory.coordinator_mb, memory.runner_mb, output)


# ---------------------------------------------------------------------------------------------
# Classes and courses
# ---------------------------------------------------------------------------------------------


def honest_entries(lab: str) -> list[CorpusEntry]:
    """The lab's corpus without the entries that misbehave or hard-code published results."""
    return [entry for entry in corpus(lab) if entry.name not in NOT_HONEST]


def base_entry(lab: str) -> CorpusEntry:
    return next(entry for entry in corpus(lab) if entry.name == BASE_ENTRY)


def student_ids(count: int) -> list[str]:
    return [f"s{number:03d}" for number in range(1, count + 1)]


def write_class(course: Course, lab: str, entries: list[CorpusEntry], students: list[str]) -> None:
    """One submission per student, cycling through `entries`, built on the course's own release."""
    base, release_notebook = base_entry(lab), released_notebook(course, lab)
    for number, student in enumerate(students):
        write_submission(course, lab, student, submission_of(entries[number % len(entries)], base, release_notebook))


def kit_course(root: Path, lab: str) -> Course:
    """A scratch copy of the kit's course with the lab released."""
    course = copy_course(Course(), root)
    with contextlib.redirect_stdout(io.StringIO()):
        release(course, [lab])
    return course


def stock_course(root: Path, lab: str) -> Course:
    """A scratch copy of the course with a stock nbgrader configuration and its own release."""
    course = copy_course(Course(), root)
    (course.root / "nbgrader_config.py").write_text(STOCK_CONFIG)
    (course.root / "records").mkdir(exist_ok=True)
    subprocess.run(
        [str(BIN / "nbgrader"), "generate_assignment", lab, "--force"],
        cwd=course.root,
        check=True,
        capture_output=True,
        env=environment(),
    )
    return course


def cell_scores(db_url: str, course_id: str, lab: str) -> Scores:
    """student -> grade cell -> score, as a gradebook holds them."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gradebook:
        return {
            submission.student_id: {
                grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades
            }
            for submission in gradebook.assignment_submissions(lab)
        }


def kit_scores(course: Course, lab: str) -> Scores:
    api = course.nbgrader_api()
    return cell_scores(api.coursedir.db_url, api.coursedir.course_id, lab)


def stock_scores(course: Course, lab: str) -> Scores:
    return cell_scores(f"sqlite:///{course.root / 'records' / 'gradebook.db'}", STOCK_COURSE_ID, lab)


def differing(scores: Scores, reference: Scores, students: list[str]) -> int:
    """How many students have a grade cell scored otherwise than in `reference` (or none at all)."""
    return sum(1 for student in students if student not in scores or scores.get(student) != reference.get(student))


# ---------------------------------------------------------------------------------------------
# Grading commands
# ---------------------------------------------------------------------------------------------


def networks(cache: Path) -> set[str]:
    """The networks a cache folder holds."""
    return {path.name for path in cache.rglob("*.npz")} if cache.is_dir() else set()


def grade_stock(course: Course, lab: str, students: int, cache: Path | None = None) -> Run:
    """Stock `nbgrader autograde` of the whole class, one command, kernels as this user."""
    extra = {"COURSE_KIT_CACHE_DIR": str(cache)} if cache else {}
    return timed(
        "stock nbgrader",
        students,
        [str(BIN / "nbgrader"), "autograde", lab, "--force"],
        course.root,
        KERNEL_PROGRAMS,
        environment(**extra),
    )


def grade_kit(
    course: Course,
    lab: str,
    students: int,
    workers: int | None = None,
    scheduler: str | None = None,
    names: list[str] | None = None,
    roots: Iterable[int] = (),
    certificates: Path | None = None,
) -> Run:
    """`python -m grading autograde` of the class (or of the named students); on a cluster, with its certificates."""
    where = (
        ["--workers", str(workers)]
        if workers
        else ["--scheduler", scheduler, "--dir", str(certificates)]
        if scheduler
        else []
    )
    label = (
        f"kit, {workers} worker{'s' if workers > 1 else ''}"
        if workers
        else f"kit, Dask at {scheduler}"
        if scheduler
        else f"kit, {default_workers()} workers (all)"
    )
    command = [str(PYTHON), "-c", COORDINATOR_PROGRAM, "autograde", lab, *(names or [])]
    command += ["--course", str(course.root), "--force", *where]
    with tempfile.NamedTemporaryFile("r", prefix="class-speed-cpu-") as cpu:
        charged = cgroups.cpu_seconds_charged()
        run = timed(
            label, students, command, course.root.parent, SANDBOX_PROGRAMS, environment(CLASS_SPEED_CPU=cpu.name), roots
        )
        after = cgroups.cpu_seconds_charged()
        run.coordinator_cpu = float(cpu.read() or "nan")
    if charged is not None and after is not None and not scheduler:  # a cluster's runs are charged elsewhere
        run.runs_cpu = after - charged
    return run


def worker_seconds(output: str) -> dict[str, tuple[float, float]]:
    """student -> (seconds since the coordinator's previous student, seconds their code ran on a worker)."""
    return {match[1]: (float(match[2]), float(match[3])) for match in STUDENT_LINE.finditer(output)}


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table, the first column left-aligned and the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(widths[0]) if i == 0 else str(cell).rjust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def class_table(runs: list[Run], stock: Run | None) -> str:
    """Seconds, speed-up, memory and agreement of each grading of one class."""
    rows = []
    for run in runs:
        speedup = f"{stock.per_student / run.per_student:.2f}x" if stock and run is not stock else "-"
        agree = "reference" if run is stock else "n/a" if run.differing is None else str(run.differing)
        rows.append(
            [
                run.label,
                f"{run.seconds:.1f}",
                f"{run.per_student:.2f}",
                speedup,
                f"{run.coordinator_mb:.0f}",
                f"{run.runner_mb:.0f}",
                run.cpu_per_student(run.coordinator_cpu),
                run.cpu_per_student(run.runs_cpu),
                run.cpu_share,
                agree,
            ]
        )
    return table(
        [
            "grader",
            "seconds",
            "s/submission",
            "speed-up vs stock",
            "coordinator MB",
            "code runner MB",
            "coordinator CPU s/sub",
            "runs' CPU s/sub",
            "coordinator/runs",
            "students differing from stock",
        ],
        rows,
    )


def section(title: str, body: str) -> None:
    print(f"\n{title}\n{body}", flush=True)


# ---------------------------------------------------------------------------------------------
# Part 1: the first lab, stock and kit
# ---------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """One class graded by stock nbgrader (if asked) and by the kit (if asked)."""

    stock: Run | None = None
    kit: list[Run] = field(default_factory=list)
    kit_course: Course | None = None

    @property
    def runs(self) -> list[Run]:
        return ([self.stock] if self.stock else []) + self.kit


def stock_class(
    scratch: Path, lab: str, entries: list[CorpusEntry], students: list[str], cache: Path | None
) -> tuple[Run, Scores]:
    """The class graded by stock nbgrader (its kernels given a copy of `cache`), and its per-cell scores."""
    log(f"{lab}: stock course and class of {len(students)}")
    course = stock_course(scratch / f"stock-{lab}", lab)
    write_class(course, lab, entries, students)
    copy = scratch / f"stock-cache-{lab}"
    if cache:
        shutil.copytree(cache, copy)
    log(f"{lab}: stock nbgrader autograde of {len(students)} submissions")
    before = networks(copy)
    run = grade_stock(course, lab, len(students), copy if cache else None)
    if networks(copy) != before:
        run.label += f" (trained {len(networks(copy) - before)} network(s))"
    return run, stock_scores(course, lab)


def kit_class(
    scratch: Path,
    lab: str,
    entries: list[CorpusEntry],
    students: list[str],
    cache: Path | None,
    reference: Scores | None,
    worker_counts: tuple[int | None, ...],
) -> tuple[list[Run], Course]:
    """The class graded by the kit with each of `worker_counts` (None: every worker), its cache copied from `cache`."""
    course = kit_course(scratch / f"kit-{lab}", lab)
    write_class(course, lab, entries, students)
    if cache:
        shutil.copytree(cache, course.cache, dirs_exist_ok=True)
    runs = []
    for workers in worker_counts:
        log(f"{lab}: kit autograde of {len(students)} submissions with {workers or default_workers()} worker(s)")
        run = grade_kit(course, lab, len(students), workers=workers)
        if reference is not None:
            run.differing = differing(kit_scores(course, lab), reference, students)
        runs.append(run)
    return runs, course


def compare_class(
    scratch: Path,
    lab: str,
    entries: list[CorpusEntry],
    students: list[str],
    parts: set[str],
    worker_counts: tuple[int | None, ...],
    cache: Path | None = None,
) -> Comparison:
    """Grade one class by stock nbgrader and by the kit, as `parts` asks."""
    comparison, reference = Comparison(), None
    if "stock" in parts:
        comparison.stock, reference = stock_class(scratch, lab, entries, students, cache)
    if "kit" in parts:
        comparison.kit, comparison.kit_course = kit_class(
            scratch, lab, entries, students, cache, reference, worker_counts
        )
    return comparison


MEMORY_NOTE = (
    "  peak RSS: coordinator = the grading command's process; code runner = the largest process "
    "running submitted code (stock: its kernel; the kit: a sandbox's)\n"
    "  CPU: coordinator = the grading command's own process, start-up and reports included; runs = "
    "every sandboxed run (the master's, the notebooks', the verdicts'), from the kit's cgroups"
)


def part_first_lab(scratch: Path, students: int, parts: set[str], worker_counts: tuple[int | None, ...]) -> Run | None:
    """Part 1; returns the kit's every-worker run (the scaling part reuses it)."""
    entries = honest_entries(FIRST)
    comparison = compare_class(scratch, FIRST, entries, student_ids(students), parts, worker_counts)
    section(
        f"1. {FIRST}: a class of {students} honest submissions ({len(entries)} corpus entries, cycled)",
        class_table(comparison.runs, comparison.stock) + "\n" + MEMORY_NOTE,
    )
    return comparison.kit[-1] if comparison.kit else None


# ---------------------------------------------------------------------------------------------
# Part 2: the second lab, its network cached, and one student who trains again
# ---------------------------------------------------------------------------------------------


def lab_module(folder: Path) -> ModuleType:
    """The lab's own `utils.py`, loaded under a name of its own (the kit has a `utils` too)."""
    spec = importlib.util.spec_from_file_location(f"lab_utils_{folder.name}", folder / "utils.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def training_windows(utils: ModuleType, entry: CorpusEntry, base: CorpusEntry) -> np.ndarray | None:
    """The windows a submission trains its network on, as the notebook makes them from its answers
    (None if its answers cannot make them)."""
    cells, namespace = {**base.cells, **entry.cells}, {}
    try:
        exec(cells["split_and_normalise"], namespace)  # the kit's own corpus
        exec(cells["make_windows"], namespace)
        train, _ = namespace["split_and_normalise"](utils.make_cpu_signal(), utils.TEST_FRACTION)
        return np.asarray(namespace["make_windows"](train, utils.WINDOW, 1))
    except Exception:  # noqa: BLE001 - such an answer never reaches the training
        return None


def windows_key(windows: np.ndarray) -> str:
    """What the cache tells apart: the windows rounded to 6 digits, and their shape."""
    return hashlib.sha256(
        np.ascontiguousarray(np.round(windows, 6)).tobytes() + str(windows.shape).encode()
    ).hexdigest()


def in_cache(utils: ModuleType, windows: np.ndarray, cache: Path) -> bool:
    """Whether `cache` holds a network for these windows, looked up as `train_autoencoder` does."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(utils.train_autoencoder).parameters.items()
        if name not in ("windows", "cache_dir")
    }
    settings = {**defaults, "hidden_layers": list(defaults["hidden_layers"])}
    return utils._cache_file(windows, settings, cache / SECOND).is_file()


def split_by_training(course: Course) -> tuple[list[CorpusEntry], list[CorpusEntry]]:
    """Honest entries of the second lab that train on the master's windows, and those that do not."""
    utils = lab_module(course.releases / SECOND)
    base = base_entry(SECOND)
    reference = windows_key(training_windows(utils, base, base))
    same, other = [], []
    for entry in honest_entries(SECOND):
        windows = training_windows(utils, entry, base)
        if windows is not None:
            (same if windows_key(windows) == reference else other).append(entry)
    return same, other


def fill_cache(scratch: Path) -> tuple[Course, float]:
    """A course whose cache is filled from the second lab's master (as the kit does first), and the seconds."""
    course = kit_course(scratch / "cache-fill", SECOND)
    started = time.monotonic()
    lab_cache.fill_from_master(course, SECOND, course.nbgrader_api().config)
    return course, time.monotonic() - started


def retraining(kit: Course, cache: Path, trains: CorpusEntry) -> list[list[str]]:
    """Grade, with one worker, a warm-up student, a cached one and one whose windows differ; their rows."""
    utils = lab_module(kit.releases / SECOND)
    base = base_entry(SECOND)
    cached_hit = in_cache(utils, training_windows(utils, base, base), cache)
    retrain_hit = in_cache(utils, training_windows(utils, trains, base), cache)
    students = {"w001": base, "c001": base, "t001": trains}
    release_notebook = released_notebook(kit, SECOND)
    for student, entry in students.items():
        write_submission(kit, SECOND, student, submission_of(entry, base, release_notebook))
    log(f"{SECOND}: a cached student and one whose windows differ ({trains.name}), one worker")
    run = grade_kit(kit, SECOND, 3, workers=1, names=list(students))
    seconds = worker_seconds(run.output)
    cached, trained = (seconds.get(student, (0.0, float("nan")))[1] for student in ("c001", "t001"))
    return [
        [f"cached network ({base.name})", f"{cached:.2f}", "yes" if cached_hit else "no"],
        [f"trains again ({trains.name})", f"{trained:.2f}", "yes" if retrain_hit else "no"],
        ["ratio", f"{trained / cached:.1f}x" if cached else "-", ""],
    ]


def part_second_lab(scratch: Path, students: int, worker_counts: tuple[int | None, ...]) -> None:
    log(f"{SECOND}: filling the network cache from the master")
    filled, fill_seconds = fill_cache(scratch)
    log(f"{SECOND}: which honest answers train on the master's windows")
    same, other = split_by_training(filled)
    names = student_ids(students)
    comparison = compare_class(scratch, SECOND, same, names, {"stock", "kit"}, worker_counts, cache=filled.cache)
    section(
        f"2. {SECOND}: a class of {students} honest submissions that train on the master's windows "
        f"({len(same)} corpus entries, cycled), the network cached (filled from the master first in "
        f"{fill_seconds:.0f} s, not counted; stock kernels read a copy of the same cache)",
        class_table(comparison.runs, comparison.stock) + "\n" + MEMORY_NOTE,
    )
    kit = comparison.kit_course
    if kit is None or not other:
        return
    rows = retraining(kit, kit.cache, other[0])
    print(
        f"  a student whose windows force a new training (the cache is keyed by the training windows; "
        f"{len(other)} honest entries do: {', '.join(entry.name for entry in other)}):"
    )
    print(table(["student", "s on the worker", "network in cache"], rows), flush=True)


# ---------------------------------------------------------------------------------------------
# Part 3: the floor
# ---------------------------------------------------------------------------------------------


def floor_seconds(scratch: Path, lab: str) -> tuple[float, float, list[str]]:
    """The master's cells run twice in one warm interpreter (the kit's notebook runner, figures
    rendered inline, hidden tests removed): seconds of the first and the second run, errors."""
    course = Course(scratch / "floor") if (scratch / "floor").exists() else copy_course(Course(), scratch / "floor")
    folder = course.solutions / lab
    master = nbformat.read(folder / f"{lab}.ipynb", as_version=4)
    cells = [
        {"index": index, "source": without_hidden_tests(cell.source)}
        for index, cell in enumerate(master.cells)
        if cell.cell_type == "code"
    ]
    request = json.dumps({"cells": cells, "cell_timeout": 600, "max_output_chars": 100_000})
    env = environment(COURSE_KIT_CACHE_DIR=str(scratch / "floor-cache"), MPLBACKEND="Agg")
    done = subprocess.run(
        [str(PYTHON), "-c", FLOOR_PROGRAM, str(RUNNERS)],
        input=request,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"floor of {lab}: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"][0], result["seconds"][1], result["errors"]


def part_floor(scratch: Path, labs: list[str]) -> None:
    rows = []
    for lab in labs:
        log(f"floor: the master of {lab}, twice in one interpreter")
        first, second, errors = floor_seconds(scratch, lab)
        rows.append([lab, f"{first:.2f}", f"{second:.2f}", ", ".join(errors) or "none"])
    section(
        "3. The floor: each master's cells in a warm interpreter, figures rendered, hidden tests left out",
        table(["lab", "first run s", "warm run s (floor)", "errors"], rows),
    )


# ---------------------------------------------------------------------------------------------
# Part 4: scaling
# ---------------------------------------------------------------------------------------------


def linear_fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares fixed seconds and seconds per submission."""
    slope, intercept = np.polyfit([n for n, _ in points], [s for _, s in points], 1)
    return float(intercept), float(slope)


def part_scaling(scratch: Path, sizes: tuple[int, ...], known: Run | None) -> None:
    entries = honest_entries(FIRST)
    rows, points = [], []
    for size in sizes:
        if known is not None and known.students == size:
            run = known
        else:
            course = kit_course(scratch / f"scaling-{size}", FIRST)
            write_class(course, FIRST, entries, student_ids(size))
            log(f"scaling: kit autograde of {size} submissions with {default_workers()} worker(s)")
            run = grade_kit(course, FIRST, size)
            shutil.rmtree(course.root, ignore_errors=True)
        points.append((size, run.seconds))
        rows.append([str(size), f"{run.seconds:.1f}", f"{run.per_student:.2f}"])
    body = table(["students", "seconds", "s/submission"], rows)
    if len(points) >= 2:
        fixed, each = linear_fit(points)
        body += f"\n  least-squares line: {fixed:.1f} s fixed + {each:.2f} s per submission"
    section(f"4. Scaling: {FIRST}, the kit with {default_workers()} worker(s)", body)


# ---------------------------------------------------------------------------------------------
# Part 5: Dask on loopback
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(processes: list[subprocess.Popen]) -> None:
    """End the processes this benchmark started, each by its own id."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int) -> Iterator[tuple[str, list[int], Path]]:
    """A `dask scheduler` and `workers` one-thread `dask worker` processes on 127.0.0.1 over TLS, as
    the course runs them: address, worker pids, the certificates' folder."""
    from distributed import Client

    from grading.execution.cluster_security import coordinator_security

    folder.mkdir(parents=True, exist_ok=True)
    certificates = folder / "certificates"
    make_certificates(certificates, force=True)
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    dask = str(BIN / "dask")
    with open(folder / "cluster.log", "w") as log_file:
        started = [
            subprocess.Popen(
                [
                    dask,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-dashboard",
                    *tls_options(certificates, "scheduler"),
                ],
                cwd=folder,
                env=environment(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        ]
        try:
            started += [
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--local-directory",
                        str(folder / f"worker-{number}"),
                        *tls_options(certificates, "worker"),
                    ],
                    cwd=folder,
                    env=environment(),
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
                for number in range(1, workers + 1)
            ]
            with Client(address, timeout=60, security=coordinator_security(certificates)) as client:
                client.wait_for_workers(workers, timeout=120)
            yield address, [process.pid for process in started[1:]], certificates
        finally:
            stop(started[1:] + started[:1])


def part_dask(scratch: Path, students: int) -> None:
    entries = honest_entries(FIRST)
    course = kit_course(scratch / "dask", FIRST)
    write_class(course, FIRST, entries, student_ids(students))
    log("dask: filling the lab's cache from the master first (not timed), as for both runs alike")
    lab_cache.fill_from_master(course, FIRST, course.nbgrader_api().config)
    rows, one = [], None
    for workers in (1, 2):
        log(f"dask: a scheduler and {workers} worker(s) on loopback; kit autograde of {students} submissions")
        with dask_cluster(scratch / f"dask-cluster-{workers}", workers) as (address, pids, certificates):
            run = grade_kit(course, FIRST, students, scheduler=address, roots=pids, certificates=certificates)
        one = one or run
        rows.append(
            [
                str(workers),
                f"{run.seconds:.1f}",
                f"{run.per_student:.2f}",
                f"{one.seconds / run.seconds:.2f}x",
                f"{run.coordinator_mb:.0f}",
                f"{run.runner_mb:.0f}",
            ]
        )
    section(
        f"5. Dask on loopback: {FIRST}, a class of {students}, `--scheduler` with one-thread workers",
        table(["dask workers", "seconds", "s/submission", "speed-up", "coordinator MB", "code runner MB"], rows),
    )


# ---------------------------------------------------------------------------------------------


def attempt(part: str, failed: list[str], measure: Callable[..., Any], *args: Any) -> Any:
    """Run one part; a part that fails is reported in its place and the others still run."""
    try:
        return measure(*args)
    except Exception as error:  # noqa: BLE001 - the other parts' figures are still worth printing
        failed.append(part)
        section(f"{part}. FAILED: {type(error).__name__}", "  " + str(error).strip().replace("\n", "\n  ")[-3000:])
        return None


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, help=f"class of the first lab (default {Sizes.students})")
    parser.add_argument("--lab2-students", type=int, help=f"class of the second lab (default {Sizes.lab2})")
    parser.add_argument("--scaling", type=int, nargs="+", help="class sizes of the scaling part (default 50 100 200)")
    parser.add_argument("--dask-students", type=int, help=f"class of the Dask part (default {Sizes.dask})")
    parser.add_argument(
        "--labs",
        nargs="+",
        choices=[FIRST, SECOND],
        default=[FIRST, SECOND],
        help="labs measured (default both): stock, kit, scaling and dask need the first, lab2 the second",
    )
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny sizes, for a smoke run (first lab {QUICK.students}, second lab {QUICK.lab2}, the kit with every worker only, "
        f"scaling {'/'.join(map(str, QUICK.scaling))}, dask {QUICK.dask})",
    )
    return parser.parse_args()


def sizes_of(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    chosen = {
        "students": args.students,
        "lab2": args.lab2_students,
        "dask": args.dask_students,
        "scaling": tuple(args.scaling) if args.scaling else None,
    }
    return replace(sizes, **{key: value for key, value in chosen.items() if value})


def main() -> None:
    args = arguments()
    sizes, parts = sizes_of(args), set(args.only or PARTS)
    os.environ.pop("COURSE_GRADEBOOK_URL", None)  # scratch courses keep their own gradebooks
    print(
        f"class_speed on {socket.gethostname()}: {os.cpu_count()} cores ({default_workers()} usable); "
        f"sizes: first lab {sizes.students}, second lab {sizes.lab2}, scaling {'/'.join(map(str, sizes.scaling))}, "
        f"dask {sizes.dask}; parts: {', '.join(part for part in PARTS if part in parts)}",
        flush=True,
    )
    scratch = Path(tempfile.mkdtemp(prefix="class-speed-"))
    started, failed = time.monotonic(), []
    try:
        known = (
            attempt("1", failed, part_first_lab, scratch, sizes.students, parts, sizes.kit_workers)
            if FIRST in args.labs and parts & {"stock", "kit"}
            else None
        )
        if SECOND in args.labs and "lab2" in parts:
            attempt("2", failed, part_second_lab, scratch, sizes.lab2, sizes.kit_workers)
        if "floor" in parts:
            attempt("3", failed, part_floor, scratch, args.labs)
        if FIRST in args.labs and "scaling" in parts:
            attempt("4", failed, part_scaling, scratch, sizes.scaling, known)
        if FIRST in args.labs and "dask" in parts:
            attempt("5", failed, part_dask, scratch, sizes.dask)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"done in {time.monotonic() - started:.0f} s" + (f"; part(s) {', '.join(failed)} failed" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

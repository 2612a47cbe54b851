"""Grading on submission: seconds from a student's hand-in to their feedback, when a class hands in
within one minute.

For each class size (10 and 30 by default), on a scratch copy of the course with the lab's cache
filled from its master first (not timed):

- the grading service runs as the hub runs it (`python -m grading serve`, a process of its own,
  every core), on an exchange in a temporary folder;
- that many students, each a real local account (`kitb-s01`, ... made here and removed at the
  end), hand in the first lab at random moments within one minute: a solved lab or a typical
  mistake from the corpus, left in the exchange's inbound as nbgrader's submit leaves it, owned by
  the student's account;
- each hand-in's feedback time is when its page appears where *Fetch Feedback* looks for it.

Prints, per class size, the median, the 95th percentile and the longest feedback time, and the
seconds until the last page. Needs root (the accounts) and bubblewrap. Run from the kit's root
(`make bench` runs it):

    .venv/bin/python benchmarks/feedback_time.py [--students 10 30] [--window 60]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.utils import notebook_hash

from grading.classwork.lab_cache import fill_from_master
from grading.cli import copy_course
from grading.course import Course
from grading.hub.accounts import ensure_account
from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of

LAB = "anomaly_detection"
COURSE_ID = "anomaly-detection-course"  # nbgrader_config.py's
ENTRIES = ["correct_vectorised", "grid_one_short", "correct_loops", "sample_variance"]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def answers(course: Course) -> list[str]:
    entries = {entry.name: entry for entry in corpus(LAB)}
    release = released_notebook(course, LAB)
    chosen = [name for name in ENTRIES if name in entries] or [BASE_ENTRY]
    return [nbformat.writes(submission_of(entries[name], entries[BASE_ENTRY], release)) for name in chosen]


def hand_in(inbound: Path, staging: Path, account, notebook: str) -> str:
    """The submission as nbgrader's submit leaves it, owned by the student's account (written
    aside, then put in the inbound at once); the name of its feedback page."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime())
    name = f"{account.pw_name}+{LAB}+{stamp}+{os.urandom(6).hex()}"
    partial = staging / name
    partial.mkdir()
    (partial / f"{LAB}.ipynb").write_text(notebook)
    (partial / "timestamp.txt").write_text(stamp)
    secret = os.urandom(16).hex()
    (partial / "submission_secret.txt").write_text(secret)
    for path in (partial, *partial.iterdir()):
        os.chown(path, account.pw_uid, account.pw_gid)
    partial.rename(inbound / name)
    return f"{notebook_hash(secret=secret, notebook_id=LAB)}.html"


def one_class(template: Course, students: int, window: float, scratch: Path) -> dict[str, float]:
    course = copy_course(template, scratch / f"course-{students}")
    exchange = scratch / f"exchange-{students}"
    inbound, staging = exchange / COURSE_ID / "inbound", scratch / f"staging-{students}"
    inbound.mkdir(parents=True)
    staging.mkdir()
    accounts = [ensure_account(f"kitb-s{i:02d}") for i in range(1, students + 1)]
    notebooks = answers(course)
    environment = {**os.environ, "COURSE_EXCHANGE_ROOT": str(exchange)}
    log = open(scratch / f"serve-{students}.log", "w")
    service = subprocess.Popen(
        [sys.executable, "-m", "grading", "serve", LAB, "--course", str(course.root)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        while "serve: grading" not in (scratch / f"serve-{students}.log").read_text():
            time.sleep(0.2)
        moments = sorted(random.uniform(0, window) for _ in accounts)
        started, handed = time.monotonic(), {}
        pending: dict[str, float] = {}
        for i, (account, moment) in enumerate(zip(accounts, moments)):
            while time.monotonic() - started < moment:
                collect(exchange, course, handed, pending)
                time.sleep(0.05)
            page = hand_in(inbound, staging, account, notebooks[i % len(notebooks)])
            handed[page], pending[page] = time.monotonic(), 0.0
        deadline = time.monotonic() + 600
        while any(value == 0.0 for value in pending.values()) and time.monotonic() < deadline:
            collect(exchange, course, handed, pending)
            time.sleep(0.1)
        missing = sum(value == 0.0 for value in pending.values())
        if missing:
            raise SystemExit(f"{missing} of {students} pages never came (log: {scratch / f'serve-{students}.log'})")
        return {"last": time.monotonic() - started, **{page: seconds for page, seconds in pending.items()}}
    finally:
        service.terminate()
        service.wait(timeout=120)
        log.close()


def collect(exchange: Path, course: Course, handed: dict[str, float], pending: dict[str, float]) -> None:
    folder = exchange / COURSE_ID / "feedback"
    for page, seconds in pending.items():
        if seconds == 0.0 and (folder / page).is_file():
            pending[page] = time.monotonic() - handed[page]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the class hands in")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("feedback_time: the students are local accounts: run it as root")
    random.seed(1)
    scratch = Path(tempfile.mkdtemp(prefix="kit-feedback-time-"))
    try:
        template = copy_course(Course(), scratch / "template")
        say("feedback_time: filling the lab's cache from its master (not timed)")
        fill_from_master(template, LAB, template.nbgrader_api().config)
        rows = []
        for students in args.students:
            say(f"feedback_time: {students} students hand in within {args.window:.0f} s")
            measured = one_class(template, students, args.window, scratch)
            last = measured.pop("last")
            times = list(measured.values())
            rows.append((students, statistics.median(times), percentile(times, 0.95), max(times), last))
        print(f"{'students':>8}  {'median':>7}  {'95th pct':>8}  {'longest':>7}  {'last page at':>12}")
        for students, median, p95, longest, last in rows:
            print(f"{students:>8}  {median:>6.1f}s  {p95:>7.1f}s  {longest:>6.1f}s  {last:>11.1f}s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for account in [f"kitb-s{i:02d}" for i in range(1, max(args.students) + 1)]:
            subprocess.run(["userdel", "--remove", account], check=False, capture_output=True)


if __name__ == "__main__":
    main()

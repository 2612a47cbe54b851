"""What the sandbox costs: each defence of a run, a run, and seconds per submission of a class.

Prints, in milliseconds (median): each step that gives a run a world of its own, timed alone in
a child process of this one (`grading/sandbox/inside/isolation.py`: new namespaces, fresh
folders, a /proc of its own, the unprivileged user with the seccomp filter, and the run's cgroup
made ready, read and emptied); then a verdict run served by a warm sandbox (every defence
together) and one in a sandbox of its own (`call_in_fresh_process`), each beside the same run
without a sandbox; and the autograding of a class of the first lab built from the correctness
corpus, with and without a sandbox, each in its own fresh scratch course. Checks that both class
runs give every student the same score. Progress goes to stderr, the table to stdout. Run from
the kit's root, as root (about 2 minutes on 2 cores):

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
from collections.abc import Callable
from pathlib import Path

import numpy as np

from grading.classwork.autograde_class import autograde_class
from grading.cli import copy_course, release
from grading.course import Course
from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of, write_submission
from grading.sandbox import cgroups
from grading.sandbox.launch import INSIDE, Mounts, Sandbox
from grading.sandbox.seccomp import filter_program
from grading.sandbox.warm import WarmSandbox
from grading.verdicts.checks import Case
from grading.verdicts.isolated_call import VERDICT_WORK, call_in_fresh_process, receive_verdict, verdict_payload

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


def in_child(step: Callable[[], None]) -> None:
    """Run `step` in a forked child (as the run server's fork would) and wait for it."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            step()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(f"a defence step failed in its child (status {status})")


def isolation_module():
    sys.path.insert(0, str(INSIDE))
    import isolation  # noqa: E402  (the programs beside the run server)

    return isolation


def defence_costs(repeats: int) -> dict[str, float]:
    """Median ms of each defence of a run, timed alone in a child process."""
    isolation = isolation_module()
    program = filter_program()
    folder = tempfile.mkdtemp(prefix="sandbox-cost-")
    folders = [{"path": folder, "bytes": 1 << 20, "mode": "0700"}]

    def fresh_folders() -> None:
        isolation.new_namespaces()
        isolation.fresh_folders(folders, 65534)

    def own_proc() -> None:
        isolation.new_namespaces()
        if os.fork() == 0:
            isolation.mount_proc()
            os._exit(0)
        os.wait()

    steps = {
        "new namespaces (IPC, mount, net, UTS, cgroup, PID)": isolation.new_namespaces,
        "fresh private folders (4 per run; 1 timed)": fresh_folders,
        "a /proc of its own (with its namespaces)": own_proc,
        "unprivileged user, no capabilities, seccomp": lambda: isolation.drop_privileges(65534, program),
    }
    costs = {}
    for name, step in steps.items():
        log(f"defence: {name}: {repeats} runs")
        costs[name] = median_ms(lambda step=step: in_child(step), repeats)
    costs["process in a child alone (subtracted above)"] = median_ms(lambda: in_child(lambda: None), repeats)
    try:
        slot = cgroups.slot(f"cost-{os.getpid()}")
    except cgroups.CgroupsUnavailable as error:
        log(f"defence: no cgroup here ({error})")
    else:
        limits = cgroups.RunLimits(4096 << 20, 128, 1.0)
        costs["the run's cgroup: limits set, usage read, emptied"] = median_ms(
            lambda: (slot.start_run(limits), slot.usage(), slot.kill_run()), repeats
        )
        slot.close()
    os.rmdir(folder)
    return costs


def verdict_run(settings: Sandbox) -> None:
    """One verdict run of a tiny function on one small case."""
    case = Case("tiny", (np.arange(3.0),), "three numbers")
    results = call_in_fresh_process(["def plus_one(x):\n    return x + 1\n"], "plus_one", [case], 1, 30, settings)
    assert np.array_equal(results[0][0], np.arange(1.0, 4.0)), results


def warm_verdict_run(sandbox: WarmSandbox) -> None:
    """One verdict run of a tiny function on one small case, served by an already started sandbox."""
    case = Case("tiny", (np.arange(3.0),), "three numbers")
    run = sandbox.run("verdict", verdict_payload(["def plus_one(x):\n    return x + 1\n"], "plus_one", [case], 1))
    try:
        raw = receive_verdict(run, 30)
    finally:
        run.close()
    assert "report" in raw, raw


def run_costs(repeats: int) -> dict[str, dict[str, float]]:
    """Median ms per run kind ("warm verdict run", "cold verdict run") and mode."""
    costs: dict[str, dict[str, float]] = {}
    for mode, overrides in MODES.items():
        settings = Sandbox(unsafe_no_sandbox=bool(overrides))
        sandbox = WarmSandbox(settings, Mounts(work=VERDICT_WORK), {})
        try:
            log(f"runs: warm verdict run, {mode}: {repeats} runs")
            costs.setdefault("warm verdict run", {})[mode] = median_ms(
                lambda sandbox=sandbox: warm_verdict_run(sandbox), repeats
            )
        finally:
            sandbox.stop()
        log(f"runs: cold verdict run, {mode}: {repeats} runs")
        costs.setdefault("cold verdict run", {})[mode] = median_ms(
            lambda settings=settings: verdict_run(settings), repeats
        )
    return costs


def class_submissions(course: Course, students: int) -> dict[str, object]:
    """Up to `students` notebooks: the corpus's correct entries, then a few of its typical mistakes."""
    entries = {entry.name: entry for entry in corpus(LAB)}
    base, release_notebook = entries[BASE_ENTRY], released_notebook(course, LAB)
    correct = [name for name in entries if name.startswith("correct_")]
    names = correct[: max(0, students - len(MISTAKES))] + list(MISTAKES)
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

    defences = defence_costs(args.repeats)
    costs = run_costs(args.repeats)
    with tempfile.TemporaryDirectory(prefix="sandbox-cost-") as folder:
        scratch = Path(folder)
        source = copy_course(Course(), scratch / "source")
        classes = {mode: grade_class(source, scratch, mode, args.students) for mode in MODES}
    (with_seconds, with_scores), (without_seconds, without_scores) = classes.values()
    n = len(with_scores)

    print(f"Sandbox cost on {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'each defence of a run (ms, median)':<56} {'ms':>6}")
    for name, ms in defences.items():
        print(f"{name:<56} {ms:>6.1f}")
    print()
    print(f"{'what':<38} {'sandbox':>10} {'no sandbox':>11} {'ratio':>6}")
    for kind, by_mode in costs.items():
        on, off = by_mode["sandbox"], by_mode["no sandbox"]
        print(f"{kind + ' (ms, median)':<38} {on:>10.0f} {off:>11.0f} {on / off:>6.2f}")
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

"""Replaying graded verdicts: `python -m grading explain LAB STUDENT` and `autograde LAB --dry-run`.

A replay judges a student's answer cells again as the grading did: the submission through
nbgrader's first pass (in memory), each exercise's verdict run in a fresh sandbox on the cases of
the student's seed, compared with the current references. It writes nothing: no gradebook, no
journal, no record. `explain` replays one student with the seed their record holds and says
whether every verdict comes out as recorded, and, beside it, which of the grading's inputs
(submission, hidden tests, master, kit, environment, limits) have changed since. `--dry-run`
replays every student last graded and prints whose per-exercise scores the current hidden tests
and masters would change, and on which kind of case.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import nbformat

from grading.classwork.autograde_student import forget_ahead, sanitize_ahead
from grading.classwork.intake import refusal
from grading.classwork.journal import submission_digest
from grading.classwork.provenance import Provenance, environment_list, grading_context
from grading.course import Course
from grading.errors import CommandError
from grading.preprocessors.verify_answers import VerifyAnswers, run_verdict, verdict_of
from grading.sandbox.launch import Sandbox
from grading.sandbox.warm import check_available
from grading.text import printable


def replayed(api, course: Course, lab: str, seeds: dict[str, int]) -> dict[str, dict[str, dict] | str]:
    """student -> grade id -> verdict, judged again on the cases of the given seed; or why the
    student's submission could not be judged."""
    verify, sandbox = VerifyAnswers(config=api.config), Sandbox(config=api.config)
    check_available(sandbox)
    found: dict[str, dict[str, dict] | str] = {}
    jobs = []
    for student, seed in seeds.items():
        why = refusal(course.submission(lab, student).parent, f"{lab}.ipynb", within=course.submitted)
        if why is not None:
            found[student] = f"not graded: {printable(why)}"
            continue
        try:
            notebook = sanitize_ahead(api, lab, student)
        except Exception as error:  # noqa: BLE001 - a submission nbgrader cannot read is judged nowhere
            found[student] = f"not graded: {type(error).__name__}"
            continue
        finally:
            forget_ahead(lab, student)
        found[student] = {}
        jobs += [
            (student, exercise, seed, verify.job(exercise, answer, seed))
            for _, exercise, answer in verify.judged(notebook, lab)
        ]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        raws = list(pool.map(lambda job: run_verdict(job[3], sandbox), jobs))
    for (student, exercise, seed, _), raw in zip(jobs, raws):
        found[student][exercise.grade_id] = verdict_of(exercise, raw, seed)
    return found


def exercise_points(course: Course, lab: str) -> dict[str, float]:
    """grade id -> points, from the master's grade cells."""
    master = nbformat.read(course.solutions / lab / f"{lab}.ipynb", as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"].get("points", 0))
        for cell in master.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def _passed(verdict: dict) -> str:
    problems = verdict["problems"]
    return "passed" if not problems else f"failed {len(problems)} check(s), first: {printable(problems[0], 100)}"


def _same(label: str, recorded, now, detail: str = "") -> str:
    word = "same" if recorded == now else f"changed since (was {str(recorded)[:12]}, now {str(now)[:12]})"
    return f"  {label:<14}{word}{detail}"


def _environment_changes(course: Course, recorded: str) -> str:
    path = course.records / "provenance" / "environments" / f"{recorded}.txt"
    if not path.is_file():
        return ""
    before, now = set(path.read_text().split()), set(environment_list())
    changed = sorted({line.split("==")[0] for line in before ^ now})
    return f": {', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''}" if changed else ""


def explain(api, course: Course, lab: str, student: str) -> list[str]:
    """What `student`'s last grade of `lab` was made from, and whether its verdicts reproduce."""
    record = Provenance(course, lab).latest().get(student)
    if record is None:
        raise CommandError(
            f"no grading of {student} in {lab} is recorded: run python -m grading autograde {lab} {student}"
        )
    now = grading_context(api, course, lab)
    lines = [
        f"explain: {student} in {lab}, graded {record['graded_at']}: {record['score']:g}/{record['max_score']:g}",
        _same("submission", record["submission"], submission_digest(course, lab, student)),
        f"  {'seed':<14}{record['seed']}"
        + (
            " (the course's secret still gives it)"
            if record["seed"] == VerifyAnswers(config=api.config).seed(lab, student)
            else " (the course's secret now gives another)"
        ),
        _same("hidden tests", record["hidden_tests"], now["hidden_tests"]),
        _same("master", record["master"], now["master"]),
        _same("kit", record["kit"], now["kit"], f" (version {now['kit']['version']})"),
        _same(
            "environment",
            record["environment"],
            now["environment"],
            _environment_changes(course, record["environment"]) if record["environment"] != now["environment"] else "",
        ),
        _same("limits", record["limits"], now["limits"]),
    ]
    if record["seed"] is None or not record["verdicts"]:
        return [*lines, f"{student}: no verdict was recorded (the submission was not graded), nothing to replay"]
    again = replayed(api, course, lab, {student: record["seed"]})[student]
    if isinstance(again, str):
        return [*lines, f"{student}: the submission cannot be replayed ({again})"]
    different = []
    for grade_id, verdict in record["verdicts"].items():
        replay = again.get(grade_id, {"problems": ["not judged in the replay"], "fixed": {}})
        same = replay["problems"] == verdict["problems"] and replay["fixed"] == verdict["fixed"]
        different += [] if same else [grade_id]
        lines.append(
            f"  {grade_id}: recorded {_passed(verdict)}; replayed {_passed(replay)}: {'reproduces' if same else 'DIFFERS'}"
        )
    total = len(record["verdicts"])
    if different:
        return [
            *lines,
            f"{student}'s verdicts do not reproduce: {', '.join(different)} ({total - len(different)} of {total} reproduce)",
        ]
    return [*lines, f"{student}'s verdicts reproduce ({total} of {total} exercises)"]


def dry_run(api, course: Course, lab: str, students: list[str] | None = None) -> list[str]:
    """Whose per-exercise scores the current hidden tests and masters would change, and why; nothing is written."""
    records = Provenance(course, lab).latest()
    if students:
        missing = [student for student in students if student not in records]
        if missing:
            raise CommandError(f"no grading of {', '.join(missing)} in {lab} is recorded: autograde them first")
        records = {student: records[student] for student in students}
    if not records:
        raise CommandError(f"no grading of {lab} is recorded: run python -m grading autograde {lab} first")
    verify, points = VerifyAnswers(config=api.config), exercise_points(course, lab)
    judged = {student: record for student, record in records.items() if record["verdicts"]}
    again = replayed(api, course, lab, {student: verify.seed(lab, student) for student in judged})
    lines = [
        f"dry run: {lab}: what the current hidden tests and master say of the {len(records)} student(s) last graded"
    ]
    changed = 0
    for student, record in sorted(judged.items()):
        replay = again[student]
        if record["submission"] != submission_digest(course, lab, student):
            lines.append(f"  {student}: handed in again since: autograde grades the new submission")
            continue
        if isinstance(replay, str):
            lines.append(f"  {student}: {replay}")
            continue
        moves = []
        for grade_id, verdict in record["verdicts"].items():
            was, now = not verdict["problems"], not replay.get(grade_id, {"problems": ["not judged"]})["problems"]
            if was != now:
                worth = points.get(grade_id, 0)
                why = "" if now else f": {replay[grade_id]['problems'][0]}"
                moves.append(f"{grade_id} {'fails' if was else 'passes'} ({'-' if was else '+'}{worth:g} points){why}")
        if moves:
            changed += 1
            lines += [f"  {student}: {move}" for move in moves]
    return [*lines, f"{changed} of {len(records)} students' scores would change; nothing was written"]

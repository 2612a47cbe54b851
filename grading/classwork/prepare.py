"""The coordinator's first step for a student: the code nbgrader is about to run, as `StudentWork`.

The submission goes through the first pass of nbgrader's autograde (the sanitising preprocessors
of the course's configuration: the release's locked cells restored, outputs cleared, ...), in
memory, kept for the student's autograde (`autograde_student.sanitize_ahead`); then
`ExecuteInSandbox` and `VerifyAnswers` say what they would run. Their answers, made on workers,
are used only if nbgrader's own pass asks for exactly the same runs (`grading.execution.prepared`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grading.classwork.autograde_student import sanitize_ahead
from grading.course import Course
from grading.execution.work import StudentWork
from grading.preprocessors.execute_in_sandbox import ExecuteInSandbox, course_cache, font_cache, release_folder
from grading.preprocessors.verify_answers import VerifyAnswers
from grading.sandbox.launch import Sandbox


def sandbox_settings(api) -> dict:
    settings = Sandbox(config=api.config)
    return {name: getattr(settings, name) for name in settings.traits(config=True)}


def student_work(api, course: Course, lab: str, student: str) -> StudentWork:
    """What a worker runs for `student`: the notebook's cells and each graded function's verdict."""
    nb = sanitize_ahead(api, lab, student)
    execute, verify = ExecuteInSandbox(config=api.config), VerifyAnswers(config=api.config)
    cache = course_cache(api.coursedir)
    seed = verify.seed(lab, student)
    font_cache(cache / "sandbox" / "matplotlib")
    return StudentWork(
        lab=lab,
        student=student,
        release=str(release_folder(api.coursedir, lab).resolve()),
        cache=str(Path(cache).resolve()),
        notebook=execute.request(nb, execute.shared_plan(nb, lab).left_out),
        times=dataclasses.asdict(execute.time_limits()),
        limits=dataclasses.asdict(execute.output_limits()),
        sandbox=sandbox_settings(api),
        verdicts=tuple(verify.job(exercise, answer, seed) for _, exercise, answer in verify.judged(nb, lab)),
    )

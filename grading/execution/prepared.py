"""Answers of the class's workers, waiting for nbgrader's pipeline in the coordinator.

`grading.classwork.autograde_class` runs the class's submitted code on workers first, then puts each
student through nbgrader's autograde. The kit's preprocessors (`ExecuteInSandbox`,
`VerifyAnswers`) ask here for the student's answer instead of running the code again, and use
it only if it was made for exactly the code they were about to run (same cells, same answer
sources); otherwise, and under plain `nbgrader autograde`, they run it themselves.
"""

from __future__ import annotations

import threading

from grading.execution.work import StudentWork, VerdictJob

_lock = threading.Lock()
_answers: dict[tuple[str, str], tuple[StudentWork, dict]] = {}


def offer(work: StudentWork, answer: dict) -> None:
    """Keep a checked answer (`grading.execution.work.checked_result`) for the student's autograde."""
    with _lock:
        _answers[(work.lab, work.student)] = (work, answer)


def forget(lab: str, student: str) -> None:
    with _lock:
        _answers.pop((lab, student), None)


def notebook_answer(lab: str, student: str, request: dict) -> dict | None:
    """The checked notebook result, if one was made for exactly `request`."""
    with _lock:
        work, answer = _answers.get((lab, student), (None, None))
    if work is None or work.notebook != request:
        return None
    return answer["notebook"]


def verdict_answer(lab: str, student: str, wanted: VerdictJob) -> dict | None:
    """The raw verdict of `wanted.function`, if it was made with exactly these answer sources and cases."""
    with _lock:
        work, answer = _answers.get((lab, student), (None, None))
    if work is None:
        return None
    job = next((job for job in work.verdicts if job.function == wanted.function), None)
    if job is None or (job.sources, job.payload) != (wanted.sources, wanted.payload):
        return None
    return answer["verdicts"].get(wanted.function)

"""The local pool's scheduling: answers as they come, a failure given back as the student's, and a
class drawn only a few students ahead of the answers (a class of 10,000 is not prepared up front).

Each worker's `perform` is replaced by a function that answers at once: what is tested is the
pool's bookkeeping, not the sandboxes (tests/test_parallel_grading.py grades real classes on it).
"""

from __future__ import annotations

import threading

from grading.execution.pool import LocalPool, ahead
from grading.execution.work import StudentWork


def work_of(student: str) -> StudentWork:
    return StudentWork("lab", student, "release", "cache", {}, {}, {}, {})


def answering(pool: LocalPool, perform) -> LocalPool:
    for worker in pool._all:
        worker.perform = perform
    return pool


def test_every_work_gets_its_own_answer_and_a_failure_stays_with_its_student():
    def perform(work: StudentWork) -> dict:
        if work.student == "s3":
            raise RuntimeError("lost")
        return {"student": work.student}

    pool = answering(LocalPool(2, warm=False), perform)
    try:
        answers = {work.student: answer for work, answer in pool.answers(work_of(f"s{n}") for n in range(8))}
    finally:
        pool.close()
    assert set(answers) == {f"s{n}" for n in range(8)}
    assert isinstance(answers.pop("s3"), RuntimeError)
    assert all(answer == {"student": student} for student, answer in answers.items())


def test_the_class_is_drawn_only_a_few_students_ahead_of_the_answers():
    drawn = 0
    ahead_when_answered = []
    lock = threading.Lock()

    def works():
        nonlocal drawn
        for number in range(200):
            with lock:
                drawn += 1
            yield work_of(f"s{number}")

    pool = answering(LocalPool(2, warm=False), lambda work: {"student": work.student})
    try:
        for count, _ in enumerate(pool.answers(works()), start=1):
            ahead_when_answered.append(drawn - count)
    finally:
        pool.close()
    assert len(ahead_when_answered) == 200
    # at most ahead(2) run or wait, besides the answers finished together and not yet given back
    assert max(ahead_when_answered) < 2 * ahead(2)
    # without the window, the whole class is drawn before the first answer
    assert ahead_when_answered[0] < 199

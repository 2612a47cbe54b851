"""Grading on submission: each lab handed in through nbgrader's exchange is graded, and its
feedback returned to the student, while they wait.

The service reads as its steps, in a loop:

1. `take_in`: every second, the exchange's inbound is read for new, complete submissions
   (`grading.hub.inbox`: the submitter's account must own the folder; the time is the service's).
   Each is admitted as a graded attempt or refused (`grading.attempts`: too many attempts), and
   recorded in the lab's ledger at once, so that a submission's time never waits on grading.
2. `grade_waiting`: the waiting attempts, one per student and lab, are graded together on the
   kit's sandboxed pool (every core), as `python -m grading autograde LAB --student ...` would.
3. `return_feedback`: each graded attempt's feedback page is made and put in the exchange where
   the student's *Fetch Feedback* finds it; a refused attempt gets a page that says why.
4. `restore_counted`: when the attempt just graded is not the one that counts (a late attempt
   after one on time), the one that counts is graded again, so the gradebook holds it.

The ledger is the service's journal: an attempt it shows graded or refused is never graded
again, and one still waiting after a restart is graded then. The queue (`status`) is what the
instructor's live page shows.
"""

from __future__ import annotations

import html
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import notebook_hash

from grading.attempts import Attempt, AttemptPolicy, Ledger
from grading.classwork.autograde_class import autograde_class
from grading.course import Course
from grading.hub import inbox
from grading.text import printable

log = logging.getLogger("grading.hub.service")
RETRY_SECONDS = 30.0


@dataclass
class Queue:
    """What the service is doing, for the live page: attempts waiting and being graded (by name)."""

    waiting: dict[str, Attempt] = field(default_factory=dict)
    grading: dict[str, float] = field(default_factory=dict)  # name -> time its grading started
    lock: threading.Lock = field(default_factory=threading.Lock)


class GradingService:
    """Grade the submissions of `labs` that come in through the course's nbgrader exchange."""

    def __init__(self, course: Course, labs: list[str], poll_seconds: float = 1.0, **settings: object):
        """`settings` are `autograde_class`'s: where the code runs (workers, scheduler, ...) and
        nbgrader settings for the gradings."""
        self.course, self.labs, self.poll_seconds, self.settings = course, labs, poll_seconds, settings
        self.api = course.nbgrader_api(register_students=False)
        self.policy = AttemptPolicy(config=self.api.config)
        self.course_id = self.api.coursedir.course_id
        self.exchange = Path(self.api.config.Exchange.root) / self.course_id
        self.ledgers = {lab: Ledger(course, lab) for lab in labs}
        self.queue = Queue()
        self.stopping = threading.Event()
        self.known: set[str] = set()  # every attempt in the ledgers: this service alone adds to them
        for ledger in self.ledgers.values():  # attempts left waiting by a stopped service
            for attempt in ledger.attempts().values():
                self.known.add(attempt.name)
                if attempt.state == "waiting":
                    self.queue.waiting[attempt.name] = attempt
        self.feedback_api = course.nbgrader_api(register_students=False, **{"CourseDirectory.ignore": ["*"]})

    # -- 1. take in ------------------------------------------------------------------------------

    def take_in(self) -> int:
        """Admit or refuse every new complete submission; the number taken in."""
        found = inbox.waiting(self.exchange / "inbound", self.labs, self.known)
        for handed in found:
            self.admit(handed, inbox.first_seen(handed, time.time()))
            self.known.add(handed.name)
        return len(found)

    def admit(self, handed: inbox.Handed, seen: float) -> None:
        ledger = self.ledgers[handed.lab]
        try:
            inbox.take(handed, self.attempt_folder(handed.lab, handed.name), seen)
        except inbox.Refused as refused:
            ledger.record(Attempt(handed.name, handed.student, seen, state="refused", why=str(refused), lab=handed.lab))
            log.warning("%s: not taken in: %s", printable(handed.name, 120), refused)
            return
        attempt = ledger.admit(self.policy, handed.name, handed.student, seen)
        if attempt.state == "refused":
            log.info("%s: refused: %s", printable(handed.name, 120), attempt.why)
            self.publish(handed.lab, attempt, refusal_page(handed.lab, attempt, self.policy))
            return
        with self.queue.lock:
            self.queue.waiting[attempt.name] = attempt
        log.info(
            "%s: attempt %d of %s by %s, waiting",
            handed.lab,
            attempt.number,
            self.policy.attempts,
            printable(handed.student, 60),
        )

    def attempt_folder(self, lab: str, name: str) -> Path:
        """Where an attempt's files are kept, as they were taken in."""
        return self.course.records / "attempts" / lab / name

    # -- 2. grade --------------------------------------------------------------------------------

    def next_round(self) -> dict[str, list[Attempt]]:
        """The lab -> attempts to grade together: the oldest waiting attempt of each student."""
        chosen: dict[str, dict[str, Attempt]] = {}
        with self.queue.lock:
            for attempt in sorted(self.queue.waiting.values(), key=lambda a: a.seen):
                chosen.setdefault(attempt.lab, {}).setdefault(attempt.student, attempt)
        return {lab: list(by_student.values()) for lab, by_student in chosen.items()}

    def grade_waiting(self) -> int:
        """Grade one round of waiting attempts; the number graded. A round that fails as a whole
        (no sandbox here, the gradebook unreachable) leaves its attempts waiting, says why, and is
        tried again after `RETRY_SECONDS`."""
        graded = 0
        for lab, attempts in self.next_round().items():
            started = time.time()
            with self.queue.lock:
                for attempt in attempts:
                    self.queue.grading[attempt.name] = started
            try:
                self.grade(lab, attempts)
            except Exception:  # a student's own failure is theirs alone inside grade(); this is the round's
                log.exception("%s: grading %d attempt(s) failed; they stay waiting", lab, len(attempts))
                self.stopping.wait(RETRY_SECONDS)
                continue
            finally:
                with self.queue.lock:
                    for attempt in attempts:
                        self.queue.grading.pop(attempt.name, None)
            with self.queue.lock:
                for attempt in attempts:
                    self.queue.waiting.pop(attempt.name, None)
            graded += len(attempts)
        return graded

    def grade(self, lab: str, attempts: list[Attempt]) -> None:
        for attempt in attempts:
            self.install(lab, attempt)
        results = self.autograde(lab, [attempt.student for attempt in attempts])
        lateness = self.seconds_late(lab)
        ledger = self.ledgers[lab]
        for attempt in attempts:
            result = results[attempt.student]
            attempt.state, attempt.score, attempt.max_score = "graded", result.score, result.max_score
            attempt.late = lateness.get(attempt.student, 0.0) > 0
            attempt.done = time.time()
            ledger.record(attempt)
        self.return_feedback(lab, attempts)
        self.restore_counted(lab, attempts)

    def install(self, lab: str, attempt: Attempt) -> None:
        """Put the attempt's files where nbgrader grades the student's submission."""
        folder = self.course.submission(lab, attempt.student).parent
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(self.attempt_folder(lab, attempt.name), folder)

    def autograde(self, lab: str, students: list[str]) -> dict:
        results = autograde_class(self.course, lab, students, progress=log.info, **self.settings)
        return {result.student: result for result in results}

    def seconds_late(self, lab: str) -> dict[str, float]:
        """Student -> seconds their submission of `lab` was late, as the gradebook has it."""
        from nbgrader.api import Gradebook

        with Gradebook(self.api.coursedir.db_url, self.course_id) as gradebook:
            return {s.student.id: s.total_seconds_late for s in gradebook.find_assignment(lab).submissions}

    # -- 3. feedback -----------------------------------------------------------------------------

    def return_feedback(self, lab: str, attempts: list[Attempt]) -> None:
        """Make each attempt's feedback page and put it where the student's *Fetch Feedback* looks."""
        for attempt in attempts:
            outcome = self.feedback_api.generate_feedback(lab, attempt.student)
            page = self.course.feedback / attempt.student / lab / f"{lab}.html"
            if not outcome["success"] or not page.is_file():
                log.error("%s: no feedback page for %s: %s", lab, attempt.student, outcome.get("log", "")[-300:])
                continue
            self.publish(lab, attempt, page.read_bytes())

    def publish(self, lab: str, attempt: Attempt, page: bytes) -> None:
        """Put a page in the exchange's feedback folder under the name nbgrader's *Fetch Feedback*
        computes from the submission's secret (as `nbgrader release_feedback` does)."""
        secret = (self.attempt_folder(lab, attempt.name) / "submission_secret.txt").read_text()
        folder = self.exchange / "feedback"
        folder.mkdir(mode=0o711, exist_ok=True)
        final = folder / f"{notebook_hash(secret=secret, notebook_id=lab)}.html"
        partial = final.with_suffix(".tmp")
        partial.write_bytes(page)
        partial.chmod(0o644)
        partial.replace(final)

    # -- 4. the attempt that counts --------------------------------------------------------------

    def restore_counted(self, lab: str, attempts: list[Attempt]) -> None:
        """Grade again, for the gradebook, each student's attempt that counts where it is not the
        one just graded."""
        ledger = self.ledgers[lab]
        restored = [
            counted
            for attempt in attempts
            if (counted := ledger.counted(self.policy, attempt.student)) is not None and counted.name != attempt.name
        ]
        if not restored:
            return
        for attempt in restored:
            self.install(lab, attempt)
            log.info("%s: %s's attempt %d counts: graded again for the gradebook", lab, attempt.student, attempt.number)
        self.autograde(lab, [attempt.student for attempt in restored])

    # -- the loop --------------------------------------------------------------------------------

    def watch(self) -> None:
        """Take in submissions every `poll_seconds` until stopped (the service's second thread)."""
        while not self.stopping.is_set():
            try:
                self.take_in()
            except Exception:  # a bad folder must not stop the service; it is logged and the next poll goes on
                log.exception("taking in submissions failed")
            self.stopping.wait(self.poll_seconds)

    def run(self) -> None:
        """Take in and grade until stopped."""
        watcher = threading.Thread(target=self.watch, name="take-in", daemon=True)
        watcher.start()
        while not self.stopping.is_set():
            if not self.grade_waiting():
                self.stopping.wait(self.poll_seconds / 2)
        watcher.join()


def refusal_page(lab: str, attempt: Attempt, policy: AttemptPolicy) -> bytes:
    """The feedback page of a submission that was not graded."""
    reason = html.escape(attempt.why)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Not graded</title>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "</head><body style='font-family: sans-serif; max-width: 40em; margin: 2em auto'>"
        f"<h1>{html.escape(lab)}: this submission was not graded</h1><p>Not graded: {reason}.</p>"
        f"<p>{html.escape(policy.describe())} Your grade stays that of the attempt that counts.</p></body></html>"
    ).encode()

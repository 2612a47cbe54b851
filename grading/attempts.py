"""Graded attempts, when labs are graded as they are handed in: how many a student has, which counts.

On a hub, the grading service (`grading.hub.service`) grades each submission that comes in through
nbgrader's exchange. A student has `AttemptPolicy.attempts` graded attempts per lab, at most
`per_hour` of them in any hour; a submission past either limit is not graded, and the student is
told why. Of the graded attempts, one counts: by default the last one handed in on time (a late
attempt after it still gets its feedback, and does not replace it), or, with `counted = "last"`,
the last one, late or not.

Every attempt is a line in `records/attempts/<lab>.jsonl`, appended and flushed as its state
changes (seen, graded, refused); the last line of an attempt is its state. The service resumes
from it after a restart, and the feedback page (`ShowAttempts`) says from it which attempt this
was, how many are left and which counts. A submission's time is the one the service saw it at,
never the time its folder's name claims.

Examples
--------
>>> policy = AttemptPolicy(attempts=3, per_hour=2)
>>> policy.refusal(graded_times=[0.0, 60.0], now=120.0)
'2 graded attempts in the last hour, the most an hour allows: the next one can be graded from 1 h after the first of them'
>>> print(policy.refusal(graded_times=[0.0, 60.0], now=3601.0))
None
>>> policy.describe()
'3 graded attempts per lab, at most 2 an hour; the one that counts is the last one handed in on time.'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from traitlets import Enum, Int
from traitlets.config import Configurable

from grading.course import Course

HOUR = 3600.0


class AttemptPolicy(Configurable):
    """How many submissions of a lab are graded, and which one counts (set in `nbgrader_config.py`)."""

    attempts = Int(3, min=1, help="graded attempts per student and lab").tag(config=True)
    per_hour = Int(0, min=0, help="graded attempts per student and lab in any hour (0: no hourly limit)").tag(
        config=True
    )
    counted = Enum(
        ["last_on_time", "last"],
        "last_on_time",
        help="the attempt that counts: the last one handed in on time (else the last), or the last one",
    ).tag(config=True)

    def refusal(self, graded_times: list[float], now: float) -> str | None:
        """Why a new submission is not graded, given the times of the student's graded attempts of
        the lab; None when it is."""
        if len(graded_times) >= self.attempts:
            return f"all {self.attempts} graded attempts of this lab are used"
        recent = sorted(t for t in graded_times if now - t < HOUR)
        if self.per_hour and len(recent) >= self.per_hour:
            return (
                f"{len(recent)} graded attempts in the last hour, the most an hour allows: the next one can be"
                f" graded from 1 h after the first of them"
            )
        return None

    def one_that_counts(self, attempts: list[Attempt]) -> Attempt | None:
        """Of a student's attempts (in the order seen), the graded one that counts; None before any is graded."""
        graded = [a for a in attempts if a.state == "graded"]
        on_time = [a for a in graded if not a.late]
        if self.counted == "last_on_time" and on_time:
            return on_time[-1]
        return graded[-1] if graded else None

    @property
    def which_counts(self) -> str:
        return "the last one handed in on time" if self.counted == "last_on_time" else "the last one"

    def describe(self) -> str:
        hourly = f", at most {self.per_hour} an hour" if self.per_hour else ""
        plural = "s" if self.attempts > 1 else ""
        return f"{self.attempts} graded attempt{plural} per lab{hourly}; the one that counts is {self.which_counts}."


@dataclass
class Attempt:
    """One submission of a lab by a student, as the grading service took it in.

    `name` is its folder's name in the exchange's inbound (unique), `seen` the time (seconds since
    the epoch) the service first saw it complete, `number` its place among the student's graded
    attempts (0 for one refused), `state` "waiting", "graded" or "refused", `late` whether it came
    after the due date (known once graded), `why` the reason of a refusal."""

    name: str
    student: str
    seen: float
    number: int = 0
    state: str = "waiting"
    late: bool = False
    score: float | None = None
    max_score: float | None = None
    why: str = ""
    lab: str = ""
    done: float | None = None


class Ledger:
    """The attempts of one lab, kept in `records/attempts/<lab>.jsonl`."""

    def __init__(self, course: Course, lab: str):
        self.lab = lab
        self.path = course.records / "attempts" / f"{lab}.jsonl"

    def attempts(self) -> dict[str, Attempt]:
        """Every attempt by its folder's name, in the order they were seen, in its last state."""
        found: dict[str, Attempt] = {}
        if not self.path.is_file():
            return found
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                attempt = Attempt(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: that attempt's earlier state stands
            found[attempt.name] = attempt
        return found

    def record(self, attempt: Attempt) -> None:
        """Append the attempt's state, on disk before this returns."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(asdict(attempt)) + "\n")
            ledger.flush()
            os.fsync(ledger.fileno())

    def of(self, student: str) -> list[Attempt]:
        """The student's attempts (refused ones included), in the order they were seen."""
        return [attempt for attempt in self.attempts().values() if attempt.student == student]

    def admit(self, policy: AttemptPolicy, name: str, student: str, seen: float) -> Attempt:
        """Record a newly seen submission: waiting, with its number, or refused, with the reason."""
        counted = [a for a in self.of(student) if a.state != "refused"]
        why = policy.refusal([a.seen for a in counted], seen)
        number = 0 if why else len(counted) + 1
        attempt = Attempt(name, student, seen, number, "refused" if why else "waiting", why=why or "", lab=self.lab)
        self.record(attempt)
        return attempt

    def counted(self, policy: AttemptPolicy, student: str) -> Attempt | None:
        """The student's graded attempt that counts, as the policy says; None before any is graded."""
        return policy.one_that_counts(self.of(student))

    def statement(self, policy: AttemptPolicy, student: str, name: str | None = None) -> str:
        """What the student's feedback says of their attempts: which one this is (`name`, else
        their last graded one), how many are left, and which counts."""
        mine = self.of(student)
        graded = [a for a in mine if a.state == "graded"]
        this = next((a for a in graded if a.name == name), graded[-1] if graded else None)
        if this is None:
            return ""
        left = policy.attempts - len([a for a in mine if a.state != "refused"])
        counted = policy.one_that_counts(mine)
        said = f"Attempt {this.number} of {policy.attempts}{' (late)' if this.late else ''}; {left} left."
        if counted is not None and counted.name == this.name:
            return said + " This attempt is the one that counts."
        return said + f" The attempt that counts is attempt {counted.number}, {policy.which_counts}."

"""The course's late policy: a grace period, then a share of the score per day late, or a zero.

nbgrader records how late each submission is (against the lab's due date in the gradebook:
`nbgrader db assignment add LAB --duedate=...`) and asks a plugin for the penalty; its own
plugin knows only "nothing" and "zero". This one is set in `nbgrader_config.py`:

- `LatePolicy.grace_minutes`: lateness up to this costs nothing (a slow upload, a clock);
- `LatePolicy.per_day`: past the grace, this share of the notebook's score is lost for each day
  or part of a day, up to all of it (0.1: ten percent a day);
- `LatePolicy.zero_after_days`: past the grace and this many days, the score is 0 (None: never).

With the defaults (no grace, nothing per day, never zero) lateness is recorded and shown, and
costs nothing. The penalty is in the gradebook, on the feedback page beside the due date and
how late the submission was, and in every export (the score after the penalty).

Examples
--------
>>> policy = LatePolicy(grace_minutes=15, per_day=0.1, zero_after_days=7)
>>> print(policy.late_submission_penalty("ada", 20.0, total_seconds_late=10 * 60))
None
>>> policy.late_submission_penalty("ada", 20.0, total_seconds_late=15 * 60 + 1)
2.0
>>> policy.late_submission_penalty("ada", 20.0, total_seconds_late=3 * 86400)
6.0
>>> policy.late_submission_penalty("ada", 20.0, total_seconds_late=8 * 86400)
20.0
>>> policy.describe()
"Late work: after 15 minutes' grace, 10% of the score off per day or part of a day and no score after 7 days."
"""

from __future__ import annotations

import math

from nbgrader.plugins import BasePlugin
from traitlets import Float, TraitError

from grading.errors import CommandError

DAY = 86400


class LatePolicy(BasePlugin):
    """A grace period, then `per_day` of the score lost per day or part of a day late, or a zero."""

    grace_minutes = Float(0.0, min=0.0, help="lateness up to this many minutes costs nothing").tag(config=True)
    per_day = Float(0.0, min=0.0, max=1.0, help="share of the score lost per day late, after the grace").tag(
        config=True
    )
    zero_after_days = Float(
        None, allow_none=True, min=0.0, help="past the grace and this many days late, the score is 0 (None: never)"
    ).tag(config=True)

    def days_late(self, total_seconds_late: float) -> int:
        """Days or parts of a day past the grace period (0 within it)."""
        past_grace = total_seconds_late - 60 * self.grace_minutes
        return math.ceil(past_grace / DAY) if past_grace > 0 else 0

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        """The points a notebook scoring `score` loses for being `total_seconds_late` late; None
        for none (as nbgrader's own plugin says it: the gradebook then records no penalty)."""
        past_grace = total_seconds_late - 60 * self.grace_minutes
        if self.zero_after_days is not None and past_grace > DAY * self.zero_after_days:
            return float(score)
        penalty = round(float(score) * min(1.0, self.per_day * self.days_late(total_seconds_late)), 6)
        return penalty or None

    def describe(self) -> str:
        """The policy in one sentence, for the feedback page."""
        rules = []
        if self.per_day:
            rules.append(f"{100 * self.per_day:g}% of the score off per day or part of a day")
        if self.zero_after_days is not None:
            rules.append(f"no score after {self.zero_after_days:g} days")
        if not rules:
            return "Late work costs nothing."
        grace = f"after {self.grace_minutes:g} minutes' grace, " if self.grace_minutes else ""
        return f"Late work: {grace}{' and '.join(rules)}."


def check_late_policy(config) -> None:
    """Refuse, in one line, a late policy that `nbgrader_config.py` sets wrong, before any student
    is graded with it (nbgrader would fail each student's autograde, one by one)."""
    try:
        LatePolicy(config=config)
    except TraitError as error:
        first = str(error).splitlines()[0]
        raise CommandError(
            f"the course's late policy is set wrong in nbgrader_config.py ({first}): grace_minutes and"
            " zero_after_days take 0 or more (zero_after_days also None), per_day a share from 0 to 1"
        ) from None

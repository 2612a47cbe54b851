"""Say on the feedback page when the lab was due, when it was handed in, and what lateness costs.

nbgrader's `GetGrades` gives the page the late penalty alone. When the gradebook has the lab's
due date (with the student's extension, if any), this puts the due date, the submission's time,
how late it was and the course's late policy (`grading.late_policy.LatePolicy`, as
`nbgrader_config.py` sets it) into `resources["nbgrader"]["lateness"]` for the template.
"""

from __future__ import annotations

from datetime import datetime

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

from grading.late_policy import LatePolicy
from grading.reporting.feedback_page.base import FeedbackPreprocessor


def when(moment: datetime) -> str:
    """'2026-10-01 12:00 UTC' (the gradebook keeps UTC)."""
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def how_long(seconds: float) -> str:
    """'2 days 3 h', '5 h 3 min', '12 min', '40 s'."""
    minutes, hours, days = int(seconds // 60) % 60, int(seconds // 3600) % 24, int(seconds // 86400)
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min" if minutes else f"{int(seconds)} s"


class ShowLateness(FeedbackPreprocessor):
    """Put the due date, the submission's time, its lateness and the late policy in the resources."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            try:
                submission = gradebook.find_submission(info["assignment"], info["student"])
            except MissingEntry:
                return nb, resources
            if submission.duedate is None or submission.timestamp is None:
                return nb, resources
            late = submission.total_seconds_late
            info["lateness"] = {
                "due": when(submission.duedate),
                "submitted": when(submission.timestamp),
                "late": how_long(late) if late > 0 else "",
                "policy": LatePolicy(config=self.config).describe(),
            }
        return nb, resources

"""Say on the feedback page which graded attempt this was, how many are left and which counts.

Only where labs are graded as they are handed in (on a hub, `grading.hub.service`): the lab's
ledger of attempts (`grading.attempts`) then holds the student's attempts, and this attempt is the
one whose nbgrader submission secret the graded submission carries. Elsewhere the page is as before.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode

from grading.attempts import AttemptPolicy, Ledger
from grading.course import Course
from grading.reporting.feedback_page.base import FeedbackPreprocessor


def secret_of(folder: Path) -> str | None:
    try:
        return (folder / "submission_secret.txt").read_text()
    except OSError:
        return None


class ShowAttempts(FeedbackPreprocessor):
    """Put the sentence on the student's attempts in `resources["nbgrader"]["attempts"]`."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        course = Course(Path(self.config.CourseDirectory.root))
        ledger = Ledger(course, info["assignment"])
        if not ledger.path.is_file():
            return nb, resources
        secret = secret_of(course.submission(info["assignment"], info["student"]).parent)
        mine = ledger.of(info["student"])
        this = next(
            (
                a
                for a in mine
                if a.state == "graded" and secret_of(course.records / "attempts" / a.lab / a.name) == secret
            ),
            None,
        )
        if this is not None:
            info["attempts"] = ledger.statement(AttemptPolicy(config=self.config), info["student"], this.name)
        return nb, resources

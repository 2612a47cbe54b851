"""`nbgrader export` for this course: one row per student and lab, "not submitted" kept apart from 0.

nbgrader's CSV exporter gives a student without a submission a score of 0, like a submission
that earned nothing, and writes names as they are, unquoted. Here a missing submission has an
empty score and the status `not submitted`; every row has the submission's timestamp and the
lab's due date when the gradebook has them (import a roster with `nbgrader db student import`
for names and e-mails, and set due dates with `nbgrader db assignment add LAB --duedate=...`);
and a roster text that a spreadsheet would run as a formula gets a `'` first, as in the exports
for learning platforms (`grading.reporting.platform_export`)."""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin

from grading.reporting.platform_export import after_penalty, text

COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "status",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
]


class CourseCsvExport(CsvExportPlugin):
    """CSV of the class's grades with a status column; see the module's docstring."""

    def export(self, gradebook: Gradebook) -> None:
        destination = self.to or "grades.csv"
        self.log.info("Exporting grades to %s", destination)
        with open(destination, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for assignment in gradebook.assignments:
                if self.assignment and assignment.name not in self.assignment:
                    continue
                for student in gradebook.students:
                    if self.student and student.id not in self.student:
                        continue
                    writer.writerow(self._row(gradebook, assignment, student))

    @staticmethod
    def _row(gradebook: Gradebook, assignment, student) -> dict[str, object]:
        row: dict[str, object] = {
            "assignment": assignment.name,
            "duedate": assignment.duedate or "",
            "student_id": text(student.id),
            "last_name": text(student.last_name),
            "first_name": text(student.first_name),
            "email": text(student.email),
            "max_score": assignment.max_score,
        }
        try:
            submission = gradebook.find_submission(assignment.name, student.id)
        except MissingEntry:
            return {
                **row,
                "timestamp": "",
                "status": "not submitted",
                "raw_score": "",
                "late_submission_penalty": "",
                "score": "",
            }
        return {
            **row,
            "timestamp": submission.timestamp or "",
            "status": "submitted",
            "raw_score": submission.score,
            "late_submission_penalty": submission.late_submission_penalty or 0.0,
            "score": after_penalty(submission),
        }

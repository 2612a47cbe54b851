"""A student's result of a class's grading: the one model the coordinator writes and every report reads.

The coordinator (`grading.classwork.autograde_class`) makes a `StudentResult` per student from
nbgrader's gradebook and the grader's own notes; the journal and the lab's report keep it as
plain JSON (`stored`); the text table, the HTML page and the exports read it back. Every string
in it may come from a submission (a student's id is a folder's name, a test's name its
function's), so it is made printable (`grading.text`) however it was made or read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from grading.text import printable

UNSAFE_NOTE = "graded without a sandbox (--unsafe-no-sandbox)"
INSECURE_CLUSTER_NOTE = "graded on a cluster without authentication (--insecure-cluster)"
WEAKER_LIMITS_NOTE = "graded with per-process limits only (no cgroup counted its runs as a whole)"


@dataclass
class StudentResult:
    student: str
    score: float
    max_score: float
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Notes and test names printable however the result was made or read back (journal, report)."""
        self.failed = [printable(name) for name in self.failed]
        self.notes = [printable(note) for note in self.notes]

    def stored(self) -> dict:
        """The result as the journal and the report keep it: plain data, its notes and test names
        printable again (notes are added after it is made); JSON escapes whatever the id holds."""
        return {
            **asdict(self),
            "failed": [printable(name) for name in self.failed],
            "notes": [printable(note) for note in self.notes],
        }

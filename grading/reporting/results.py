"""A student's result of a class's grading: the one model the coordinator writes and every report reads.

The coordinator (`grading.classwork.autograde_class`) makes a `StudentResult` per student from
nbgrader's gradebook and the grader's own notes; the journal and the lab's report keep it as
plain JSON (`stored`); the text table, the HTML page and the exports read it back. Every string
in it may come from a submission (a student's id is a folder's name, a test's name its
function's), so it is made printable (`grading.text`) however it was made or read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grading.text import printable

# What a note reports, in a word or two: the class page groups students by it.
NOTE_KINDS = (
    "not graded",  # the submission could not be graded (refused at intake, unreadable): the text says why
    "changed locked cells",
    "crashed",
    "hit a limit",
    "timed out",
    "broke the protocol",
    "ran shared cells",
    "not sandboxed",
    "unauthenticated cluster",
    "weaker limits",
)


@dataclass(frozen=True)
class Note:
    """A note on a student's grading: its kind (one of NOTE_KINDS) and the sentence an instructor reads."""

    kind: str
    text: str

    def __post_init__(self) -> None:
        if self.kind not in NOTE_KINDS:
            raise ValueError(f"unknown kind of note {self.kind!r}")
        object.__setattr__(self, "text", printable(self.text))

    @classmethod
    def read(cls, raw: object) -> Note:
        """A note as the journal or the report stored it ({"kind", "text"}); a bare sentence, or a kind
        this version does not know, is kept as a note of kind "not graded"."""
        if isinstance(raw, Note):
            return raw
        if isinstance(raw, dict) and raw.get("kind") in NOTE_KINDS and isinstance(raw.get("text"), str):
            return cls(raw["kind"], raw["text"])
        return cls("not graded", raw.get("text", "") if isinstance(raw, dict) else str(raw))

    def stored(self) -> dict:
        return {"kind": self.kind, "text": self.text}

    def __str__(self) -> str:
        return self.text


UNSAFE_NOTE = Note("not sandboxed", "graded without a sandbox (--unsafe-no-sandbox)")
INSECURE_CLUSTER_NOTE = Note(
    "unauthenticated cluster", "graded on a cluster without authentication (--insecure-cluster)"
)
WEAKER_LIMITS_NOTE = Note(
    "weaker limits", "graded with per-process limits only (no cgroup counted its runs as a whole)"
)


@dataclass
class StudentResult:
    student: str
    score: float
    max_score: float
    failed: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Notes and test names printable however the result was made or read back (journal, report)."""
        self.failed = [printable(name) for name in self.failed]
        self.notes = [Note.read(note) for note in self.notes]

    def said(self) -> str:
        """The notes' sentences, as one line."""
        return "; ".join(note.text for note in self.notes)

    def stored(self) -> dict:
        """The result as the journal and the report keep it: plain data, its test names printable
        again; JSON escapes whatever the id holds."""
        return {
            "student": self.student,
            "score": self.score,
            "max_score": self.max_score,
            "failed": [printable(name) for name in self.failed],
            "notes": [Note.read(note).stored() for note in self.notes],
        }

"""Students whose answers give the same unusual wrong outputs on the cases every student shares.

Alike code is a weak hint (short standard solutions look alike, and a copy can be reworded); alike
wrong results are a strong one. Every student's hidden cases include the lab's own data, the same
inputs for all, and the provenance record of each grading keeps a digest of the outputs an answer
got wrong there (`grading.preprocessors.verify_answers.verdict_of`: the arrays' dtypes, shapes
and bytes, errors left out). Two answers that return, bit for bit, the same wrong arrays on the
same case, when at most `UNUSUAL_AT_MOST` students of the class do, made the same unusual mistake
in the same way. A wrong output more students give is a common mistake and says nothing; nor
does a small class's common mistake, so the page shows how many give each output, as a hint to
look closer and never a decision.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from grading.course import Course

UNUSUAL_AT_MOST = 3


@dataclass(frozen=True)
class AlikeOutputs:
    """Students whose answers to one exercise gave the same wrong outputs on the same shared cases."""

    students: tuple[str, ...]
    exercise: str
    cases: tuple[str, ...]


def provenance_path(course: Course, lab: str) -> Path:
    return course.records / "provenance" / f"{lab}.jsonl"


def latest_records(path: Path) -> dict[str, dict]:
    """student -> their last provenance record in `path` (a line cut short by a crash is skipped)."""
    found: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
                found[str(entry["student"])] = entry
            except (ValueError, KeyError, TypeError):
                continue
    return found


def alike_wrong_outputs(records: dict[str, dict]) -> list[AlikeOutputs]:
    """The groups of 2 to UNUSUAL_AT_MOST students who gave the same wrong outputs on a shared case,
    one group per exercise with every case on which exactly those students agree."""
    givers: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for student, record in records.items():
        verdicts = record.get("verdicts") if isinstance(record, dict) else None
        for exercise, verdict in (verdicts or {}).items():
            wrong = verdict.get("fixed") if isinstance(verdict, dict) else None
            for case, digest in (wrong or {}).items():
                givers[(str(exercise), str(case), str(digest))].add(student)
    cases: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (exercise, case, _), students in givers.items():
        if 2 <= len(students) <= UNUSUAL_AT_MOST:
            cases[(exercise, tuple(sorted(students)))].append(case)
    groups = [AlikeOutputs(students, exercise, tuple(sorted(names))) for (exercise, students), names in cases.items()]
    return sorted(groups, key=lambda group: (-len(group.cases), group.exercise, group.students))

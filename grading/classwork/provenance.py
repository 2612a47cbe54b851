"""What each grade was made from, so that anyone can say how it was obtained, months later.

`records/provenance/<lab>.jsonl` gets one line per student per grading, appended once the
student's result is journaled, and never cleared (`--force` only adds lines): the submission's
SHA-256, the seed of the student's hidden cases, each exercise's verdict (its problems, and a
digest of the outputs on each case every student shares), the score, and what the grading used:
the hidden tests' and the master's SHA-256, the kit's version and a digest of its code and the
course's configuration, the environment's package list (kept once per content, in
`records/provenance/environments/`), and the limits. `python -m grading explain` replays a
record; `python -m grading autograde --dry-run` compares the records with what the current
hidden tests would say.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from grading.classwork.journal import submission_digest
from grading.course import KIT_ROOT, Course
from grading.preprocessors.execute_in_sandbox import ExecuteInSandbox
from grading.preprocessors.verify_answers import VerifyAnswers, hidden_tests, verdicts_made
from grading.reporting.alike_outputs import latest_records, provenance_path
from grading.reporting.results import StudentResult
from grading.sandbox.launch import Sandbox

PACKAGE = "anomaly-course-kit"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes ("" when it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def code_digest(course: Course) -> str:
    """One SHA-256 of the kit's Python code and the course's nbgrader configuration."""
    files = [(path.relative_to(KIT_ROOT).as_posix(), path) for path in sorted((KIT_ROOT / "grading").rglob("*.py"))]
    digest = hashlib.sha256()
    for name, path in [*files, ("nbgrader_config.py", course.root / "nbgrader_config.py")]:
        digest.update(f"{name}\0{file_digest(path)}\n".encode())
    return digest.hexdigest()


def environment_list() -> list[str]:
    """The Python version and every installed distribution as name==version, sorted."""
    names = {f"{dist.metadata['Name']}=={dist.version}" for dist in metadata.distributions() if dist.metadata["Name"]}
    return [f"python=={platform.python_version()}", *sorted(names, key=str.lower)]


def keep_environment(folder: Path) -> str:
    """The environment list's SHA-256, its text kept once in `folder`."""
    text = "\n".join(environment_list()) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = folder / "environments" / f"{digest}.txt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return digest


def limits(config) -> dict[str, object]:
    """The settings that bound a student's run: each sandbox and time limit, by its nbgrader name."""
    found: dict[str, object] = {}
    for made in (ExecuteInSandbox(config=config), VerifyAnswers(config=config), Sandbox(config=config)):
        for name in sorted(made.traits(config=True)):
            value = getattr(made, name)
            if isinstance(value, (bool, int, float, str)) and not name.startswith(("log", "enabled")):
                found[f"{type(made).__name__}.{name}"] = value
    return found


def grading_context(api, course: Course, lab: str) -> dict:
    """What every student of one grading is graded with."""
    folder = course.records / "provenance"
    return {
        "hidden_tests": file_digest(Path(hidden_tests()[lab].__file__)),  # the module the verdicts come from
        "master": file_digest(course.solutions / lab / f"{lab}.ipynb"),
        "kit": {"version": metadata.version(PACKAGE), "code": code_digest(course)},
        "environment": keep_environment(folder),
        "limits": limits(api.config),
    }


class Provenance:
    """The provenance records of one lab."""

    def __init__(self, course: Course, lab: str):
        self.course, self.lab = course, lab
        self.path = provenance_path(course, lab)

    def record(self, result: StudentResult, context: dict) -> None:
        """Append `result`'s record, with the verdicts its grading just made; on disk before this returns."""
        student = result.student
        made = verdicts_made(self.lab, student)
        entry = {
            "student": student,
            "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "submission": submission_digest(self.course, self.lab, student),
            "seed": made.get("seed") if made.get("verdicts") else None,
            "score": result.score,
            "max_score": result.max_score,
            "failed": result.failed,
            "verdicts": made.get("verdicts", {}),
            **context,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as records:
            records.write(json.dumps(entry) + "\n")
            records.flush()
            os.fsync(records.fileno())

    def latest(self) -> dict[str, dict]:
        """student -> their last record (a line cut short by a crash is skipped)."""
        return latest_records(self.path)

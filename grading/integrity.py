"""The grader's own files, checked before and after every command.

Submitted code runs in sandboxes that cannot write any of these; this check is the second
line: it notices a change to the kit's code, the course's configuration, the masters, the
releases, the hidden tests, the Python environment or IPython's start-up files, however it
was made. A change while a command runs stops it with the list of what changed; a change
since the last command (an instructor's edit, a `pip install`) is listed as a warning, so
that nothing changes unnoticed. The fingerprint of the last command's end is kept in
`records/.fingerprint.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from grading.course import KIT_ROOT, OLD_WORK_AREAS, Course
from grading.errors import IntegrityError

# In the grading package, the correctness corpus (data, never loaded by the grader) and the work
# areas of older versions of the kit (a command then says to move them to records/).
NOT_CODE = ("corpus", *OLD_WORK_AREAS)
SKIPPED_NAMES = ("__pycache__", ".ipynb_checkpoints", ".autoencoder_cache", "data")
# What Jupyter and IPython write as they run, in ~/.jupyter and ~/.ipython: state, not configuration
# (JupyterLab saves its layout in lab/workspaces whenever formgrader's tab moves).
STATE_FOLDERS = ("__pycache__", "workspaces", "runtime")
STATE_FILES = ("migrated",)


def _content_files(course: Course) -> Iterator[Path]:
    yield course.root / "nbgrader_config.py"
    folders = (
        course.solutions,
        course.releases,
        KIT_ROOT / "grading",
        course.root / "grading" / "verdicts" / "hidden_tests",
        KIT_ROOT / "utils",
        KIT_ROOT / "public_tests",
    )
    walked: list[Path] = []
    for folder in folders:
        if not folder.is_dir() or any(folder.is_relative_to(done) for done in walked):
            continue  # in the kit's own course, hidden_tests lies inside the kit's grading folder
        walked.append(folder)
        for current, dirs, files in os.walk(folder):
            skipped = SKIPPED_NAMES + (NOT_CODE if Path(current).name == "grading" else ())
            dirs[:] = sorted(d for d in dirs if d not in skipped)
            for name in sorted(files):
                if not name.endswith((".pyc", ".db", ".csv")) and not name.startswith("."):
                    yield Path(current) / name


def _lab_settings() -> set[str]:
    """JupyterLab's own settings and layout (~/.jupyter/lab), which formgrader's page changes: not the grader's."""
    return {str(Path.home() / ".jupyter" / "lab")}


def _environment_folders() -> list[Path]:
    return sorted({Path(sys.prefix), Path(sys.base_prefix), Path.home() / ".ipython", Path.home() / ".jupyter"})


def _summary(folder: Path) -> dict[str, str]:
    """One digest of the size, time and mode of every file, per folder four levels down (say
    lib/python3.11/site-packages/numpy): enough to name what changed, small enough to keep.

    A walk of its own (os.scandir, each folder's entries listed once) rather than os.walk: the
    environment holds some 80,000 files, and this runs twice per command."""
    digests: dict[str, hashlib._Hash] = {}
    skipped = _lab_settings()
    pending = [(str(folder), str(folder), 0)]
    while pending:
        current, key, depth = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        lines = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                # Bytecode caches change whenever Python first imports a module; the sandboxes cannot write them.
                if entry.name not in STATE_FOLDERS and entry.path not in skipped:
                    pending.append((entry.path, entry.path if depth < 4 else key, depth + 1))
            elif not (entry.name.startswith("history.sqlite") or entry.name in STATE_FILES):  # IPython's, Jupyter's
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                lines.append(f"{entry.name}:{info.st_size}:{info.st_mtime_ns}:{info.st_mode:o}\n")
        digests.setdefault(key, hashlib.sha256()).update(f"{current}\n{''.join(lines)}".encode())
    return {key: digest.hexdigest() for key, digest in digests.items()}


def fingerprint(course: Course) -> dict[str, str]:
    """SHA-256 of each of the kit's and the course's files, and a summary of the environment's."""
    found: dict[str, str] = {}
    for path in _content_files(course):
        if path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    for folder in _environment_folders():
        found.update(_summary(folder))
    return found


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Files added, removed or changed between two fingerprints."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def _stored(course: Course) -> Path:
    return course.records / ".fingerprint.json"


def _describe(changed: list[str]) -> str:
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return f"{len(changed)} file(s): {shown}"


def record(course: Course, now: dict[str, str]) -> None:
    """Keep `now`, the fingerprint of the grader's files just taken.

    Written to a file of its own, then renamed over the kept one: commands that run at the same time
    (two graders, two labs) never read a half-written fingerprint nor interleave their writes."""
    path = _stored(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        written.write_text(json.dumps(now))
        os.replace(written, path)
    finally:
        written.unlink(missing_ok=True)


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def changed_since_last_command(course: Course, now: dict[str, str]) -> list[str]:
    """The grader's files that differ from the fingerprint kept at the end of the last command."""
    try:
        return changes(json.loads(_stored(course).read_text()), now)
    except (OSError, ValueError):
        return []


@contextmanager
def unchanged(
    course: Course, command: str, rewrites_releases: bool = False, warn: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Run a command, saying what changed since the last one, and stop if the grader's files change while it runs.

    `rewrites_releases`: the command's job is to change the releases (`release`)."""
    before = fingerprint(course)
    since = changed_since_last_command(course, before)
    if since:
        (warn or _to_stderr)(
            f"{command}: note: the grader's files changed since the last grading command ({_describe(since)});"
            " if you did not change them, find out who did before grading"
        )
    yield
    after = fingerprint(course)
    changed = [
        path
        for path in changes(before, after)
        if not (rewrites_releases and Path(path).is_relative_to(course.releases))
    ]
    if changed:
        raise IntegrityError(
            f"{command}: the grader's files changed while it ran ({_describe(changed)}); do not use its results:"
            " restore those files (git checkout, make setup) before grading again"
        )
    record(course, after)

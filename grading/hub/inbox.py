"""Submissions handed in through nbgrader's exchange, as the grading service takes them in.

nbgrader's exchange lets every user write in the course's `inbound` folder, and names each
submission `<student>+<lab>+<timestamp>+<random>`: the name, the time in it and every file in the
folder are the submitter's word. The service believes none of it:

- a submission is the student's whose account owns its folder; a folder named for someone else is
  refused (any user can make one, and nbgrader's own `collect` would file it under that name);
- its time is when the service first saw it complete, or the folder's change time if earlier (a
  time no user can set back); the time in its name is ignored;
- only the lab's notebook and nbgrader's `submission_secret.txt` are taken, each only if it is a
  regular file owned by the student, not a link, and not too large; a file is opened without
  following links and checked on the open descriptor, so it cannot be swapped for a link between
  the check and the copy.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from grading.text import printable

NOTEBOOK_LIMIT = 20 * 1024 * 1024  # bytes: the labs' notebooks are well under 1 MB with figures
SECRET_LIMIT = 1024


class Refused(Exception):
    """A submission the service will not take, with the reason the student and instructor read."""


@dataclass(frozen=True)
class Handed:
    """A complete submission in the exchange's inbound: its folder's `name`, the `student` and
    `lab` that name claims, and the `folder`."""

    name: str
    student: str
    lab: str
    folder: Path


def parse_name(name: str) -> tuple[str, str] | None:
    """(student, lab) of an inbound folder's name, as nbgrader writes it; None for another name."""
    parts = name.rsplit("+", 3)
    return (parts[0], parts[1]) if len(parts) == 4 and all(parts) else None


def complete(folder: Path) -> bool:
    """Whether nbgrader's submit has finished writing the folder: it writes the submission's secret
    last (a secret not written yet is an empty file)."""
    try:
        return (folder / "submission_secret.txt").lstat().st_size > 0
    except OSError:
        return False


def waiting(inbound: Path, labs: list[str], known: set[str]) -> list[Handed]:
    """The complete submissions of `labs` in `inbound` that are not `known`, oldest first."""
    found = []
    try:
        entries = sorted(os.scandir(inbound), key=lambda entry: entry.stat(follow_symlinks=False).st_ctime)
    except FileNotFoundError:
        return []
    for entry in entries:
        parsed = parse_name(entry.name)
        if entry.name in known or parsed is None or parsed[1] not in labs:
            continue
        folder = Path(entry.path)
        if entry.is_dir(follow_symlinks=False) and complete(folder):
            found.append(Handed(entry.name, parsed[0], parsed[1], folder))
    return found


def first_seen(handed: Handed, now: float) -> float:
    """The submission's time: now, or its folder's change time if that is earlier."""
    return min(now, handed.folder.lstat().st_ctime)


def owner_check(handed: Handed) -> int:
    """The student's account id, once the folder is shown to be theirs; `Refused` otherwise."""
    try:
        uid = pwd.getpwnam(handed.student).pw_uid
    except KeyError:
        raise Refused(f"no account is named {printable(handed.student, 60)}") from None
    owner = handed.folder.lstat().st_uid
    if owner != uid:
        raise Refused(f"handed in under the name {printable(handed.student, 60)} by another account (uid {owner})")
    return uid


def read_own_file(path: Path, uid: int, limit: int) -> bytes:
    """The bytes of a regular file owned by `uid`, opened without following a link."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise Refused(f"{path.name} is missing") from None
    except OSError:
        raise Refused(f"{path.name} is not a regular file") from None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise Refused(f"{path.name} is not a regular file")
        if info.st_uid != uid:
            raise Refused(f"{path.name} belongs to another account")
        if info.st_size > limit:
            raise Refused(f"{path.name} is larger than {limit // 1024} kB")
        return file.read(limit + 1)[:limit]


def take(handed: Handed, destination: Path, seen: float) -> None:
    """Copy the submission into `destination` (the course's submitted folder of this student and
    lab, emptied first), with nbgrader's `timestamp.txt` set to the service's time for it."""
    uid = owner_check(handed)
    notebook = read_own_file(handed.folder / f"{handed.lab}.ipynb", uid, NOTEBOOK_LIMIT)
    secret = read_own_file(handed.folder / "submission_secret.txt", uid, SECRET_LIMIT)
    destination.mkdir(parents=True, exist_ok=True)
    for old in destination.iterdir():
        if old.is_file() or old.is_symlink():
            old.unlink()
    (destination / f"{handed.lab}.ipynb").write_bytes(notebook)
    (destination / "submission_secret.txt").write_bytes(secret)
    (destination / "timestamp.txt").write_text(timestamp_text(seen))


def timestamp_text(seen: float) -> str:
    """A time as nbgrader writes it in timestamp.txt."""
    return datetime.fromtimestamp(seen, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")

"""Which hidden cases a student gets: a seed drawn from the course's secret and the student's id.

A verdict run must receive its cases' inputs, so the student's code can always see them and
could echo them into its own feedback. If every student were judged on the same inputs, one
such leak would serve the whole class, and every later year of the course. So each student's
cases are drawn from a seed of their own: an HMAC of the lab and the student's id under a
secret that only the grader reads (`records/course_secret`, never committed, made at set-up).
The same student always gets the same seed, so a regrade judges the same cases; another student,
or the same id in another course, gets others; and nobody without the secret can compute one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from grading.errors import CommandError

SECRET_FILE = "course_secret"
SECRET_BYTES = 32


def secret_path(records: Path) -> Path:
    return records / SECRET_FILE


def ensure_course_secret(records: Path) -> Path:
    """The course's secret file, made (readable by its owner alone) if it is not there yet."""
    path = secret_path(records)
    if not path.exists():
        records.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            return path  # made by a grading running beside this one
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(SECRET_BYTES) + "\n")
            file.flush()
            os.fsync(file.fileno())
    return path


def course_secret(records: Path) -> bytes:
    """The course's secret (made on first use); a damaged one is refused in one line."""
    path = ensure_course_secret(records)
    text = path.read_text(errors="replace").strip()
    if len(text) != 2 * SECRET_BYTES or any(char not in "0123456789abcdef" for char in text):
        raise CommandError(
            f"{path} is not a course secret ({2 * SECRET_BYTES} hexadecimal digits): restore it from the "
            "course's backup; a new one would give every student other hidden cases"
        )
    return bytes.fromhex(text)


def seed_for(secret: bytes, lab: str, student: str) -> int:
    """The seed of `student`'s hidden cases in `lab`: 63 bits of HMAC-SHA256 under the course's secret.

    Examples
    --------
    >>> seed_for(bytes(32), "anomaly_detection", "ada") == seed_for(bytes(32), "anomaly_detection", "ada")
    True
    >>> seed_for(bytes(32), "anomaly_detection", "ada") != seed_for(bytes(32), "anomaly_detection", "bob")
    True
    """
    digest = hmac.new(secret, f"{lab}\0{student}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1

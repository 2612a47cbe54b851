"""Intake: decide whether a submission can be graded at all, before nbgrader reads it.

A submitted folder is untrusted input. It is refused, with a reason for the gradebook and the
report, when it holds a symbolic link (or anything that resolves outside it), when it is too
large, or when its notebook is not a notebook: not UTF-8, not JSON, nested deeper than any
notebook is, larger than the limit, or not valid against nbformat's schema. Every error while
reading it, `RecursionError` and `MemoryError` included, becomes such a reason.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import nbformat

from grading.sandbox.protocol import ProtocolError, parse_json

MAX_NOTEBOOK_BYTES = 20_000_000
MAX_FOLDER_BYTES = 50_000_000
MAX_FOLDER_FILES = 500
MAX_NOTEBOOK_DEPTH = 64  # real notebooks nest about 6 levels


def folder_refusal(folder: Path) -> str | None:
    """Why the submitted folder cannot be graded (a link, too many or too large files), or None."""
    total, count = 0, 0
    root = folder.resolve()
    for current, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(current) / name
            relative = path.relative_to(folder)
            if path.is_symlink():
                return f"refused: {relative} is a symbolic link (a submission holds only its own files)"
            if not path.resolve().is_relative_to(root):
                return f"refused: {relative} resolves outside the submission folder"
            if name in files:
                count += 1
                total += path.lstat().st_size
        if count > MAX_FOLDER_FILES:
            return f"refused: the submission holds more than {MAX_FOLDER_FILES} files"
        if total > MAX_FOLDER_BYTES:
            return f"refused: the submission is larger than {MAX_FOLDER_BYTES // 1_000_000} MB"
    return None


def notebook_refusal(path: Path) -> str | None:
    """Why a submitted file is not a notebook the grader will read, or None when it is one.

    A class's grading asks twice per student (as the student's work is prepared, and again as
    nbgrader is about to read it): the file is read and checked once per version of it (device,
    inode, size, modification and change times: a file replaced or written since, even with its
    old modification time put back, is read again)."""
    if not path.is_file() or path.is_symlink():
        return f"no {path.name} in the submission"
    info = path.stat()
    if info.st_size > MAX_NOTEBOOK_BYTES:
        return f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 1_000_000} MB: it cannot be a lab's notebook"
    return _checked_notebook(str(path), (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))


@functools.lru_cache(maxsize=256)
def _checked_notebook(name: str, version: tuple[int, ...]) -> str | None:
    path = Path(name)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{path.name} is not text (not UTF-8): it is not a notebook"
    try:
        parse_json(text, MAX_NOTEBOOK_DEPTH)
    except ProtocolError as error:
        if "nested" in str(error):
            return f"{path.name} is nested too deeply ({error}): it is not a lab's notebook"
        try:
            json.loads(text)
        except json.JSONDecodeError as decode_error:
            return (
                f"{path.name} is not valid notebook JSON ({decode_error.msg}: line {decode_error.lineno},"
                f" column {decode_error.colno})"
            )
        return f"{path.name} is not valid notebook JSON ({error})"
    try:
        nbformat.validate(nbformat.reads(text, as_version=4))
    except Exception as error:  # schema errors of every kind
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"{path.name} is not a valid notebook ({first_line[:160]})"
    return None


def link_refusal(folder: Path, within: Path) -> str | None:
    """Why `folder` is not a real folder of `within`: it, or a folder between them, is a link."""
    path = folder
    while path != within and within in path.parents:
        if path.is_symlink():
            return f"refused: the submission folder {path.relative_to(within)} is a symbolic link"
        path = path.parent
    if not folder.resolve().is_relative_to(within.resolve()):
        return "refused: the submission folder resolves outside the submissions"
    return None


def refusal(folder: Path, notebook: str, within: Path | None = None) -> str | None:
    """Why the submission in `folder` (a folder of `within`, the submissions) cannot be graded, or
    None; never raises."""
    try:
        reason = link_refusal(folder, within) if within is not None else None
        if reason is None and folder.is_dir():
            reason = folder_refusal(folder)
        return reason or notebook_refusal(folder / notebook)
    except RecursionError:
        return f"{notebook} is nested too deeply to be read"
    except MemoryError:
        return f"{notebook} is too large to be read"
    except Exception as error:  # a file that cannot be read at all is still only this student's
        return f"the submission could not be read ({type(error).__name__}: {str(error)[:160]})"

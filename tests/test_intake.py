"""Intake: a submission that cannot be graded is refused with a reason, and never stops the class."""

from __future__ import annotations

import os

import nbformat

from grading.classwork.intake import refusal


def notebook_folder(tmp_path, text: str | bytes):
    folder = tmp_path / "lab"
    folder.mkdir()
    path = folder / "lab.ipynb"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


def test_a_valid_notebook_is_accepted(tmp_path):
    assert refusal(notebook_folder(tmp_path, nbformat.writes(nbformat.v4.new_notebook())), "lab.ipynb") is None


def test_a_deeply_nested_notebook_is_refused_with_a_reason(tmp_path):
    text = '{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert "nested too deeply" in refusal(notebook_folder(tmp_path, text), "lab.ipynb")


def test_a_symlink_in_the_submission_is_refused(tmp_path):
    folder = notebook_folder(tmp_path, nbformat.writes(nbformat.v4.new_notebook()))
    (tmp_path / "gradebook.db").write_text("grades")
    (folder / "notes.txt").symlink_to(tmp_path / "gradebook.db")
    assert (
        refusal(folder, "lab.ipynb") == "refused: notes.txt is a symbolic link (a submission holds only its own files)"
    )


def test_a_notebook_that_is_a_symlink_is_refused(tmp_path):
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "lab.ipynb").symlink_to("/etc/passwd")
    assert refusal(folder, "lab.ipynb").startswith("refused: lab.ipynb is a symbolic link")


def test_a_huge_notebook_is_refused_without_parsing(tmp_path):
    folder = notebook_folder(tmp_path, b" " * 25_000_000)
    assert "larger than 20 MB" in refusal(folder, "lab.ipynb")


def test_invalid_utf8_is_refused(tmp_path):
    assert "not UTF-8" in refusal(notebook_folder(tmp_path, b'{"cells": "\xff\xfe"}'), "lab.ipynb")


def test_a_submission_folder_that_is_a_symlink_is_refused(tmp_path):
    submitted = tmp_path / "submitted"
    (submitted / "student").mkdir(parents=True)
    master = notebook_folder(tmp_path, nbformat.writes(nbformat.v4.new_notebook()))
    (submitted / "student" / "lab").symlink_to(master)
    reason = refusal(submitted / "student" / "lab", "lab.ipynb", within=submitted)
    assert reason == "refused: the submission folder student/lab is a symbolic link"


def test_a_notebook_rewritten_after_it_was_accepted_is_checked_again_even_with_its_old_time(tmp_path):
    folder = notebook_folder(tmp_path, nbformat.writes(nbformat.v4.new_notebook()))
    path = folder / "lab.ipynb"
    assert refusal(folder, "lab.ipynb") is None
    before = path.stat()
    path.write_text('{"cells": "not a list"}'.ljust(before.st_size))  # same size, in place
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and its old modification time
    assert "not a valid notebook" in refusal(folder, "lab.ipynb")

"""Provenance records (`grading.classwork.provenance`): what each grade was made from, kept for good."""

from __future__ import annotations

import hashlib
import json

from grading.classwork.provenance import Provenance, environment_list, keep_environment
from grading.course import Course


def test_the_last_record_of_a_student_counts_and_a_line_cut_short_is_skipped(tmp_path):
    provenance = Provenance(Course(tmp_path), "lab")
    provenance.path.parent.mkdir(parents=True)
    lines = [{"student": "ada", "score": 5}, {"student": "bob", "score": 7}, {"student": "ada", "score": 9}]
    provenance.path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"student": "bob", "sco')
    assert provenance.latest() == {"ada": lines[2], "bob": lines[1]}


def test_the_environment_is_kept_once_per_content_and_names_every_package(tmp_path):
    digest = keep_environment(tmp_path)
    assert keep_environment(tmp_path) == digest
    [kept] = (tmp_path / "environments").iterdir()
    assert kept.name == f"{digest}.txt" and hashlib.sha256(kept.read_bytes()).hexdigest() == digest
    listed = kept.read_text().split()
    assert listed == environment_list() and listed[0].startswith("python==")
    assert any(line.startswith(("numpy==", "nbgrader==")) for line in listed)

"""Replaying grades (`grading.classwork.replay`): `python -m grading explain` says whether a
student's verdicts reproduce and what changed since, and `autograde --dry-run` says whose
per-exercise scores a change of the hidden tests would change, and why, writing nothing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from grading.classwork.provenance import Provenance, file_digest
from grading.classwork.replay import dry_run, explain
from grading.course import KIT_ROOT
from grading.preprocessors.verify_answers import hidden_tests
from grading.reporting.class_report import write_class_report
from grading.verdicts.checks import describe_mismatch
from grading.verdicts.hidden_tests import anomaly_detection
from grading.verdicts.student_cases import course_secret, seed_for

pytestmark = pytest.mark.sandbox

LAB = "anomaly_detection"
CATCH_THE_LAST_BEST = {  # every case of select_threshold on which keeping the last best epsilon fails
    "real_part1",
    "strict_inequality",
    "first_best",
    "random_0",
    "random_1",
    "random_2",
    "past_the_last_epsilon",
}


def grading_command(course, *args):
    return subprocess.run(
        [sys.executable, "-m", "grading", *args, "--course", str(course.root)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def digests(course) -> dict[str, str]:
    """Every file of the course's records, by its SHA-256: what a command that writes nothing leaves alone."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in course.records.rglob("*") if path.is_file()
    }


def test_each_record_holds_the_files_hashes_seed_and_verdicts_of_its_grading(graded_provenance):
    course, records = graded_provenance
    record = records["last_best_epsilon"]
    assert record["seed"] == seed_for(course_secret(course.records), LAB, "last_best_epsilon")
    assert record["hidden_tests"] == file_digest(KIT_ROOT / "grading" / "verdicts" / "hidden_tests" / f"{LAB}.py")
    assert record["master"] == file_digest(course.solutions / LAB / f"{LAB}.ipynb")
    assert record["limits"]["VerifyAnswers.timeout"] > 0 and "Sandbox.memory_mb" in record["limits"]
    assert (course.records / "provenance" / "environments" / f"{record['environment']}.txt").is_file()
    assert record["failed"] == ["test_select_threshold"] and record["score"] == 10
    verdicts = record["verdicts"]
    assert verdicts["test_estimate_gaussian"]["problems"] == []
    assert verdicts["test_select_threshold"]["problems"][0].startswith("the lab's cross-validation set: epsilon is")
    assert set(verdicts["test_select_threshold"]["fixed"]) == {"real_part1"}  # the shared case it gets wrong
    assert records["correct_vectorised"]["verdicts"]["test_select_threshold"]["fixed"] == {}


def test_explain_replays_a_grade_and_says_that_it_reproduces_writing_nothing(graded_provenance):
    course, _ = graded_provenance
    before = digests(course)
    done = grading_command(course, "explain", LAB, "last_best_epsilon")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("explain: last_best_epsilon in anomaly_detection, graded ") and lines[0].endswith(
        ": 10/20"
    )
    for label in ("submission", "hidden tests", "master", "kit", "environment"):
        assert any(line.split()[: len(label.split())] == label.split() and " same" in line for line in lines), label
    assert any(line.startswith("  limits        changed since") for line in lines)  # graded with the tests' limits
    assert "(the course's secret still gives it)" in done.stdout
    assert re.search(
        r"test_select_threshold: recorded failed \d+ check\(s\), first: the lab's cross-validation set: epsilon is",
        done.stdout,
    )
    assert lines[-1] == "last_best_epsilon's verdicts reproduce (2 of 2 exercises)"
    assert digests(course) == before


def test_explain_names_what_changed_since_a_grade_and_a_verdict_that_no_longer_reproduces(
    graded_provenance, monkeypatch
):
    course, records = graded_provenance
    old = dict(records["last_best_epsilon"], hidden_tests="0" * 64)
    environment = course.records / "provenance" / "environments" / f"{old['environment']}.txt"
    older = "\n".join(
        line if not line.startswith("numpy==") else "numpy==1.0.0" for line in environment.read_text().splitlines()
    )
    old["environment"] = hashlib.sha256(older.encode()).hexdigest()
    (environment.parent / f"{old['environment']}.txt").write_text(older)
    path = Provenance(course, LAB).path
    kept = path.read_bytes()
    with open(path, "a") as provenance:
        provenance.write(json.dumps(old) + "\n")  # as recorded before the hidden tests and numpy changed
    weaker(monkeypatch)
    try:
        lines = explain(course.nbgrader_api(register_students=False), course, LAB, "last_best_epsilon")
    finally:
        path.write_bytes(kept)
    assert any(line.startswith("  hidden tests  changed since (was 000000000000, now ") for line in lines)
    assert any(line.startswith("  environment   changed since") and line.endswith(": numpy") for line in lines)
    assert re.search(r"^  test_select_threshold: recorded failed \d+ check\(s\), ", "\n".join(lines), re.MULTILINE)
    assert lines[-2].endswith("replayed passed: DIFFERS")
    assert lines[-1] == "last_best_epsilon's verdicts do not reproduce: test_select_threshold (1 of 2 reproduce)"


def weaker(monkeypatch):
    """The hidden tests of select_threshold without the cases that catch keeping the last best
    epsilon: the kind of change an instructor could make to shorten them."""
    exercise = hidden_tests()[LAB].EXERCISES["test_select_threshold"]
    kept = dataclasses.replace(
        exercise, cases=lambda rng: [case for case in exercise.cases(rng) if case.name not in CATCH_THE_LAST_BEST]
    )
    monkeypatch.setitem(anomaly_detection.EXERCISES, "test_select_threshold", kept)


def test_a_dry_run_after_a_change_of_the_hidden_cases_names_whose_scores_change_and_why_writing_nothing(
    graded_provenance, monkeypatch
):
    course, _ = graded_provenance
    api = course.nbgrader_api(register_students=False)
    before = digests(course)
    assert dry_run(api, course, LAB)[-1] == "0 of 4 students' scores would change; nothing was written"
    weaker(monkeypatch)
    lines = dry_run(api, course, LAB)
    assert lines[1:] == [  # the two answers those cases failed: both_wrong also flags p <= epsilon
        "  both_wrong: test_select_threshold passes (+10 points)",
        "  last_best_epsilon: test_select_threshold passes (+10 points)",
        "2 of 4 students' scores would change; nothing was written",
    ]
    assert digests(course) == before


def test_a_dry_run_after_a_mistaken_reference_names_the_students_who_would_lose_points_and_on_which_case(
    graded_provenance, monkeypatch
):
    """The instructor's new reference flags p <= epsilon: a right answer would lose the exercise."""
    course, _ = graded_provenance
    exercise = hidden_tests()[LAB].EXERCISES["test_select_threshold"]

    def mistaken_reference(y_val, p_val):
        epsilons = anomaly_detection.lab_epsilons(p_val)
        flagged = p_val[None, :] <= epsilons[:, None]
        tp = np.sum(flagged & (y_val == 1), axis=1)
        f1 = 2 * tp / (2 * tp + np.sum(flagged & (y_val == 0), axis=1) + np.sum(~flagged & (y_val == 1), axis=1))
        return float(epsilons[np.argmax(f1)])

    def compare(case, outputs):
        problem = describe_mismatch(
            "epsilon", np.float64(mistaken_reference(*case.args)), outputs[0], rtol=1e-6, atol=0.0
        )
        return [problem] if problem else []

    monkeypatch.setitem(
        anomaly_detection.EXERCISES, "test_select_threshold", dataclasses.replace(exercise, compare=compare)
    )
    lines = dry_run(course.nbgrader_api(register_students=False), course, LAB)
    losing = [line for line in lines[1:-1] if "test_select_threshold fails (-10 points): " in line]
    assert [line.split(":")[0].strip() for line in losing] == ["correct_vectorised", "sample_variance"]
    assert all(": epsilon is" in line for line in losing)
    assert "  both_wrong: test_select_threshold passes (+10 points)" in lines  # the answer that flags p <= epsilon
    assert lines[-1] == "3 of 4 students' scores would change; nothing was written"


def test_the_class_report_groups_the_two_answers_that_give_the_same_wrong_variance(graded_provenance):
    course, _ = graded_provenance
    page = write_class_report(course, LAB).read_text()
    shown = page[page.index("<h2>Alike wrong outputs") : page.index("<h2>Every student")]
    assert "Alike wrong outputs (1 group)" in shown
    assert "<td>both_wrong, sample_variance</td><td>test_estimate_gaussian</td><td>real_11d, real_2d</td>" in shown

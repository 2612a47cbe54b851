"""`AttemptPolicy` and the `Ledger` of attempts: how many submissions are graded, which one counts,
and what a student is told; the ledger survives a line cut short by a crash."""

from __future__ import annotations

import doctest

from grading import attempts
from grading.attempts import AttemptPolicy, Ledger
from grading.course import Course

LAB = "anomaly_detection"


def test_the_examples_of_the_docstring_hold():
    assert doctest.testmod(attempts).failed == 0


def grade(ledger: Ledger, name: str, late: bool, score: float) -> None:
    attempt = ledger.attempts()[name]
    attempt.state, attempt.late, attempt.score, attempt.max_score = "graded", late, score, 20.0
    ledger.record(attempt)


def test_attempts_past_the_limit_are_refused_and_not_counted_against_the_next_lab(tmp_path):
    policy, ledger = AttemptPolicy(attempts=2), Ledger(Course(tmp_path), LAB)
    numbers = [ledger.admit(policy, f"ada+{LAB}+t+{i}", "ada", float(i)).number for i in range(3)]
    assert numbers == [1, 2, 0]
    assert ledger.attempts()[f"ada+{LAB}+t+2"].why == "all 2 graded attempts of this lab are used"
    assert ledger.admit(policy, f"bob+{LAB}+t+0", "bob", 5.0).number == 1
    assert Ledger(Course(tmp_path), "timeseries_autoencoder").admit(policy, "ada+ts+t+0", "ada", 6.0).number == 1


def test_the_last_attempt_on_time_counts_unless_the_policy_says_the_last(tmp_path):
    policy, ledger = AttemptPolicy(attempts=3), Ledger(Course(tmp_path), LAB)
    for i, late in enumerate([False, False, True]):
        ledger.admit(policy, f"ada+{LAB}+t+{i}", "ada", float(i))
        grade(ledger, f"ada+{LAB}+t+{i}", late, 10.0 + i)
    assert ledger.counted(policy, "ada").number == 2
    assert ledger.statement(policy, "ada", f"ada+{LAB}+t+2") == (
        "Attempt 3 of 3 (late); 0 left. The attempt that counts is attempt 2, the last one handed in on time."
    )
    assert ledger.statement(policy, "ada", f"ada+{LAB}+t+1").endswith("This attempt is the one that counts.")
    assert ledger.counted(AttemptPolicy(counted="last"), "ada").number == 3


def test_only_late_attempts_leave_the_last_one_counting(tmp_path):
    policy, ledger = AttemptPolicy(attempts=3), Ledger(Course(tmp_path), LAB)
    for i in range(2):
        ledger.admit(policy, f"ada+{LAB}+t+{i}", "ada", float(i))
        grade(ledger, f"ada+{LAB}+t+{i}", True, 5.0)
    assert ledger.counted(policy, "ada").number == 2


def test_a_line_cut_short_leaves_the_attempts_earlier_state(tmp_path):
    policy, ledger = AttemptPolicy(), Ledger(Course(tmp_path), LAB)
    ledger.admit(policy, f"ada+{LAB}+t+0", "ada", 0.0)
    with open(ledger.path, "a") as file:
        file.write('{"name": "ada+anomaly_detection+t+0", "student": "ada", "se')
    assert ledger.attempts()[f"ada+{LAB}+t+0"].state == "waiting"


def test_the_hourly_limit_frees_an_attempt_an_hour_after_the_first_of_the_hour(tmp_path):
    policy, ledger = AttemptPolicy(attempts=5, per_hour=2), Ledger(Course(tmp_path), LAB)
    states = [ledger.admit(policy, f"ada+{LAB}+t+{t}", "ada", t).state for t in (0.0, 10.0, 20.0, 3600.5)]
    assert states == ["waiting", "waiting", "refused", "waiting"]

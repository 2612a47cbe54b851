"""The instructor's live page of grading on submission: counts, the histogram of the scores that
count, and the queue, with every name escaped."""

from __future__ import annotations

from grading.attempts import Attempt, AttemptPolicy, Ledger
from grading.course import Course
from grading.hub.status_page import histogram, lab_view, render

LAB = "anomaly_detection"


def test_the_histogram_puts_each_score_in_its_tenth_and_the_maximum_in_the_last():
    assert histogram([0.0, 0.05, 0.5, 0.99, 1.0]) == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]


def test_the_page_counts_the_students_and_shows_the_queue_with_names_escaped(tmp_path):
    policy, ledger = AttemptPolicy(), Ledger(Course(tmp_path), LAB)
    for i, student in enumerate(["ada", "bob", "<b>eve</b>"]):
        attempt = ledger.admit(policy, f"{student}+{LAB}+t+{i}", student, 100.0 + i)
        if student != "<b>eve</b>":
            attempt.state, attempt.score, attempt.max_score = "graded", 10.0 * (i + 1), 20.0
            ledger.record(attempt)
    waiting = [a for a in ledger.attempts().values() if a.state == "waiting"]
    page = render([lab_view(ledger, policy, len(waiting))], waiting, {waiting[0].name: 150.0}, now=160.0)
    assert "<b>3</b> submitted, <b>2</b> graded, <b>1</b> waiting" in page
    assert "&lt;b&gt;eve&lt;/b&gt;" in page and "<b>eve</b>" not in page
    assert "being graded for 10 s" in page and "<td>58 s</td>" in page


def test_a_refused_attempt_is_not_a_submission_on_the_page(tmp_path):
    ledger = Ledger(Course(tmp_path), LAB)
    ledger.record(Attempt(f"ada+{LAB}+t+0", "ada", 0.0, state="refused", why="handed in by another account", lab=LAB))
    assert lab_view(ledger, AttemptPolicy(), 0).submitted == 0

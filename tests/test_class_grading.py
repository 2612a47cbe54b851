"""A whole class autograded by real nbgrader on a real gradebook (one batch, shared by the tests)."""
import csv

import pytest

from grading.sample_class import BROKEN, UNMODIFIED, corpus
from exploits import EXPLOITS

LAB = "anomaly_detection"
CORPUS_ENTRIES = [entry.name for entry in corpus(LAB)]


def expected_score(graded_class, student):
    lost = sum(graded_class.points[grade_id] for grade_id in graded_class.expected_fails[student])
    return sum(graded_class.points.values()) - lost


@pytest.mark.parametrize("student", CORPUS_ENTRIES)
def test_corpus_entry_loses_exactly_the_points_of_its_wrong_exercises(graded_class, student):
    result = graded_class.results[student]
    assert set(result.failed) == graded_class.expected_fails[student]
    assert result.score == expected_score(graded_class, student)
    assert result.max_score == sum(graded_class.points.values())


@pytest.mark.parametrize("student", sorted(EXPLOITS))
def test_trick_earns_no_points(graded_class, student):
    result = graded_class.results[student]
    assert set(result.failed) == graded_class.expected_fails[student]
    assert result.max_score == sum(graded_class.points.values())


def test_correct_variants_are_many_and_all_get_full_marks(graded_class):
    correct = [entry for entry in corpus(LAB) if entry.name.startswith("correct_")]
    assert len(correct) >= 6
    assert all(graded_class.results[entry.name].score == 20 for entry in correct)


def test_unmodified_release_scores_zero(graded_class):
    assert graded_class.results[UNMODIFIED].score == 0


def test_broken_notebook_is_recorded_with_zero_and_a_reason(graded_class):
    result = graded_class.results[BROKEN]
    assert result.score == 0
    assert result.notes[0].startswith("anomaly_detection.ipynb is not valid notebook JSON (")


def test_endless_loop_is_stopped_and_noted(graded_class):
    notes = " ".join(graded_class.results["endless_loop"].notes)
    assert "time limit" in notes


def test_dead_kernel_is_noted_and_costs_only_the_exercise_that_crashed(graded_class):
    result = graded_class.results["kills_kernel"]
    assert "the kernel died" in " ".join(result.notes)
    assert result.failed == ["test_estimate_gaussian"]


def test_flood_of_output_is_truncated_in_the_graded_notebook(graded_class):
    result = graded_class.results["floods_output"]
    assert "output was truncated" in " ".join(result.notes)
    size = graded_class.course.autograded_notebook(LAB, "floods_output").stat().st_size
    assert size < 2_000_000


def test_wrong_answer_is_explained_in_the_graded_notebook(graded_class):
    text = graded_class.course.autograded_notebook(LAB, "sample_variance").read_text()
    assert "estimate_gaussian is not correct yet" in text
    assert "WrongAnswer" in text


def test_gradebook_export_lists_every_student_with_the_same_score(graded_class):
    with open(graded_class.course.grades_csv, newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(graded_class.results)
    for student, result in graded_class.results.items():
        assert float(rows[student]["score"]) == result.score, student


def test_feedback_is_written_for_every_graded_student(graded_class):
    graded = [s for s in graded_class.results if s != BROKEN]
    for student in graded:
        page = graded_class.course.feedback / student / LAB / f"{LAB}.html"
        assert page.is_file(), student
    assert "estimate_gaussian is not correct yet" in (
        graded_class.course.feedback / "sample_variance" / LAB / f"{LAB}.html").read_text()

"""Whole classes autograded by real nbgrader on a real gradebook (one batch per lab, shared by the tests)."""

import csv

import pytest
from exploits import EXPLOITS

from grading.course import Course
from grading.preprocessors.verify_answers import hidden_tests
from grading.sample_class import BROKEN, UNMODIFIED, corpus

LAB = "anomaly_detection"
LABS = tuple(Course().labs())
CORPUS_ENTRIES = [(lab, entry.name) for lab in LABS for entry in corpus(lab)]


def expected_score(graded_class, student):
    lost = sum(graded_class.points[grade_id] for grade_id in graded_class.expected_fails[student])
    return sum(graded_class.points.values()) - lost


@pytest.mark.parametrize(("lab", "student"), CORPUS_ENTRIES)
def test_corpus_entry_loses_exactly_the_points_of_its_wrong_exercises(graded_classes, lab, student):
    graded_class = graded_classes(lab)
    result = graded_class.results[student]
    assert set(result.failed) == graded_class.expected_fails[student]
    assert result.score == expected_score(graded_class, student)
    assert result.max_score == sum(graded_class.points.values())


@pytest.mark.parametrize("student", sorted(EXPLOITS))
def test_trick_earns_no_points(graded_class, student):
    result = graded_class.results[student]
    assert set(result.failed) == graded_class.expected_fails[student]
    assert result.max_score == sum(graded_class.points.values())


@pytest.mark.parametrize("lab", LABS)
def test_correct_variants_are_many_and_all_get_full_marks(graded_classes, lab):
    """At least as many right answers as graded exercises, each written another way."""
    graded_class = graded_classes(lab)
    correct = [entry for entry in corpus(lab) if entry.name.startswith("correct_")]
    assert len(correct) >= max(2, len(graded_class.points))
    full_marks = sum(graded_class.points.values())
    assert {entry.name: graded_class.results[entry.name].score for entry in correct} == {
        entry.name: full_marks for entry in correct
    }


@pytest.mark.parametrize("lab", LABS)
def test_unmodified_release_scores_zero(graded_classes, lab):
    assert graded_classes(lab).results[UNMODIFIED].score == 0


@pytest.mark.parametrize("lab", LABS)
def test_broken_notebook_is_recorded_with_zero_and_a_reason(graded_classes, lab):
    result = graded_classes(lab).results[BROKEN]
    assert result.score == 0
    assert result.notes[0].kind == "not graded" and result.notes[0].text.startswith(
        f"{lab}.ipynb is not valid notebook JSON ("
    )


def test_endless_loop_is_stopped_and_noted(graded_class):
    notes = graded_class.results["endless_loop"].said()
    assert "time limit" in notes


@pytest.mark.parametrize("lab", [lab for lab in LABS if "kills_kernel" in {entry.name for entry in corpus(lab)}])
def test_dead_kernel_is_noted_and_costs_only_the_exercise_that_crashed(graded_classes, lab):
    graded_class = graded_classes(lab)
    result = graded_class.results["kills_kernel"]
    assert "the kernel died" in result.said()
    assert set(result.failed) == graded_class.expected_fails["kills_kernel"] != set()


def test_flood_of_output_is_truncated_in_the_graded_notebook(graded_class):
    result = graded_class.results["floods_output"]
    assert "output was truncated" in result.said()
    size = graded_class.course.autograded_notebook(LAB, "floods_output").stat().st_size
    assert size < 2_000_000


def explained_failures(lab: str) -> list[tuple[str, str]]:
    """(student, function) for each exercise a corpus entry of `lab` must fail."""
    exercises = hidden_tests()[lab].EXERCISES
    return [(entry.name, exercises[grade_id].function) for entry in corpus(lab) for grade_id in sorted(entry.fails)]


@pytest.mark.parametrize("lab", LABS)
def test_each_wrong_answer_is_explained_in_the_graded_notebook_and_the_feedback(graded_classes, lab):
    course = graded_classes(lab).course
    failures, unexplained = explained_failures(lab), []
    for student, function in failures:
        graded = course.autograded_notebook(lab, student).read_text()
        page = (course.feedback / student / lab / f"{lab}.html").read_text()
        if not all(f"{function} is not correct yet" in text and "WrongAnswer" in text for text in (graded, page)):
            unexplained.append((student, function))
    assert failures and unexplained == []


@pytest.mark.parametrize("lab", LABS)
def test_gradebook_export_lists_every_student_with_the_same_score(graded_classes, lab):
    graded_class = graded_classes(lab)
    with open(graded_class.course.grades_csv, newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == lab}
    assert set(graded_class.results) <= set(rows)
    for student, result in graded_class.results.items():
        assert float(rows[student]["score"]) == result.score, student
    assert {rows[student]["status"] for student in graded_class.results} == {"submitted"}
    # A submission folder that is a link is refused and never read or written through: no timestamp.
    real = [
        student
        for student in graded_class.results
        if not graded_class.course.submission(lab, student).parent.is_symlink()
    ]
    assert {student: rows[student]["timestamp"] for student in real if not rows[student]["timestamp"]} == {}


def test_export_keeps_a_missing_submission_apart_from_a_zero(graded_classes):
    """Students of one lab have no submission of the other: not a score of 0, but no score at all."""
    graded_classes("anomaly_detection")
    graded_class = graded_classes("timeseries_autoencoder")
    with open(graded_class.course.grades_csv, newline="") as handle:
        rows = [
            row
            for row in csv.DictReader(handle)
            if row["assignment"] == "timeseries_autoencoder" and row["student_id"] not in graded_class.results
        ]
    assert rows
    assert {(row["status"], row["score"]) for row in rows} == {("not submitted", "")}


@pytest.mark.parametrize("lab", LABS)
def test_feedback_is_written_for_every_graded_student(graded_classes, lab):
    graded_class = graded_classes(lab)
    graded = [s for s in graded_class.results if s != BROKEN]
    for student in graded:
        page = graded_class.course.feedback / student / lab / f"{lab}.html"
        assert page.is_file(), student


def test_a_correct_submission_shows_the_trained_network_in_its_feedback(graded_classes):
    """The notebook ran to the end with the network trained (or found in the course's cache)."""
    lab = "timeseries_autoencoder"
    text = (graded_classes(lab).course.feedback / "correct_loops" / lab / f"{lab}.html").read_text()
    assert "Layers: [30, 20, 10, 5, 10, 20, 30]" in text
    assert "Windows: precision 1.0000, recall 1.0000, F1 1.0000" in text


PROGRESS_ON_A_PTY = """
import time
from grading.classwork.autograde_class import progress_bar
bar, say = progress_bar(3, print)
for number in range(3):
    time.sleep(0.2)
    bar.update()
    say(f"student {number}")
bar.close()
"""


def test_the_progress_bar_shows_on_a_terminal_that_reports_no_size():
    """A pty made by a program (ssh without a size, an editor's terminal) reports 0 x 0: tqdm alone draws nothing there."""
    import os
    import pty
    import sys

    pid, terminal = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", PROGRESS_ON_A_PTY])
    shown = b""
    while True:
        try:
            data = os.read(terminal, 1 << 16)
        except OSError:
            break
        if not data:
            break
        shown += data
    os.waitpid(pid, 0)
    text = shown.decode(errors="replace")
    assert "student 2" in text
    assert "1/3 [" in text and "student/s" in text, text


def test_a_resubmission_copied_over_the_first_gets_its_own_timestamp(tmp_path):
    import os

    from grading.classwork.autograde_class import stamp_submission
    from grading.course import Course

    course = Course(tmp_path)
    notebook = course.submission("lab", "ada")
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}")
    os.utime(notebook, (1_700_000_000, 1_700_000_000))
    stamp_submission(course, "lab", "ada")
    stamp = notebook.parent / "timestamp.txt"
    assert stamp.read_text() == "2023-11-14 22:13:20.000000 UTC"
    notebook.write_text('{"cells": []}')  # the resubmission, saved now
    os.utime(notebook, (stamp.stat().st_mtime + 60,) * 2)
    stamp_submission(course, "lab", "ada")
    resubmitted = stamp.read_text()
    assert resubmitted > "2024" and resubmitted.endswith(" UTC"), resubmitted
    stamp.write_text("2026-01-01 00:00:00.000000 UTC")  # a collector's stamp, written after the notebook
    os.utime(stamp, (notebook.stat().st_mtime + 1,) * 2)
    stamp_submission(course, "lab", "ada")
    assert stamp.read_text() == "2026-01-01 00:00:00.000000 UTC"


TIGHT_LIMIT = 1  # second per cell: an idle machine runs each of the first lab's cells well within it


@pytest.mark.sandbox
def test_under_cpu_load_an_honest_students_notebook_runs_to_the_end_because_cells_count_their_own_time(
    tmp_path, course_template
):
    """A busy grader (three spinning processes per core beside the class) with a tight cell limit:
    counting each cell's own time, the honest student's notebook runs to the end, earns full marks
    and gets a page without a time-out. With the allowance off (ExecuteInSandbox.load_allowance=0,
    the wall clock alone), the same grading stops some of its cells (measured).

    The machine is busy from the moment the class goes to the pool (the student's cells and hidden
    tests run, then nbgrader's pipeline) until the student's result line: the coordinator's steps
    before and after (the gradebook's registration, the class report) have no time limit to keep,
    and at a seventh of the CPUs they took most of the test's minutes."""
    from busy import BusyMachine

    from grading.classwork.autograde_class import autograde_class
    from grading.cli import copy_course, feedback
    from grading.sample_class import BASE_ENTRY, released_notebook, submission_of, write_submission

    course = copy_course(course_template, tmp_path / "course")  # its cache is filled: no master runs here
    entries = {entry.name: entry for entry in corpus(LAB)}
    honest = submission_of(entries["correct_loops"], entries[BASE_ENTRY], released_notebook(course, LAB))
    write_submission(course, LAB, "ada", honest)
    limits = {"ExecuteInSandbox.timeout": TIGHT_LIMIT, "ExecuteInSandbox.responsive_wait": 1}
    busy, said = BusyMachine(), []

    def progress(line: str) -> None:
        said.append(line)
        if "submission(s) to grade on" in line:  # the pool starts: from here the student's code runs
            busy.start()
        elif line.startswith("[1/1] ada: "):  # graded; what follows has no time limit
            busy.stop()

    try:
        results = autograde_class(course, LAB, progress=progress, workers=1, **limits)
    finally:
        busy.stop()
    assert busy.started, said  # the student's cells ran on the busy machine
    assert [(result.student, result.score, result.notes) for result in results] == [("ada", 20, [])]
    feedback(course, LAB)
    page = (course.feedback / "ada" / LAB / f"{LAB}.html").read_text()
    assert "time limit" not in page and "was stopped" not in page


def test_the_locked_cells_a_student_changed_are_named_in_their_notes_and_nobody_elses(graded_class):
    notes = {student: result.said() for student, result in graded_class.results.items()}
    assert "changed or removed locked cells (test_estimate_gaussian)" in notes["cheat-edited-test-cell"]
    assert "test_estimate_gaussian, test_select_threshold" in notes["cheat-deleted-test-cells"]
    assert not any("locked cells" in notes[entry.name] for entry in corpus(LAB))

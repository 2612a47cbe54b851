"""The instructor's command line, `python -m grading ...`, run as the instructor runs it (no kernels)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from grading.cli import copy_course
from grading.course import Course
from grading.reporting.report import format_table
from grading.reporting.results import StudentResult

REPO_ROOT = Path(__file__).resolve().parent.parent
LAB = "anomaly_detection"
LABS = "anomaly_detection, timeseries_autoencoder"
BROKEN_NOTE = "anomaly_detection.ipynb is not valid notebook JSON (Expecting value: line 1, column 1)"
LIMIT_NOTES = ["a cell ran past the time limit and was interrupted", "output was truncated (a cell printed too much)"]
RESULTS = [
    StudentResult("alice", 20.0, 20.0),
    StudentResult("bob", 10.0, 20.0, ["test_select_threshold"]),
    StudentResult(
        "carol-with-a-long-id", 0.0, 20.0, ["test_estimate_gaussian", "test_select_threshold"], [BROKEN_NOTE]
    ),
    StudentResult("dan", 7.5, 20.0, ["test_select_threshold"], LIMIT_NOTES),
]
EXPECTED_ROWS = {  # student -> score, max, failed tests, notes as the table shows them
    "alice": ["20", "20", "-", ""],
    "bob": ["10", "20", "test_select_threshold", ""],
    "carol-with-a-long-id": ["0", "20", "test_estimate_gaussian, test_select_threshold", BROKEN_NOTE],
    "dan": ["7.5", "20", "test_select_threshold", "; ".join(LIMIT_NOTES)],
}


def grading(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grading", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def never_graded_course(tmp_path_factory) -> Course:
    """A scratch course that was never autograded."""
    return copy_course(Course(), tmp_path_factory.mktemp("cli") / "course")


@pytest.fixture(scope="module")
def report_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """`report` on a scratch course whose report is RESULTS, written as `autograde_class` writes it."""
    course = copy_course(Course(), tmp_path_factory.mktemp("cli_report") / "course")
    course.reports.mkdir(parents=True)
    (course.reports / f"{LAB}.json").write_text(json.dumps([asdict(result) for result in RESULTS], indent=1))
    return grading("report", LAB, "--course", str(course.root))


def table_rows(table: str) -> dict[str, list[str]]:
    """Student -> [score, max, failed tests, notes], split on the table's two-space column gaps."""
    lines = table.splitlines()[3:]  # after the summary, the header and the rule
    rows = [re.split(r"  +", line) for line in lines]
    return {cells[0]: cells[1:] + [""] * (5 - len(cells)) for cells in rows}


@pytest.mark.parametrize("command", ["release", "autograde", "feedback", "report"])
def test_unknown_lab_fails_with_one_line_naming_it_and_the_labs(command):
    done = grading(command, "no_such_lab")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"grading: no lab 'no_such_lab' in {REPO_ROOT / 'solutions'}: choose one of {LABS}"
    ]
    assert done.stdout == ""


@pytest.mark.parametrize(
    "command, refused",
    [
        (["export", "--workers", "2"], "--workers 2"),
        (["release", "--force"], "--force"),
        (["report", LAB, "extra"], "extra"),
        (["feedback", LAB, "--timeout", "5"], "--timeout 5"),
    ],
    ids=["export --workers", "release --force", "report LAB extra", "feedback --timeout"],
)
def test_a_command_given_what_it_does_not_take_fails_with_one_line_naming_it(command, refused):
    done = grading(*command)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"grading: {command[0]} does not take {refused}: see python -m grading {command[0]} --help"
    ]
    assert done.stdout == ""


def test_autograde_without_a_lab_fails_with_one_line():
    done = grading("autograde")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"grading: 'autograde' needs a lab: one of {LABS}"]


def test_report_before_any_autograde_says_to_autograde_first(never_graded_course):
    done = grading("report", LAB, "--course", str(never_graded_course.root))
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert str(never_graded_course.reports / f"{LAB}.json") in line
    assert "autograde the class first" in line


@pytest.mark.sandbox
def test_autograde_of_a_lab_without_submissions_says_so_in_one_line(never_graded_course):
    done = grading("autograde", LAB, "--course", str(never_graded_course.root))
    assert done.returncode == 1
    [line] = [line for line in done.stderr.splitlines() if line.startswith("grading: ")]
    assert f"no submissions of {LAB} to grade" in line and str(never_graded_course.submitted) in line
    assert done.stdout == ""


def test_feedback_before_any_autograde_says_to_autograde_first(never_graded_course):
    done = grading("feedback", LAB, "--course", str(never_graded_course.root))
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if line.startswith("grading: ")] == [
        f"grading: no autograded submissions of {LAB}: run 'python -m grading autograde {LAB}' first"
    ]
    assert "generate_feedback" not in done.stderr


def test_a_table_of_one_submission_says_submission():
    assert format_table(LAB, RESULTS[:1]).splitlines()[0] == f"{LAB}: 1 submission, mean 20.0/20"


def test_report_prints_a_row_per_student_of_the_last_autograde(report_run):
    assert report_run.returncode == 0, report_run.stderr
    assert table_rows(report_run.stdout) == EXPECTED_ROWS


def test_report_prints_the_same_table_as_format_table(report_run):
    assert report_run.stdout == format_table(LAB, RESULTS) + "\n"


def test_table_starts_with_the_count_and_the_mean_score():
    assert format_table(LAB, RESULTS).splitlines()[0] == f"{LAB}: 4 submissions, mean 9.4/20"


def test_table_columns_line_up_under_their_headers_and_rule():
    lines = format_table(LAB, RESULTS).splitlines()
    header, rule, rows = lines[1], lines[2], lines[3:]
    starts = [header.index(name) for name in ("score", "max", "failed tests", "notes")]
    assert [dashes.start() for dashes in re.finditer(r"-+", rule)] == [0, *starts]
    for row, cells in zip(rows, EXPECTED_ROWS.values()):
        for start, cell in zip(starts, cells):
            if cell:
                assert row[start - 2 : start + len(cell)] == "  " + cell


def test_table_lines_have_no_trailing_spaces():
    assert all(line == line.rstrip() for line in format_table(LAB, RESULTS).splitlines())


def test_table_of_no_submissions_has_a_zero_mean():
    assert format_table(LAB, []).splitlines()[0] == f"{LAB}: 0 submissions, mean 0.0/0"


def test_help_describes_every_command():
    done = grading("--help")
    assert done.returncode == 0
    commands = re.search(r"\{([a-z,-]+)\}", done.stdout).group(1).split(",")
    described = re.findall(r"^    ([a-z-]+) ", done.stdout, flags=re.MULTILINE)
    assert sorted(described) == sorted(commands)


def test_a_folder_that_is_not_a_course_gets_one_line(tmp_path):
    done = grading("report", "anomaly_detection", "--course", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"grading: {tmp_path.resolve()} is not a course folder (no nbgrader_config.py): pass --course DIR"
    ]


def test_a_damaged_report_gets_one_line_saying_to_autograde_again(tmp_path):
    course = copy_course(Course(), tmp_path / "course")
    course.reports.mkdir(parents=True)
    (course.reports / "anomaly_detection.json").write_text("[{not json")
    done = grading("report", "anomaly_detection", "--course", str(course.root))
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "is damaged" in line and "autograde the class again" in line


def test_on_a_narrow_terminal_failed_tests_and_long_ids_are_cut_before_notes():
    results = [
        StudentResult(
            "a-student-id-of-many-characters",
            0,
            20,
            ["test_estimate_gaussian", "test_select_threshold"],
            ["the kernel died (did the code exit Python?)"],
        )
    ]
    lines = format_table("anomaly_detection", results, width=100).splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[-1].endswith("  the kernel died (did the code exit Python?)")
    assert "test_estimate_gaussian, test_select_threshold" not in lines[-1] and "…" in lines[-1]
    narrow = format_table("anomaly_detection", results, width=80).splitlines()
    assert max(len(line) for line in narrow) <= 80
    assert "  the kernel died (did the code" in narrow[-1]


def test_the_table_fits_a_terminal_by_cutting_long_notes():
    results = [StudentResult("long-notes", 0, 20, ["test_estimate_gaussian"], ["a reason " * 40])]
    lines = format_table("anomaly_detection", results, width=100).splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[-1].endswith("…")


def test_a_copied_course_keeps_the_lab_cache_and_the_marker_naming_its_master(tmp_path):

    source = copy_course(Course(), tmp_path / "source")
    cache = source.cache
    (cache / "shared-cells").mkdir(parents=True)
    (cache / "shared-cells" / "anomaly_detection.json").write_text("{}")
    (cache / ".anomaly_detection.master").write_text("digest")
    copy = copy_course(source, tmp_path / "copy")
    assert (copy.cache / "shared-cells" / "anomaly_detection.json").read_text() == "{}"
    assert (copy.cache / ".anomaly_detection.master").read_text() == "digest"

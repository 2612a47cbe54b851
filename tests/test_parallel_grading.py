"""A class graded by several workers, on this machine or on a Dask cluster, gets exactly the grades
of nbgrader's own serial run; a grading killed midway resumes without losing or regrading anyone.

One small class of the first lab (correct answers, typical mistakes, a crash, a flood, the
unmodified release and a broken file) is graded in separate copies of the course: by plain
`nbgrader autograde` (one student after another, each run in a sandbox of its own), and by the
kit with one and with two workers, with a kill -9 in the middle, and on a real Dask cluster over
TLS (`dask scheduler` and two `dask worker` processes on loopback, started with the certificates
of `python -m grading cluster-certs`) one of whose workers is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grading.cli import copy_course
from grading.course import Course, put_environment_on_path
from grading.sample_class import BASE_ENTRY, corpus, fill_answers, released_notebook, submission_of, write_submission

LAB = "anomaly_detection"
ENTRIES = (
    "correct_vectorised",
    "less_or_equal",
    "sample_variance",
    "kills_kernel",
    "floods_output",
    "raises_at_definition",
)
LIMITS = ["--timeout", "5"]
PYTHON = sys.executable

pytestmark = pytest.mark.sandbox


def write_class(course: Course) -> list[str]:
    notebook = released_notebook(course, LAB)
    entries = {entry.name: entry for entry in corpus(LAB)}
    for name in ENTRIES:
        write_submission(course, LAB, name, submission_of(entries[name], entries[BASE_ENTRY], notebook))
    write_submission(course, LAB, "unmodified_release", notebook)
    whole = json.dumps(fill_answers(notebook, entries[BASE_ENTRY].cells))
    write_submission(course, LAB, "broken_notebook", whole[: len(whole) // 2])
    return sorted([*ENTRIES, "unmodified_release", "broken_notebook"])


def fresh_course(template: Course, root: Path) -> Course:
    """A copy of the session's course (release built, lab cache filled) with the small class in it."""
    course = copy_course(template, root)
    write_class(course)
    return course


def kit(course: Course, *args: str, **popen) -> subprocess.Popen:
    put_environment_on_path()
    return subprocess.Popen(
        [PYTHON, "-m", "grading", "autograde", LAB, "--course", str(course.root), *LIMITS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def cell_scores(course: Course) -> dict[str, dict[str, float]]:
    """student -> grade cell -> score, as the gradebook holds them."""
    from nbgrader.api import Gradebook

    api = course.nbgrader_api()
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        return {
            submission.student_id: {
                grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades
            }
            for submission in gradebook.assignment_submissions(LAB)
        }


def journal_lines(course: Course) -> list[str]:
    path = course.reports / f"{LAB}.journal.jsonl"
    return path.read_text().splitlines() if path.is_file() else []


def wait_for_journal(course: Course, lines: int, grading: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(journal_lines(course)) < lines:
        assert grading.poll() is None, f"the grading ended early:\n{grading.communicate()[0]}"
        assert time.monotonic() < deadline, f"fewer than {lines} students graded in {timeout} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stock_scores(tmp_path_factory, course_template) -> dict[str, dict[str, float]]:
    """Per-cell scores of nbgrader's own `autograde`, one student after another."""
    course = fresh_course(course_template, tmp_path_factory.mktemp("stock") / "course")
    put_environment_on_path()
    from grading.classwork.autograde_class import ensure_in_gradebook

    ensure_in_gradebook(course.nbgrader_api(), course, LAB)
    nbgrader = Path(PYTHON).parent / "nbgrader"
    subprocess.run(
        [str(nbgrader), "autograde", LAB, "--ExecuteInSandbox.timeout=5"],
        cwd=course.root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    scores = cell_scores(course)
    assert {student for student in scores if scores[student]} >= set(ENTRIES)
    return scores


def comparable(scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Students nbgrader itself could grade (it drops the broken file, which the kit grades 0)."""
    return {student: cells for student, cells in scores.items() if student != "broken_notebook"}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_per_cell_scores_are_nbgraders_whatever_the_number_of_workers(tmp_path, course_template, stock_scores, workers):
    course = fresh_course(course_template, tmp_path / "course")
    output = finish(kit(course, "--workers", workers))
    assert f"on {workers} local worker(s)" in output
    assert "\r" not in output and "/student" not in output and "student/s" not in output  # no bar off a terminal
    scores = cell_scores(course)
    assert comparable(scores) == comparable(stock_scores)
    assert set(scores["broken_notebook"].values()) == {0}


def test_a_grading_killed_midway_resumes_without_regrading_anyone(tmp_path, course_template, stock_scores):
    course = fresh_course(course_template, tmp_path / "course")
    students = course.students(LAB)
    first = kit(course, "--workers", "2", start_new_session=True)
    wait_for_journal(course, 3, first)
    os.killpg(first.pid, signal.SIGKILL)  # the coordinator and everything it started
    first.wait()
    done_before = {json.loads(line)["student"] for line in journal_lines(course) if line.strip().endswith("}")}
    output = finish(kit(course, "--workers", "2"))
    assert f"{len(done_before)} already graded" in output
    regraded = [student for student in done_before if f"] {student}:" in output]
    assert regraded == [], f"graded again after the restart: {regraded}"
    assert comparable(cell_scores(course)) == comparable(stock_scores)
    report = json.loads((course.reports / f"{LAB}.json").read_text())
    assert sorted(entry["student"] for entry in report) == students
    assert all(course.autograded_notebook(LAB, student).is_file() for student in students)
    assert "0 submission(s) to grade" in finish(kit(course))  # nothing left; --force grades again
    assert f"{len(students)} submission(s) to grade" in finish(kit(course, "--force"))


def test_a_terminal_shows_a_progress_bar(tmp_path, course_template):
    import fcntl
    import pty
    import struct
    import termios

    course = fresh_course(course_template, tmp_path / "course")
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))  # a terminal's size
    command = [
        PYTHON,
        "-m",
        "grading",
        "autograde",
        LAB,
        "correct_vectorised",
        "less_or_equal",
        "--course",
        str(course.root),
        *LIMITS,
    ]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert process.wait(timeout=300) == 0, shown.decode(errors="replace")
    text = shown.decode(errors="replace")
    assert ("s/student" in text or "student/s" in text) and "2/2" in text, text  # count, rate, time left
    assert "] correct_vectorised: 20/20" in text and "] less_or_equal: 10/20" in text


# ---------------------------------------------------------------------------------------------
# The course's Dask cluster over TLS on loopback (`tls_cluster` in conftest.py)
# ---------------------------------------------------------------------------------------------


@pytest.mark.cluster
def test_a_dask_cluster_grades_as_nbgrader_does_even_when_a_worker_dies(
    tmp_path, course_template, stock_scores, tls_cluster
):
    course = fresh_course(course_template, tmp_path / "course")
    grading = kit(course, "--scheduler", tls_cluster.address, "--dir", str(tls_cluster.certificates))
    wait_for_journal(course, 2, grading)
    tls_cluster.workers[0].kill()  # in the middle of the class: its students are run again on the other worker
    output = finish(grading)
    assert "2 worker(s)" in output
    assert comparable(cell_scores(course)) == comparable(stock_scores)
    recorded = [json.loads(line)["student"] for line in journal_lines(course)]
    assert sorted(recorded) == course.students(LAB)  # every student once: none lost, none twice
    assert "on dask" in output

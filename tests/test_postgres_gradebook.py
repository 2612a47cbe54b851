"""A PostgreSQL gradebook shared by several graders: a real server (Debian's postgresql package),
real nbgrader, real grading of small classes of both labs."""

from __future__ import annotations

import csv
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from postgres_server import PostgresServer, binaries, closed_port

from grading.classwork.autograde_class import autograde_class
from grading.cli import copy_course
from grading.course import Course
from grading.gradebook_url import ENV_VAR, GradebookUnavailable, configured_url, open_gradebook
from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of, write_submission

pytestmark = pytest.mark.postgres

LAB, SECOND_LAB = "anomaly_detection", "timeseries_autoencoder"
# The same students hand in both labs: student -> the corpus entry they submit (None: the release as given).
CLASS = {
    LAB: {"ada": BASE_ENTRY, "bo": "sample_variance", "cy": "grid_one_short", "dee": None},
    SECOND_LAB: {"ada": BASE_ENTRY, "bo": "windows_one_short", "cy": "two_exercises_wrong", "dee": None},
}
SQLITE_LINE = 'GRADEBOOK = "sqlite:///" + os.path.join(HERE, "records", "gradebook.db")'
COURSE_ID = "anomaly-detection-course"


# ---------------------------------------------------------------------------------------------
# The server, the courses and their classes
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer(binaries())
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(autouse=True, scope="module")
def no_gradebook_variable():
    """The tests set COURSE_GRADEBOOK_URL only where they mean to."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ENV_VAR, raising=False)
        yield


def set_gradebook_in_file(course: Course, url: str) -> None:
    """Name `url` as the gradebook in the course's nbgrader_config.py, as an instructor would."""
    config = course.root / "nbgrader_config.py"
    text = config.read_text()
    assert SQLITE_LINE in text
    config.write_text(text.replace(SQLITE_LINE, f"GRADEBOOK = {url!r}"))


def write_class(course: Course, lab: str) -> None:
    release = released_notebook(course, lab)
    entries = {entry.name: entry for entry in corpus(lab)}
    for student, entry in CLASS[lab].items():
        notebook = release if entry is None else submission_of(entries[entry], entries[BASE_ENTRY], release)
        write_submission(course, lab, student, notebook)


def expected_cell_scores(course: Course, lab: str) -> dict[tuple[str, str], float]:
    """(student, grade id) -> the points that the corpus says the student earns."""
    points = {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["points"]
        for cell in released_notebook(course, lab).cells
        if cell.metadata["nbgrader"].get("grade")
    }
    fails = {entry.name: entry.fails for entry in corpus(lab)}
    return {
        (student, grade_id): 0.0 if entry is None or grade_id in fails[entry] else float(value)
        for student, entry in CLASS[lab].items()
        for grade_id, value in points.items()
    }


def cell_scores(url: str, lab: str) -> dict[tuple[str, str], float]:
    """(student, grade id) -> score, as the gradebook at `url` holds them for `lab`."""
    from nbgrader.api import Gradebook

    with Gradebook(url, COURSE_ID) as gradebook:
        return {
            (submission.student_id, grade.name): grade.score
            for submission in gradebook.assignment_submissions(lab)
            for notebook in submission.notebooks
            for grade in notebook.grades
        }


def grading(course: Course, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m grading ARGS --course COURSE`, started as an instructor starts it."""
    environment = {key: value for key, value in os.environ.items() if key != ENV_VAR}
    environment["PATH"] = str(Path(sys.executable).parent) + os.pathsep + environment.get("PATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "grading", *args, "--course", str(course.root)],
        env={**environment, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen, timeout: float = 900) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.fixture(scope="module")
def graded_in_each_gradebook(course_template, postgres, tmp_path_factory):
    """The first lab's class graded twice: into SQLite (the default) and into PostgreSQL."""
    folder = tmp_path_factory.mktemp("postgres_vs_sqlite")
    courses = {
        "sqlite": copy_course(course_template, folder / "sqlite"),
        "postgres": copy_course(course_template, folder / "pg"),
    }
    urls = {
        "sqlite": f"sqlite:///{courses['sqlite'].root}/records/gradebook.db",
        "postgres": postgres.database("single"),
    }
    set_gradebook_in_file(courses["postgres"], urls["postgres"])
    for course in courses.values():
        write_class(course, LAB)
        autograde_class(course, LAB, progress=lambda line: None)
    return courses, urls


@pytest.fixture(scope="module")
def graded_at_once(course_template, postgres, tmp_path_factory):
    """Both labs' classes of one course graded at the same time by two `autograde` commands, into
    a new PostgreSQL gradebook named in the course's nbgrader_config.py."""
    course = copy_course(course_template, tmp_path_factory.mktemp("two_graders") / "course")
    url = postgres.database("shared")
    set_gradebook_in_file(course, url)
    for lab in CLASS:
        write_class(course, lab)
    started = time.monotonic()
    processes = {lab: grading(course, "autograde", lab) for lab in CLASS}
    outcomes = {lab: finished(process) for lab, process in processes.items()}
    return course, url, outcomes, time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# (a) PostgreSQL grades as SQLite does
# ---------------------------------------------------------------------------------------------


@pytest.mark.sandbox
def test_postgres_gradebook_holds_the_same_cell_scores_as_sqlite(graded_in_each_gradebook):
    courses, urls = graded_in_each_gradebook
    expected = expected_cell_scores(courses["sqlite"], LAB)
    in_sqlite, in_postgres = cell_scores(urls["sqlite"], LAB), cell_scores(urls["postgres"], LAB)
    assert in_sqlite == expected
    assert in_postgres == in_sqlite
    assert not (courses["postgres"].root / "records" / "gradebook.db").exists()  # nothing went to SQLite


# ---------------------------------------------------------------------------------------------
# (b) two graders at once, (c) export from the shared gradebook
# ---------------------------------------------------------------------------------------------


@pytest.mark.sandbox
def test_two_labs_graded_at_once_both_finish(graded_at_once):
    _, _, outcomes, _ = graded_at_once
    for lab, (code, out, err) in outcomes.items():
        assert code == 0, f"{lab}: exit {code}\n{err[-3000:]}"
        assert "changed while it ran" not in err
        assert all(f"{student} " in out for student in CLASS[lab])


@pytest.mark.parametrize("lab", list(CLASS))
@pytest.mark.sandbox
def test_two_labs_graded_at_once_have_every_students_right_grades(graded_at_once, lab):
    course, url, _, _ = graded_at_once
    assert cell_scores(url, lab) == expected_cell_scores(course, lab)


@pytest.mark.sandbox
def test_two_labs_graded_at_once_leave_each_student_once(graded_at_once):
    from nbgrader.api import Gradebook

    _, url, _, _ = graded_at_once
    with Gradebook(url, COURSE_ID) as gradebook:
        assert sorted(student.id for student in gradebook.students) == sorted(CLASS[LAB])
        assert sorted(assignment.name for assignment in gradebook.assignments) == sorted(CLASS)


def exported_scores(course: Course, env: dict[str, str] | None = None) -> dict[tuple[str, str], tuple[str, str]]:
    code, _, err = finished(grading(course, "export", env=env), timeout=300)
    assert code == 0, err
    with open(course.grades_csv, newline="") as handle:
        return {(row["assignment"], row["student_id"]): (row["status"], row["score"]) for row in csv.DictReader(handle)}


@pytest.mark.sandbox
def test_export_reads_the_postgres_gradebook(graded_at_once):
    course, _, _, _ = graded_at_once
    expected = {}
    for lab in CLASS:
        per_cell = expected_cell_scores(course, lab)
        for student in CLASS[lab]:
            score = sum(value for (who, _), value in per_cell.items() if who == student)
            expected[(lab, student)] = ("submitted", str(score))
    assert exported_scores(course) == expected
    assert not (course.root / "records" / "gradebook.db").exists()


# ---------------------------------------------------------------------------------------------
# (d) the environment variable overrides the file
# ---------------------------------------------------------------------------------------------


def test_environment_variable_overrides_the_file(graded_at_once, postgres):
    from nbgrader.api import Gradebook

    course, url, _, _ = graded_at_once
    elsewhere = postgres.database("elsewhere")
    with Gradebook(elsewhere, COURSE_ID) as gradebook:
        gradebook.add_assignment(LAB)
        gradebook.add_student("only_elsewhere")
    assert exported_scores(course, env={ENV_VAR: elsewhere}) == {(LAB, "only_elsewhere"): ("not submitted", "")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, elsewhere)
        assert course.nbgrader_api().coursedir.db_url == elsewhere
    assert course.nbgrader_api().coursedir.db_url == url


@pytest.mark.parametrize(
    ("value", "in_effect"),
    [
        ("postgresql+psycopg://g@h/d", "postgresql+psycopg://g@h/d"),
        ("", "sqlite:///f.db"),
        ("  ", "sqlite:///f.db"),
        (None, "sqlite:///f.db"),
    ],
)
def test_configured_url_takes_the_variable_when_it_is_set(monkeypatch, value, in_effect):
    if value is None:
        monkeypatch.delenv(ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(ENV_VAR, value)
    assert configured_url("sqlite:///f.db") == in_effect


# ---------------------------------------------------------------------------------------------
# Several graders opening a new gradebook at the same moment
# ---------------------------------------------------------------------------------------------


def _open_after(barrier, url: str, results) -> None:
    barrier.wait()
    try:
        open_gradebook(url, COURSE_ID, ["ada", "bo", "cy"])
        results.put("opened")
    except Exception as error:
        results.put(f"{type(error).__name__}: {error}")


def test_graders_opening_a_new_gradebook_at_once_all_succeed(postgres):
    """nbgrader alone fails here: both graders create the tables (or the same student) at once."""
    from nbgrader.api import Gradebook

    context = multiprocessing.get_context("fork")
    for attempt in range(2):
        url = postgres.database(f"opened_at_once_{attempt}")
        barrier, results = context.Barrier(3), context.Queue()
        graders = [context.Process(target=_open_after, args=(barrier, url, results)) for _ in range(3)]
        for grader in graders:
            grader.start()
        outcomes = [results.get(timeout=120) for _ in graders]
        for grader in graders:
            grader.join()
        assert outcomes == ["opened"] * 3
        with Gradebook(url, COURSE_ID) as gradebook:
            assert sorted(student.id for student in gradebook.students) == ["ada", "bo", "cy"]


# ---------------------------------------------------------------------------------------------
# (e) a gradebook that cannot be opened: one line, no password, what to do
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_course(course_template, tmp_path_factory) -> Course:
    course = copy_course(course_template, tmp_path_factory.mktemp("unreachable") / "course")
    write_class(course, LAB)
    return course


UNOPENABLE = {  # name -> (URL, what the one line says, the password it must not show)
    "no server": (
        "postgresql+psycopg://grader:pw-unreachable@127.0.0.1:{closed}/gradebook",
        [
            "cannot open the gradebook postgresql+psycopg://grader:***@127.0.0.1:{closed}/gradebook (",
            "Connection refused",
            "): check that its server is running and reachable from here",
        ],
        "pw-unreachable",
    ),
    "wrong password": (
        "{server}",
        ["cannot open the gradebook {shown_server} (", 'password authentication failed for user "grader"'],
        "wrong-pass",
    ),
    "unknown database": ("{missing}", ['database "no_such_gradebook" does not exist'], None),
    "postgres:// scheme": (
        "postgres://grader:pw-scheme@db.example.org/gradebook",
        [
            "the gradebook URL postgres://grader:***@db.example.org/gradebook is not valid (",
            "for PostgreSQL it reads postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE",
        ],
        "pw-scheme",
    ),
}


@pytest.mark.parametrize("case", list(UNOPENABLE))
def test_gradebook_that_cannot_be_opened_says_why_in_one_line(postgres, monkeypatch, case):
    template, says, password = UNOPENABLE[case]
    fill = {
        "closed": closed_port(),
        "server": postgres.url("gradebook", password="wrong-pass"),
        "shown_server": postgres.url("gradebook", password="***"),
        "missing": postgres.url("no_such_gradebook"),
    }
    monkeypatch.setenv(ENV_VAR, template.format(**fill))
    with pytest.raises(GradebookUnavailable) as raised:
        open_gradebook(configured_url("sqlite:///unused.db"), COURSE_ID)
    message = str(raised.value)
    assert "\n" not in message and all(part.format(**fill) in message for part in says), message
    assert f"the environment variable {ENV_VAR}" in message
    assert password is None or password not in message


@pytest.mark.parametrize("command", ["autograde", "feedback"])
def test_command_on_an_unreachable_gradebook_prints_one_line(plain_course, command):
    url = f"postgresql+psycopg://grader:pw-unreachable@127.0.0.1:{closed_port()}/gradebook"
    code, out, err = finished(grading(plain_course, command, LAB, env={ENV_VAR: url}), timeout=300)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    assert err.startswith(f"grading: cannot open the gradebook {url.replace('pw-unreachable', '***')} ("), err
    assert "check that its server is running and reachable from here" in err
    assert not plain_course.autograded.exists() and not plain_course.feedback.exists()


def test_missing_sqlite_folder_gives_one_line(tmp_path):
    with pytest.raises(GradebookUnavailable) as raised:
        open_gradebook(f"sqlite:///{tmp_path}/no/such/folder/gradebook.db", COURSE_ID)
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith(f"cannot open the gradebook sqlite:///{tmp_path}/no/such/folder/gradebook.db")
    assert "check that its folder exists and can be written" in str(raised.value)

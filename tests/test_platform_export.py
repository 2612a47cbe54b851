"""`python -m grading export --for canvas|moodle`: the class's grades as each platform's gradebook
import reads them, a missing submission apart from a zero, and no cell a spreadsheet would run."""

from __future__ import annotations

import csv

import pytest
from nbgrader.api import Gradebook

from grading import cli
from grading.classwork.autograde_class import ensure_in_gradebook, quiet_gradebook
from grading.cli import copy_course

FIRST, SECOND = "anomaly_detection", "timeseries_autoencoder"
FORMULA = '=HYPERLINK("http://example.org")'


def submit(gradebook: Gradebook, lab: str, student: str, share: float, penalty: float = 0.0) -> None:
    """A submission of `lab` whose every grade cell earned `share` of its points, less `penalty`."""
    gradebook.add_submission(lab, student)
    notebook = gradebook.find_submission_notebook(lab, lab, student)
    for grade in notebook.grades:
        grade.auto_score = share * grade.max_score
    notebook.late_submission_penalty = penalty
    gradebook.db.commit()


@pytest.fixture(scope="module")
def course(tmp_path_factory, kit_course):
    """A class: Ada solved the first lab, Bo earned nothing on it, Cy was late (3 points off), Di
    submitted nothing; nobody submitted the second lab. Di's roster name would start a formula."""
    course = copy_course(kit_course, tmp_path_factory.mktemp("platform-export") / "course")
    api = course.nbgrader_api(register_students=False)
    for lab in (FIRST, SECOND):
        ensure_in_gradebook(api, course, lab)
    with quiet_gradebook(), Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        gradebook.add_student(
            "ada", first_name="Ada", last_name="Lovelace", email="ada@example.org", lms_user_id="1001"
        )
        gradebook.add_student("bo", first_name="Bo", last_name="Li")
        gradebook.add_student("cy")
        gradebook.add_student("di", first_name="Di", last_name=FORMULA)
        submit(gradebook, FIRST, "ada", 1.0)
        submit(gradebook, FIRST, "bo", 0.0)
        submit(gradebook, FIRST, "cy", 1.0, penalty=3.0)
    return course


def exported(course, platform: str, capsys) -> list[list[str]]:
    assert cli.main(["export", "--for", platform, "--course", str(course.root)]) == 0
    path = course.grades_csv.with_name(f"grades-{platform}.csv")
    assert str(path) in capsys.readouterr().out
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def by_student(rows: list[list[str]], key: str) -> dict[str, dict[str, str]]:
    header = rows[0]
    return {row[header.index(key)]: dict(zip(header, row)) for row in rows[1:]}


def test_canvas_gets_its_export_columns_points_possible_and_an_empty_cell_for_no_submission(course, capsys):
    rows = exported(course, "canvas", capsys)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *rows[0][5:]]
    assert sorted(rows[0][5:]) == [FIRST, SECOND]
    assert rows[1][0].strip() == "Points Possible"
    students = by_student([rows[0], *rows[2:]], "SIS Login ID")
    assert students["ada"]["Student"] == "Lovelace, Ada" and students["ada"]["ID"] == "1001"
    assert [students[s][FIRST] for s in ("ada", "bo", "cy", "di")] == ["20", "0", "17", ""]
    assert {students[s][SECOND] for s in students} == {""}
    assert dict(zip(rows[0], rows[1]))[FIRST] == "20"


def test_moodle_gets_its_export_columns_and_a_dash_for_no_submission(course, capsys):
    rows = exported(course, "moodle", capsys)
    assert rows[0][:4] == ["First name", "Last name", "Username", "Email address"]
    assert sorted(rows[0][4:]) == [f"{FIRST} (Real)", f"{SECOND} (Real)"]
    students = by_student(rows, "Username")
    assert students["ada"]["Email address"] == "ada@example.org"
    assert [students[s][f"{FIRST} (Real)"] for s in ("ada", "bo", "cy", "di")] == ["20", "0", "17", "-"]
    assert {students[s][f"{SECOND} (Real)"] for s in students} == {"-"}


def test_a_roster_name_that_would_start_a_formula_is_written_as_text(course, capsys):
    canvas = by_student([row for i, row in enumerate(exported(course, "canvas", capsys)) if i != 1], "SIS Login ID")
    moodle = by_student(exported(course, "moodle", capsys), "Username")
    assert moodle["di"]["Last name"] == "'" + FORMULA
    assert canvas["di"]["Student"] == "'" + FORMULA + ", Di"


def test_the_course_csv_writes_that_name_as_text_too(course):
    assert cli.main(["export", "--course", str(course.root)]) == 0
    with open(course.grades_csv, newline="", encoding="utf-8") as handle:
        rows = {(row["student_id"], row["assignment"]): row for row in csv.DictReader(handle)}
    assert rows[("di", FIRST)]["last_name"] == "'" + FORMULA
    assert (rows[("di", FIRST)]["status"], rows[("bo", FIRST)]["score"]) == ("not submitted", "0.0")


def test_an_unknown_platform_is_refused_in_one_line(course, capsys):
    with pytest.raises(SystemExit):
        cli.main(["export", "--for", "blackboard", "--course", str(course.root)])
    assert "invalid choice: 'blackboard'" in capsys.readouterr().err

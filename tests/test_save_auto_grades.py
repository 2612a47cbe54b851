"""`SaveAutoGrades`: nbgrader's own grade and comment rows, from the student's rows read at once and one commit."""

from __future__ import annotations

import copy
import logging

import nbformat
import pytest
from nbformat.v4 import new_output
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import SaveAutoGrades as StockSaveAutoGrades
from nbgrader.utils import is_grade, is_solution
from sql_statements import statements_run  # beside this file

from grading.classwork.autograde_class import ensure_in_gradebook
from grading.cli import copy_course
from grading.preprocessors.save_auto_grades import SaveAutoGrades

LAB = "anomaly_detection"


@pytest.fixture(scope="module")
def course(tmp_path_factory, kit_course):
    course = copy_course(kit_course, tmp_path_factory.mktemp("save-auto-grades") / "course")
    api = course.nbgrader_api()
    ensure_in_gradebook(api, course, LAB)
    with Gradebook(api.coursedir.db_url) as gradebook:
        for student in ("stock", "kit"):
            gradebook.add_student(student)
            gradebook.add_submission(LAB, student)
            grade = gradebook.find_submission_notebook(LAB, LAB, student).grades[0]
            grade.manual_score = 1  # a grader's score: the cell needs a person's look again
        gradebook.db.commit()
    return course


@pytest.fixture(scope="module")
def graded(course):
    """The release as if run: the last grade cell failed, the first answer cell was written."""
    nb = nbformat.read(course.releases / LAB / f"{LAB}.ipynb", as_version=4)
    [*_, failed] = [cell for cell in nb.cells if is_grade(cell) and cell.cell_type == "code"]
    failed.outputs = [new_output("error", ename="AssertionError", evalue="", traceback=[])]
    next(cell for cell in nb.cells if is_solution(cell)).source += "\nanswer = 1"
    return nb


def saved(preprocessor_class, course, nb, student: str) -> tuple[dict, list[str]]:
    """The student's rows after the preprocessor, and the SQL statements it ran."""
    db_url = course.nbgrader_api().coursedir.db_url
    resources = {"nbgrader": {"assignment": LAB, "notebook": LAB, "student": student, "db_url": db_url}}
    with statements_run() as statements:
        preprocessor_class(log=logging.getLogger("save-test")).preprocess(copy.deepcopy(nb), resources)
    with Gradebook(db_url) as gradebook:
        submitted = gradebook.find_submission_notebook(LAB, LAB, student)
        grades = sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in submitted.grades)
        comments = sorted((c.name, c.auto_comment) for c in submitted.comments)
    return {"grades": grades, "comments": comments}, statements


def test_a_students_grades_and_comments_are_the_stock_preprocessors(course, graded):
    stock, _ = saved(StockSaveAutoGrades, course, graded, "stock")
    kit, _ = saved(SaveAutoGrades, course, graded, "kit")
    assert kit == stock
    scores = {score for _, score, _, _ in kit["grades"]}
    assert 0 in scores and len(scores) > 1  # the failed cell scored nothing, the others their points
    assert any(manual for *_, manual in kit["grades"]) and not all(manual for *_, manual in kit["grades"])
    assert {comment for _, comment in kit["comments"]} == {"No response.", None}


def test_the_rows_are_read_in_three_queries_and_written_in_one_commit_instead_of_per_cell(course, graded):
    _, stock = saved(StockSaveAutoGrades, course, graded, "stock")
    _, kit = saved(SaveAutoGrades, course, graded, "kit")
    with statements_run() as opening, Gradebook(course.nbgrader_api().coursedir.db_url):
        pass  # nbgrader checks the tables and the course whenever a gradebook is opened
    selects = [statement for statement in kit[len(opening) :] if statement.lstrip().startswith("SELECT")]
    assert len(selects) == 3
    cells = [cell for cell in graded.cells if is_grade(cell) or is_solution(cell)]
    assert len([s for s in stock[len(opening) :] if s.lstrip().startswith("SELECT")]) >= len(cells)


def test_a_cell_the_gradebook_does_not_know_fails_as_with_the_stock_one(course, graded):
    unknown = copy.deepcopy(graded)
    next(cell for cell in unknown.cells if is_grade(cell)).metadata.nbgrader.grade_id = "not-in-the-gradebook"
    for preprocessor_class, student in ((StockSaveAutoGrades, "stock"), (SaveAutoGrades, "kit")):
        with pytest.raises(MissingEntry):
            saved(preprocessor_class, course, unknown, student)

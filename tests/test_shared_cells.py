"""Shared cells: run once in the master's run, shown on every page, never in place of a student's own outputs."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from grading.execution import shared_cells
from grading.reporting.incidents import KINDS
from grading.reporting.results import Note

LAB = "anomaly_detection"


def cell(source: str, grade_id: str, answer: bool = False, shared: bool = False):
    made = new_code_cell(source)
    made.metadata["nbgrader"] = {"grade_id": grade_id, "solution": answer, "locked": not answer, "grade": False}
    if shared:
        made.metadata["grading"] = {"shared": True}
    return made


def outputs_for(*cells) -> dict[str, dict]:
    return {
        c.metadata["nbgrader"]["grade_id"]: {
            "source": c.source,
            "execution_count": 9,
            "outputs": [new_output("stream", name="stdout", text="master\n")],
        }
        for c in cells
        if shared_cells.is_shared(c)
    }


def notebook(*cells):
    return new_notebook(cells=list(cells))


IMPORTS = cell("import numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline", "imports")
LOAD = cell("X = load()", "load")
ANSWER = cell("import numpy as np\n\ndef fit(X):\n    return X.mean()", "fit", answer=True)
CHECK = cell("m = fit(X)\nprint(m)", "check")
PICTURE = cell("plt.hist(X)\nplt.show()", "picture", shared=True)


def test_a_shared_cell_that_uses_only_the_labs_names_is_left_out_with_the_masters_outputs():
    nb = notebook(IMPORTS, LOAD, ANSWER, CHECK, PICTURE)
    plan = shared_cells.plan(nb, outputs_for(PICTURE))
    assert list(plan.left_out) == [4]
    assert plan.left_out[4]["outputs"][0]["text"] == "master\n"
    assert plan.ran_as_usual == []


def test_a_shared_cell_that_reads_a_name_the_student_binds_runs_as_usual():
    answer = cell("def fit(X):\n    return X.mean()\nX = X[:3]", "fit", answer=True)
    nb = notebook(IMPORTS, LOAD, answer, PICTURE)
    plan = shared_cells.plan(nb, outputs_for(PICTURE))
    assert plan.left_out == {} and plan.ran_as_usual == [3]


def test_a_name_bound_from_the_students_code_by_a_locked_cell_counts_as_the_students():
    uses_result = cell("plt.plot(m)", "uses_result", shared=True)
    nb = notebook(IMPORTS, LOAD, ANSWER, CHECK, uses_result)
    plan = shared_cells.plan(nb, outputs_for(uses_result))
    assert plan.left_out == {} and plan.ran_as_usual == [4]


def test_the_stubs_own_import_is_not_the_students_but_another_import_is():
    assert shared_cells.plan(notebook(IMPORTS, ANSWER, PICTURE), outputs_for(PICTURE)).left_out
    other = cell(
        "import matplotlib.pyplot as plt_other\nplt = plt_other\n\ndef fit(X):\n    return 0", "fit", answer=True
    )
    assert shared_cells.plan(notebook(IMPORTS, other, PICTURE), outputs_for(PICTURE)).ran_as_usual == [2]
    swapped = cell("import numpy as plt\n\ndef fit(X):\n    return 0", "fit", answer=True)
    assert shared_cells.plan(notebook(IMPORTS, swapped, PICTURE), outputs_for(PICTURE)).ran_as_usual == [2]


def test_an_answer_that_does_not_parse_makes_every_shared_cell_run():
    broken = cell("def fit(X:\n", "fit", answer=True)
    plan = shared_cells.plan(notebook(IMPORTS, LOAD, broken, PICTURE), outputs_for(PICTURE))
    assert plan.left_out == {} and plan.ran_as_usual == [3]


def test_a_shared_cell_whose_names_a_later_cell_needs_runs():
    table = cell("summary = X.sum()", "table", shared=True)
    later = cell("print(summary)", "later")
    plan = shared_cells.plan(notebook(IMPORTS, LOAD, table, later), outputs_for(table))
    assert plan.left_out == {} and plan.ran_as_usual == []
    chained = cell("print(summary)", "chained", shared=True)
    plan = shared_cells.plan(notebook(IMPORTS, LOAD, table, chained), outputs_for(table, chained))
    assert list(plan.left_out) == [2, 3]


def test_a_shared_cell_without_clean_master_outputs_runs():
    assert shared_cells.plan(notebook(IMPORTS, LOAD, PICTURE), {}).left_out == {}
    stale = outputs_for(PICTURE)
    stale["picture"]["source"] = "plt.plot(X)"
    assert shared_cells.plan(notebook(IMPORTS, LOAD, PICTURE), stale).left_out == {}


def test_only_shared_cells_that_ran_cleanly_in_the_master_are_kept():
    clean, failed = cell("print(1)", "clean", shared=True), cell("1/0", "failed", shared=True)
    clean.execution_count, failed.execution_count = 1, 2
    clean.outputs = [new_output("stream", name="stdout", text="1\n")]
    failed.outputs = [new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]
    assert list(shared_cells.master_outputs(notebook(clean, failed))) == ["clean"]


def test_stored_outputs_that_are_malformed_are_ignored(tmp_path):
    shared_cells.save(tmp_path, LAB, {"good": {"source": "x", "outputs": []}, "bad": {"source": 3}})
    assert list(shared_cells.load(tmp_path, LAB)) == ["good"]
    shared_cells.outputs_file(tmp_path, LAB).write_text("[1, 2]")
    assert shared_cells.load(tmp_path, LAB) == {}


# ---------------------------------------------------------------------------------------------
# In a graded class
# ---------------------------------------------------------------------------------------------


def graded_cells(graded_class, student: str) -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.read(graded_class.course.autograded_notebook(LAB, student), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.cell_type == "code"}


def test_every_honest_page_shows_the_masters_outputs_in_the_shared_cells(graded_class):
    master = shared_cells.load(graded_class.course.cache, LAB)
    assert set(master) == {"plot_data", "feature_histograms", "detector_fit", "detector_fit_high", "compare_detectors"}
    for student in ("aaa-honest-first", "zzz-honest-last"):
        cells = graded_cells(graded_class, student)
        for grade_id, entry in master.items():
            assert cells[grade_id].outputs == entry["outputs"], (student, grade_id)
        assert any("image/png" in output.get("data", {}) for output in cells["feature_histograms"].outputs)


def test_a_student_who_changes_the_drawn_data_sees_their_own_figure_and_the_report_says_so(graded_class):
    master = shared_cells.load(graded_class.course.cache, LAB)
    cells = graded_cells(graded_class, "own-data-in-shared-cells")
    assert cells["feature_histograms"].outputs != master["feature_histograms"]["outputs"]
    assert cells["detector_fit"].outputs != master["detector_fit"]["outputs"]
    assert cells["compare_detectors"].outputs == master["compare_detectors"]["outputs"]
    result = graded_class.results["own-data-in-shared-cells"]
    assert result.score == sum(graded_class.points.values())
    assert Note("ran shared cells", KINDS["shared_cell_ran"].sentence) in result.notes
    assert not any(
        KINDS["shared_cell_ran"].sentence in note.text for note in graded_class.results["aaa-honest-first"].notes
    )

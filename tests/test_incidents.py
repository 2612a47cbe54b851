"""What the grader tells an instructor comes from what it saw itself, in words a terminal cannot act
on: `grading.text.printable`, the incidents of a run (`grading.reporting.incidents`), where the graded
notebook keeps them and how the class's notes are read from them."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_output
from traitlets.config import Config

from grading.classwork.autograde_class import notes_from_notebook
from grading.course import Course
from grading.execution.notebook_run import error_output
from grading.execution.work import checked_notebook
from grading.preprocessors.execute_in_sandbox import ExecuteInSandbox
from grading.preprocessors.restore_released_cells import RestoreReleasedCells
from grading.reporting.incidents import KINDS, MAX_INCIDENTS, incident, notes, valid_incidents
from grading.reporting.report import format_table
from grading.reporting.results import Note, StudentResult
from grading.sandbox.launch import Sandbox
from grading.sandbox.protocol import OutputLimits
from grading.text import printable, printable_lines

REPO_ROOT = Path(__file__).resolve().parent.parent
LAB = "anomaly_detection"
FORGED = (
    "10/20\r\x1b[2K\x1b[1A\x1b[2K\x1b]0;graded\x07\x1b]8;;https://example.invalid\x1b\\here\x1b]8;;\x1b\\"
    "\n[1/1] alice: 20/20 (0.1 s)\u202e02/02\u2066\x9b2K\x85\ud800\x00\x7f"
)


def controls(text: str) -> list[str]:
    """The characters of `text` a terminal could act on: controls, format characters, surrogates."""
    return [hex(ord(char)) for char in text if unicodedata.category(char) in ("Cc", "Cf", "Cs")]


# ---------------------------------------------------------------------------------------------
# printable
# ---------------------------------------------------------------------------------------------


def test_printable_drops_every_control_and_format_character():
    assert controls(printable(FORGED)) == []


def test_printable_drops_escape_sequences_whole_and_keeps_the_words():
    assert printable("a\x1b[31;1mred\x1b[0m b") == "ared b"
    assert printable("x\x1b]0;window title\x07y") == "xy"
    assert printable("x\x1b]0;title with ST\x1b\\y") == "xy"
    assert printable("x\x1bP1$r secret\x1b\\y") == "xy"
    assert printable("x\x1b7\x1b(By\x1bc") == "xy"
    assert printable("x\x9b2Ky") == "xy"
    assert printable("cut \x1b]8;;https://example.invalid") == "cut "


def test_printable_turns_line_breaks_and_tabs_into_spaces():
    assert printable("one\ntwo\rthree\tfour\u2028five") == "one two three four five"


def test_printable_drops_bidi_overrides_and_zero_width_characters():
    assert printable("20/20\u202e02/01\u2066x\u2069\u200by\ufeff") == "20/2002/01xy"


def test_printable_keeps_ordinary_text_of_any_script():
    text = "élève Łukasz 学生 — ≤ 0.5 … 🙂"
    assert printable(text) == text


def test_printable_cuts_to_the_limit_with_an_ellipsis():
    assert printable("abcdef", 4) == "abc…"
    assert printable("abc", 4) == "abc"


def test_printable_lines_keeps_the_line_breaks_only():
    assert printable_lines("a\x1b[1A\nb\r\x1b[2K") == "a\nb "


def test_a_student_result_is_printable_however_it_is_made():
    result = StudentResult("alice", 10, 20, ["test\x1b[2K"], [FORGED])
    assert controls(result.said() + "".join(result.failed)) == []
    result.notes.append(Note("crashed", "late\r note"))
    assert result.stored()["notes"][-1] == {"kind": "crashed", "text": "late  note"}


def test_the_class_table_shows_no_control_character_of_an_id_or_a_note():
    table = format_table(
        LAB, [StudentResult("mallory\x1b[1A\r", 10, 20, [], ["a\x1b[2K"]), StudentResult("bob", 20, 20)]
    )
    assert controls(table.replace("\n", "")) == []
    assert len(table.splitlines()) == 5


# ---------------------------------------------------------------------------------------------
# Incidents
# ---------------------------------------------------------------------------------------------


def test_valid_incidents_keep_known_kinds_and_cell_indexes_only():
    raw = [
        {"kind": "kernel_died", "cell": 3},
        {"kind": "DeadKernelError", "cell": 1},
        {"kind": "cell_timeout"},
        {"kind": "memory_limit", "cell": "3"},
        {"kind": "crashed", "cell": True},
        {"kind": "disk_full", "cell": -1},
        "kernel_died",
        {"kind": ["kernel_died"]},
        {"kind": "output_limit", "cell": 2, "why": "\x1b[2K"},
    ]
    assert valid_incidents(raw) == [
        {"kind": "kernel_died", "cell": 3},
        {"kind": "cell_timeout", "cell": None},
        {"kind": "memory_limit", "cell": None},
        {"kind": "crashed", "cell": None},
        {"kind": "disk_full", "cell": None},
        {"kind": "output_limit", "cell": 2},
    ]


def test_valid_incidents_of_something_else_than_a_list_are_none():
    for raw in (None, "kernel_died", {"kind": "kernel_died"}, 3):
        assert valid_incidents(raw) == []


def test_valid_incidents_are_capped():
    many = [{"kind": "cell_timeout", "cell": index} for index in range(10 * MAX_INCIDENTS)]
    assert valid_incidents(many) == many[:MAX_INCIDENTS]


def test_an_unknown_kind_is_refused_where_an_incident_is_recorded():
    with pytest.raises(ValueError, match="unknown incident kind"):
        incident("DeadKernelError", 0)


def test_notes_say_each_kind_once_and_a_stop_supersedes_the_interrupt_before_it():
    raw = [
        incident("cell_timeout", 4),
        incident("output_truncated", 5),
        incident("output_truncated", 6),
        incident("kernel_stopped", 7),
    ]
    assert [note.text for note in notes(raw)] == [KINDS["output_truncated"].sentence, KINDS["kernel_stopped"].sentence]
    assert notes([incident("cell_timeout", 4)]) == [
        Note("timed out", "a cell ran past the time limit and was interrupted")
    ]


def test_a_worker_answer_keeps_its_valid_incidents_and_none_when_it_has_none():
    raw = {"cells": {}, "stopped": True, "incidents": [{"kind": "kernel_died", "cell": 0}, {"kind": "made up"}]}
    assert checked_notebook(raw, OutputLimits())["incidents"] == [{"kind": "kernel_died", "cell": 0}]
    assert checked_notebook({"cells": {}, "stopped": False}, OutputLimits())["incidents"] == []


# ---------------------------------------------------------------------------------------------
# Where the graded notebook keeps them, and the notes read from it
# ---------------------------------------------------------------------------------------------


def released() -> nbformat.NotebookNode:
    return nbformat.read(REPO_ROOT / "assignments" / LAB / f"{LAB}.ipynb", as_version=4)


def test_incidents_a_student_writes_in_the_metadata_do_not_survive_the_rebuild_on_the_release():
    submitted = released()
    submitted.metadata["grading"] = {"incidents": [{"kind": "kernel_died", "cell": 0}]}
    config = Config({"CourseDirectory": {"root": str(REPO_ROOT), "release_directory": "assignments"}})
    rebuilt, _ = RestoreReleasedCells(config=config).preprocess(
        submitted, {"nbgrader": {"assignment": LAB, "notebook": LAB}}
    )
    assert "grading" not in rebuilt.metadata


def test_the_run_places_its_incidents_in_the_notebook_metadata_replacing_whatever_was_there():
    notebook = released()
    notebook.metadata["grading"] = {"incidents": [{"kind": "kernel_died", "cell": 0}], "other": 1}
    result = {"cells": {}, "stopped": False, "incidents": [{"kind": "cell_timeout", "cell": 5}]}
    ExecuteInSandbox._place(notebook, result, Sandbox())
    assert notebook.metadata["grading"] == {"incidents": [{"kind": "cell_timeout", "cell": 5}]}


def test_notes_come_from_the_recorded_incidents_never_from_the_outputs(tmp_path):
    course = Course(tmp_path)
    notebook = released()
    code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    code.outputs = [
        error_output("DeadKernelError", "The kernel died while running this cell (\r\x1b[2K20/20)."),
        error_output("MemoryError", ""),
        new_output("stream", name="stdout", text="\n[output truncated"),
    ]
    notebook.metadata["grading"] = {"incidents": [incident("file_size_limit", 3)]}
    path = course.autograded_notebook(LAB, "mallory")
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    assert notes_from_notebook(course, LAB, "mallory") == [
        Note("hit a limit", "wrote a file larger than the file-size limit")
    ]
    notebook.metadata["grading"] = {"incidents": "kernel_died"}
    nbformat.write(notebook, path)
    assert notes_from_notebook(course, LAB, "mallory") == []

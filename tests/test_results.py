"""A student's result and its notes (`grading.reporting.results`): notes are data, a kind and a
sentence, so that the class page groups them by kind without reading their words."""

from __future__ import annotations

import json

import pytest

from grading.reporting.incidents import KINDS, incident, notes
from grading.reporting.results import NOTE_KINDS, UNSAFE_NOTE, Note, StudentResult


def test_every_incident_becomes_a_note_of_a_known_kind():
    made = notes([incident(kind, 0) for kind in KINDS])
    assert {note.kind for note in made} <= set(NOTE_KINDS)
    assert [note.text for note in made] == [KINDS[kind].sentence for kind in KINDS if kind != "cell_timeout"]


def test_a_result_read_back_from_its_stored_form_is_the_same():
    result = StudentResult("ada", 10.0, 20.0, ["test_x"], [Note("timed out", "a cell ran past the time limit")])
    result.notes.append(UNSAFE_NOTE)
    assert StudentResult(**json.loads(json.dumps(result.stored()))) == result


def test_a_bare_sentence_or_an_unknown_kind_is_read_as_a_note_that_the_student_was_not_graded():
    assert Note.read("the notebook is not valid JSON") == Note("not graded", "the notebook is not valid JSON")
    assert Note.read({"kind": "teleported", "text": "it left"}) == Note("not graded", "it left")


def test_a_note_of_an_unknown_kind_cannot_be_made():
    with pytest.raises(ValueError, match="unknown kind of note 'teleported'"):
        Note("teleported", "it left")


def test_the_notes_are_said_in_one_printable_line():
    result = StudentResult("ada", 0.0, 20.0, [], [Note("crashed", "the kernel\r died"), UNSAFE_NOTE])
    assert result.said() == f"the kernel  died; {UNSAFE_NOTE.text}"

"""The instructor's HTML page of a graded lab (grading/reporting/class_report.py), on synthetic classes.

Each test builds a course in tmp_path: the repository's release as the lab's release, and
autograded notebooks and the JSON class report written here, so no grading run is needed.
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
import shutil
import time
import unicodedata
from html import escape
from itertools import combinations
from pathlib import Path

import nbformat
import numpy as np
import pytest
from matplotlib.image import imread
from nbformat.v4 import new_output

from grading.course import Course
from grading.reporting.class_report import (
    common_failures,
    failure_messages,
    highlight,
    normalise,
    pass_rates,
    similar_pairs,
    write_class_report,
)
from grading.reporting.incidents import KINDS
from grading.reporting.results import Note, StudentResult
from grading.sample_class import BASE_ENTRY, corpus, fill_answers, released_notebook

REPO_ROOT = Path(__file__).resolve().parent.parent
LAB = "anomaly_detection"
GRADE_CELLS = ("test_estimate_gaussian", "test_select_threshold")
ENTRIES = {entry.name: entry for entry in corpus(LAB)}
CORRECT = ENTRIES[BASE_ENTRY].cells


def wrong_answer(function: str, problems: list[str]) -> str:
    """An evalue as the grader's VerifyAnswers writes it."""
    return f"{function} is not correct yet:\n- " + "\n- ".join(problems)


@pytest.fixture
def course(tmp_path) -> Course:
    """An empty course whose release of the lab is the repository's."""
    folder = tmp_path / "course" / "assignments" / LAB
    folder.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "assignments" / LAB / f"{LAB}.ipynb", folder)
    return Course(tmp_path / "course")


def add_student(
    course: Course, student: str, answers: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> None:
    """An autograded notebook: the release with `answers` filled in and a WrongAnswer per grade id in `errors`."""
    notebook = fill_answers(released_notebook(course, LAB), answers if answers is not None else CORRECT)
    for cell in notebook.cells:
        evalue = (errors or {}).get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if evalue is not None and cell.metadata["nbgrader"].get("grade"):
            cell.outputs.append(new_output("error", ename="WrongAnswer", evalue=evalue, traceback=[evalue]))
    path = course.autograded_notebook(LAB, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def write_results(course: Course, results: list[StudentResult]) -> None:
    course.reports.mkdir(parents=True, exist_ok=True)
    (course.reports / f"{LAB}.json").write_text(json.dumps([r.stored() for r in results]))


def incident_note(kind: str) -> Note:
    return Note(KINDS[kind].family, KINDS[kind].sentence)


def result(student: str, failed: tuple[str, ...] = (), notes: tuple[Note, ...] = ()) -> StudentResult:
    return StudentResult(student, 10.0 * (2 - len(failed)), 20.0, list(failed), list(notes))


def section(page: str, title: str) -> str:
    """The part of the page from the heading that starts with `title` to the next heading (the last is "Every student")."""
    start = page.index(f"<h2>{title}")
    return page[start : page.index("<h2>", start + 4)]


def renamed(code: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        code = re.sub(rf"\b{old}\b", new, code)
    return code


def test_every_student_with_a_note_is_listed_with_its_reason(course):
    notes = {
        "crashed": incident_note("kernel_died"),
        "stuck": incident_note("kernel_stopped"),
        "unreadable": Note(
            "not graded", "anomaly_detection.ipynb is not valid notebook JSON (Expecting value: line 1, column 1)"
        ),
        "forker": incident_note("process_limit"),
        "tamperer": Note(
            "changed locked cells", "changed or removed locked cells (test_estimate_gaussian): graded as released"
        ),
    }
    results = [result(s, GRADE_CELLS if s in ("crashed", "unreadable") else (), (n,)) for s, n in notes.items()]
    write_results(course, [*results, result("fine")])
    for student in [*notes, "fine"]:
        if student != "unreadable":  # an unreadable submission has no autograded notebook
            add_student(course, student)

    listed = section(write_class_report(course, LAB).read_text(), "Submissions with a note")

    for student, note in notes.items():
        row = re.search(rf"<tr><td>{student}</td>.*?</tr>", listed)
        assert row and escape(note.text) in row.group(0) and f"<td>{note.kind}</td>" in row.group(0), student
    for kind in ("crashed", "timed out", "not graded", "hit a limit", "changed locked cells"):
        assert f"<td>{kind}</td>" in listed
    assert "fine" not in listed


def test_the_score_histogram_is_an_embedded_png(course):
    write_results(course, [result("a"), result("b", GRADE_CELLS[:1]), result("c", GRADE_CELLS)])

    page = write_class_report(course, LAB).read_text()

    found = re.search(r'<img alt="histogram of the scores" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert found
    image = imread(io.BytesIO(base64.b64decode(found.group(1))), format="png")
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page), "the page must load nothing"


def test_pass_rates_per_exercise(course):
    results = [result("a"), result("b", GRADE_CELLS[:1]), result("c", GRADE_CELLS), result("d", GRADE_CELLS[:1])]
    write_results(course, results)

    exercises = section(write_class_report(course, LAB).read_text(), "Exercises")

    assert pass_rates(results, dict.fromkeys(GRADE_CELLS, 10.0)) == {GRADE_CELLS[0]: (1, 4), GRADE_CELLS[1]: (3, 4)}
    assert re.search(rf"<td>{GRADE_CELLS[0]}</td><td>10</td><td>1/4</td><td>.*?25%</td>", exercises)
    assert re.search(rf"<td>{GRADE_CELLS[1]}</td><td>10</td><td>3/4</td><td>.*?75%</td>", exercises)


def test_failure_messages_are_grouped_with_numbers_normalised_and_counted(course):
    def sample_variance(mine: float, tests_at: int) -> str:
        return wrong_answer(
            "estimate_gaussian",
            [
                f"the lab's training set (307 x 2): var is [{mine} 1.715333], expected [1.832631 1.709745]",
                f"a 7 x 3 matrix: var is [4.04e-01 {mine / 3}], expected [3.9e-01 {tests_at}]",
            ],
        )

    timeout = wrong_answer(
        "select_threshold", ["select_threshold could not be tested: did not finish within 15 seconds"]
    )
    for student, mine, tests_at in [("a", 1.83862, 2), ("b", 1.9, 3), ("c", -2.5e-3, 4)]:
        add_student(course, student, errors={GRADE_CELLS[0]: sample_variance(mine, tests_at)})
    add_student(course, "d", errors={GRADE_CELLS[1]: timeout})
    add_student(course, "e", errors={GRADE_CELLS[1]: timeout})
    add_student(course, "f")
    write_results(
        course,
        [
            result("a", GRADE_CELLS[:1]),
            result("b", GRADE_CELLS[:1]),
            result("c", GRADE_CELLS[:1]),
            result("d", GRADE_CELLS[1:]),
            result("e", GRADE_CELLS[1:]),
            result("f"),
        ],
    )

    page = write_class_report(course, LAB).read_text()
    failures = {s: failure_messages(nbformat.read(course.autograded_notebook(LAB, s), as_version=4)) for s in "abcdef"}

    assert [(grade_id, len(problems), students) for grade_id, problems, students in common_failures(failures)] == [
        (GRADE_CELLS[0], 2, ["a", "b", "c"]),
        (GRADE_CELLS[1], 1, ["d", "e"]),
    ]
    failures = section(page, "Most common failures")
    assert "the lab&#x27;s training set (307 x 2): var is […], expected […]" in failures
    assert "a 7 x 3 matrix: var is […], expected […]" in failures
    assert "did not finish within 15 seconds" in failures
    assert re.search(r"<td>3</td><td>a, b, c</td>", failures) and re.search(r"<td>2</td><td>d, e</td>", failures)


def test_a_normalised_message_keeps_shapes_and_exit_codes_and_drops_a_dangling_colon():
    assert normalise("mu has shape (3,), expected (2,)") == "mu has shape (3,), expected (2,)"
    assert normalise("the code exited Python (exit code 3)") == "the code exited Python (exit code 3)"
    assert normalise("estimate_gaussian raised NotImplementedError:") == "estimate_gaussian raised NotImplementedError"
    assert normalise("epsilon is 8.99e-05, expected 1.4e-4") == "epsilon is N, expected N"


def test_a_copied_span_that_starts_or_ends_mid_word_is_marked_from_word_to_word():
    code = "import numpy as np\nx = np.zeros(3)\n"
    assert highlight(code, np.array([[8], [10]])) == "import <mark>numpy</mark> as np\nx = np.zeros(3)\n"


def test_renamed_copies_pair_up_but_the_released_stub_does_not(course):
    names = {
        "mu": "average",
        "var": "spread",
        "X": "data",
        "best_epsilon": "top_eps",
        "best_F1": "top_score",
        "predictions": "flags",
        "tp": "hits",
        "fp": "false_alarms",
        "fn": "misses",
        "prec": "p",
        "rec": "r",
    }
    add_student(course, "original")
    add_student(course, "copier", {grade_id: renamed(code, names) for grade_id, code in CORRECT.items()})
    add_student(course, "loops", ENTRIES["correct_loops"].cells)  # answers of its own
    add_student(course, "blank_1", {})  # the release as it is: its stubs only
    add_student(course, "blank_2", {})
    write_results(course, [result(s) for s in ("original", "copier", "loops", "blank_1", "blank_2")])

    page = write_class_report(course, LAB).read_text()
    release = released_notebook(course, LAB)
    stub = "\n\n".join(c.source for c in release.cells if c.metadata.get("nbgrader", {}).get("solution"))

    pairs, _ = similar_pairs({"blank_1": stub, "blank_2": stub, "original": "\n".join(CORRECT.values())}, stub)
    assert pairs == []
    similar = section(page, "Similar answers")
    assert "copier – original" in similar and "blank_1" not in similar and "loops" not in similar
    assert '<details id="pair-0"><summary>copier and original</summary>' in similar
    assert "<mark>" in similar and "top_eps" in similar  # side by side, shared code marked


def every_pair_compared(answers: dict[str, str], stub: str) -> tuple[list, int]:
    """The pairs as found by fingerprinting every student and trying every pair: the reference."""
    from copydetect import compare_files

    from grading.reporting.class_report import MAX_COMPARED, MIN_SHARED, SIMILAR_T, _fingerprint

    boilerplate = np.unique(np.array(sorted(_fingerprint(stub).hashes), dtype=np.int64))
    prints = {student: _fingerprint(code, boilerplate) for student, code in answers.items()}
    candidates = []
    for a, b in combinations(sorted(prints), 2):
        ha, hb = prints[a].hashes, prints[b].hashes
        shared = len(ha & hb) / max(min(len(ha), len(hb)), 1)
        if shared >= SIMILAR_T / 2:
            candidates.append((shared, a, b))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    pairs = []
    for _, a, b in candidates[:MAX_COMPARED]:
        overlap, similarity, _ = compare_files(prints[a], prints[b])
        if overlap >= MIN_SHARED and max(similarity) >= SIMILAR_T:
            pairs.append((a, b, (float(similarity[0]), float(similarity[1]))))
    pairs.sort(key=lambda p: (-max(p[2]), -min(p[2]), p[0], p[1]))
    return pairs, max(len(candidates) - MAX_COMPARED, 0)


def test_a_class_of_repeated_answers_pairs_up_as_when_every_pair_is_compared(course, monkeypatch):
    monkeypatch.setattr("grading.reporting.class_report.MAX_COMPARED", 40)  # some likely pairs left unchecked
    stub = "\n\n".join(
        c.source for c in released_notebook(course, LAB).cells if c.metadata.get("nbgrader", {}).get("solution")
    )
    original = "\n".join(CORRECT.values())
    kinds = [
        original,
        renamed(original, {"mu": "average", "var": "spread"}),
        "\n".join(ENTRIES["correct_loops"].cells.values()),
        stub,
    ]
    answers = {f"s{number:02d}": kinds[number % len(kinds)] for number in range(30)}

    pairs, unchecked = similar_pairs(answers, stub)

    assert [(p.first, p.second, p.similarity) for p in pairs] == every_pair_compared(answers, stub)[0]
    assert unchecked == every_pair_compared(answers, stub)[1] > 0
    assert all(p.code == (answers[p.first], answers[p.second]) for p in pairs)


def numbered_code(seed: int, lines: int) -> str:
    """Code of its own: copydetect keeps numbers, so different constants make different fingerprints."""
    draw = random.Random(seed)
    return "".join(
        f"total = total * {draw.randint(10**5, 10**6)} + {draw.randint(10**5, 10**6)}\n" for _ in range(lines)
    )


def test_code_most_of_a_large_class_shares_does_not_pair_them_but_a_copy_still_does(monkeypatch):
    lecture = "def lecture_helper(total):\n" + "".join(f"    {line}" for line in numbered_code(0, 30).splitlines(True))
    answers = {f"s{number:03d}": lecture + numbered_code(number + 1, 6) for number in range(120)}
    answers["s119"] = answers["s007"]  # a copy

    pairs, _ = similar_pairs(answers, stub="")
    assert [(p.first, p.second) for p in pairs] == [("s007", "s119")]

    monkeypatch.setattr("grading.reporting.class_report.COMMON_ANSWERS", 1000)  # the shared code counted
    assert len(similar_pairs(answers, stub="")[0]) > 100


def test_student_text_is_escaped(course):
    script = "<script>alert('owned')</script>"
    code = {grade_id: f'{source}\nBANNER = "{script}"\n' for grade_id, source in CORRECT.items()}
    add_student(course, "x", code, {GRADE_CELLS[0]: wrong_answer("estimate_gaussian", [f"var is {script}"])})
    add_student(course, "y", code)
    write_results(course, [result("x", GRADE_CELLS[:1], (f"autograding failed: ValueError: {script}",)), result("y")])

    page = write_class_report(course, LAB).read_text()

    assert "<script" not in page.lower()
    assert page.count("&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;") >= 4  # failure, note, both codes


def test_student_text_reaches_the_page_without_control_or_bidi_characters(course):
    forged = "\r\x1b[2K\x1b]0;title\x07 20/20 \u202e\u2066\x85"
    code = {grade_id: f'{source}\nBANNER = "{forged}"\n' for grade_id, source in CORRECT.items()}
    student = "x\x1b[1Ay"
    add_student(course, student, code, {GRADE_CELLS[0]: wrong_answer("estimate_gaussian", [f"var is {forged}"])})
    add_student(course, "z", code)
    write_results(
        course, [result(student, GRADE_CELLS[:1], (f"autograding failed: ValueError: {forged}",)), result("z")]
    )

    page = write_class_report(course, LAB).read_text()

    assert [hex(ord(c)) for c in page if unicodedata.category(c) in ("Cc", "Cf") and c != "\n"] == []
    assert "<td>xy</td>" in page and "20/20" in page


def test_a_class_of_200_renders(course):
    random.seed(7)
    entries = [entry for entry in ENTRIES.values() if set(entry.cells) <= set(CORRECT)]
    words = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta"]
    results = []
    for number in range(200):
        entry = random.choice(entries)
        student = f"student_{number:03d}"
        names = {"mu": random.choice(words) + "_mu", "epsilon": random.choice(words) + "_eps"}
        answers = {grade_id: renamed(code, names) for grade_id, code in {**CORRECT, **entry.cells}.items()}
        failed = tuple(sorted(entry.fails))
        errors = {
            grade_id: wrong_answer("f", [f"case {number}: value is {random.random()}, expected 1.5"])
            for grade_id in failed
        }
        add_student(course, student, answers, errors)
        notes = (incident_note("cell_timeout"),) if number % 25 == 0 else ()
        results.append(StudentResult(student, 20.0 - 10 * len(failed), 20.0, list(failed), list(notes)))
    write_results(course, results)

    started = time.monotonic()
    path = write_class_report(course, LAB)
    elapsed = time.monotonic() - started

    print(f"\nclass report of 200 students: {elapsed:.2f} s, {path.stat().st_size / 1e6:.1f} MB")
    page = path.read_text()
    assert all(f"<td>student_{number:03d}</td>" in page for number in range(200))


def test_students_with_the_same_unusual_wrong_outputs_are_listed_escaped(course):
    students = ["ada", "<b>bob</b>", "cem"]
    write_results(course, [result(student, ("test_select_threshold",)) for student in students])
    for student in students:
        add_student(course, student)
    provenance = course.records / "provenance" / f"{LAB}.jsonl"
    provenance.parent.mkdir(parents=True)
    digests = {"ada": "same", "<b>bob</b>": "same", "cem": "another"}
    provenance.write_text(
        "".join(
            json.dumps(
                {"student": s, "verdicts": {"test_select_threshold": {"problems": ["x"], "fixed": {"real_part1": d}}}}
            )
            + "\n"
            for s, d in digests.items()
        )
    )
    shown = section(write_class_report(course, LAB).read_text(), "Alike wrong outputs")
    assert "Alike wrong outputs (1 group)" in shown
    assert "<td>&lt;b&gt;bob&lt;/b&gt;, ada</td><td>test_select_threshold</td><td>real_part1</td>" in shown
    assert "cem" not in shown

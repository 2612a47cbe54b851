"""The feedback page a student reads (nbgrader's generate_feedback with grading/reporting/feedback_page).

A small course of its own (two submissions of the first lab, autograded by real nbgrader, then
`python -m grading feedback`'s code) keeps these tests under a minute: `sample_variance`
gets one exercise wrong, `leaky` prints where it runs, raises inside numpy and warns on stderr,
so that its page would be full of the grading machine's paths if nothing shortened them.
"""

from __future__ import annotations

import html
import os
import re
import sys
import tempfile
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.api import Gradebook

from grading.classwork.autograde_class import autograde_class, ensure_in_gradebook
from grading.cli import copy_course, feedback
from grading.course import KIT_ROOT, Course
from grading.reporting.feedback_page import TEMPLATE_DIRS
from grading.reporting.feedback_page.name_exercises import exercise_name
from grading.reporting.feedback_page.render_math import PIECES, RenderMath
from grading.reporting.feedback_page.shorten_paths import PathShortener, path_rules, shorten_output
from grading.sample_class import corpus, fill_answers, released_notebook, submission_of, write_submission
from grading.sandbox.launch import HOME, PROGRAMS, SHARED_CACHE

LAB = "anomaly_detection"
DUE = datetime(2026, 10, 1, 12, 0)
LIMITS = {"ExecuteInSandbox.timeout": 10, "VerifyAnswers.timeout": 15}
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
LEAKY_ANSWER = """import inspect, os, sys
import numpy as np
print("cwd:", os.getcwd(), "prefix:", sys.prefix, "numpy:", np.__file__)
print("stack:", [frame.filename for frame in inspect.stack()])
np.mean(np.array([]))  # a RuntimeWarning on stderr, with numpy's path


def estimate_gaussian(X):
    return np.mean(X, axis=5), np.var(X, axis=0)
"""


def _machine_paths(course: Course) -> list[str]:
    """Absolute paths of the grading machine that no feedback page may show."""
    paths = {
        sys.prefix,
        os.path.realpath(sys.prefix),
        sys.base_prefix,
        os.path.realpath(sys.base_prefix),
        str(KIT_ROOT),
        str(course.root),
        os.path.realpath(course.root),
        HOME,
        PROGRAMS,
        SHARED_CACHE,
    }
    return sorted(paths)


def _text(page: str) -> str:
    """What a reader sees of a page: its text without tags (code is split into highlighted spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


class _Tags(HTMLParser):
    """Every start tag of a page: (tag, attributes, whether it is in <head>)."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None], bool]] = []
        self._in_head = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self._in_head = self._in_head or tag == "head"
        self.tags.append((tag, dict(attrs), self._in_head))

    def handle_endtag(self, tag):
        self._in_head = self._in_head and tag != "head"


def _active_markup(page: str) -> list[str]:
    """Tags and attributes of a page that would run or load something."""
    found = []
    for tag, attrs, _ in _Tags(page).tags:
        if tag in ("script", "iframe", "object", "embed"):
            found.append(f"<{tag}>")
        found += [
            f"<{tag} {name}>"
            for name, value in attrs.items()
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:")
        ]
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course_template) -> SimpleNamespace:
    """A small class of the first lab autograded with the course's configuration: `course`, and
    `pages`, {student: feedback page}. The lab is due on `DUE`, with a late policy of an hour's
    grace then half the score per day; `sample_variance` hands in 5 hours late, `leaky` a day early."""
    course = copy_course(course_template, tmp_path_factory.mktemp("feedback") / "course")
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write("\nc.LatePolicy.grace_minutes = 60\nc.LatePolicy.per_day = 0.5\n")
    api = course.nbgrader_api()
    ensure_in_gradebook(api, course, LAB)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        gradebook.update_or_create_assignment(LAB, duedate=DUE)
    entries = {entry.name: entry for entry in corpus(LAB)}
    released = released_notebook(course, LAB)
    submissions = {
        "sample_variance": submission_of(entries["sample_variance"], entries["correct_vectorised"], released),
        "leaky": fill_answers(released, {"estimate_gaussian": LEAKY_ANSWER}),
    }
    for student, notebook in submissions.items():
        write_submission(course, LAB, student, notebook)
        handed_in = DUE + (timedelta(hours=5) if student == "sample_variance" else -timedelta(days=1))
        (course.submission(LAB, student).parent / "timestamp.txt").write_text(f"{handed_in:%Y-%m-%d %H:%M:%S.%f} UTC")
    autograde_class(course, LAB, ["sample_variance", "leaky"], progress=lambda line: None, **LIMITS)
    feedback(course, LAB)
    pages = {
        student: (course.feedback / student / LAB / f"{LAB}.html").read_text()
        for student in ("sample_variance", "leaky")
    }
    return SimpleNamespace(course=course, pages=pages)


@pytest.mark.sandbox
def test_no_hidden_test_code_is_shown(graded):
    master = nbformat.read(KIT_ROOT / "solutions" / LAB / f"{LAB}.ipynb", as_version=4)
    hidden = [
        line.strip()
        for cell in master.cells
        if "### BEGIN HIDDEN TESTS" in cell.source
        for line in cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].splitlines()
        if line.strip() and "END HIDDEN TESTS" not in line
    ]
    assert hidden  # the master has hidden tests to hide
    for student, page in graded.pages.items():
        text = _text(page)
        assert "HIDDEN TESTS" not in text, student
        assert "grading.verdicts.hidden_tests" not in text, student
        assert [line for line in hidden if line in text] == [], student


@pytest.mark.sandbox
def test_no_absolute_path_of_the_grading_machine_is_shown(graded):
    course = graded.course
    autograded = course.autograded_notebook(LAB, "leaky").read_text()
    assert sys.prefix in autograded and HOME in autograded and PROGRAMS in autograded  # there was something to hide
    for student, page in graded.pages.items():
        assert [path for path in _machine_paths(course) if path in page] == [], student
        assert "site-packages" not in page, student
    leaky = _text(graded.pages["leaky"])  # the outputs are still there, with short names
    assert "File numpy/_core/" in leaky and "<grader>/notebook_runner.py" in leaky and "RuntimeWarning" in leaky
    assert "AxisError: axis 5 is out of bounds" in leaky
    assert "Not yet right: estimate_gaussian(X) with X = " in leaky  # the self-check's one line, no traceback


@pytest.mark.sandbox
def test_summary_names_each_exercise_with_its_score(graded):
    page = graded.pages["sample_variance"]
    summary = re.search(r'<ol class="summary">(.*?)</ol>', page, re.S).group(1)
    items = [" ".join(_text(item).split()) for item in re.findall(r"<li[^>]*>(.*?)</li>", summary, re.S)]
    assert items == [
        "Exercise 1: estimate_gaussian0 / 10",
        "Exercise 2: select_threshold10 / 10",
        "Late submission penalty−5",  # 5 hours late: half of the score (`graded`)
    ]
    assert "Test cell" not in page


@pytest.mark.sandbox
def test_the_page_says_when_the_lab_was_due_how_late_it_came_and_what_that_cost(graded):
    late, early = (" ".join(_text(graded.pages[student]).split()) for student in ("sample_variance", "leaky"))
    policy = "Late work: after 60 minutes' grace, 50% of the score off per day or part of a day."
    assert f"Due 2026-10-01 12:00 UTC; handed in 2026-10-01 17:00 UTC, 5 h late. {policy}" in late
    assert "Late submission penalty−5" in late and "Score: 5 / 20" in late
    assert f"Due 2026-10-01 12:00 UTC; handed in 2026-09-30 12:00 UTC. {policy}" in early
    assert "Late submission penalty" not in early


@pytest.mark.sandbox
def test_wrong_answer_is_explained_in_the_students_terms(graded):
    text = _text(graded.pages["sample_variance"])
    assert "estimate_gaussian is not correct yet" in text  # the grader's verdict (WrongAnswer)
    assert "Did you divide by m - 1 instead of m?" in text  # the public test's hint


@pytest.mark.sandbox
def test_formulas_are_mathml(graded):
    released = released_notebook(graded.course, LAB)
    formulas = sum(
        1
        for cell in released.cells
        if cell.cell_type == "markdown"
        for piece in PIECES.finditer(cell.source)
        if piece.group("display") or piece.group("inline")
    )
    page = graded.pages["sample_variance"]
    assert formulas > 50
    assert page.count("<math") == formulas
    assert '<math display="block">' in page
    assert "$p(x)$" not in page and "$$" not in page


@pytest.mark.sandbox
def test_page_runs_no_script_and_forbids_scripts(graded):
    for student, page in graded.pages.items():
        assert "<script" not in page.lower() and _active_markup(page) == [], student
        policies = [
            attrs.get("content")
            for tag, attrs, in_head in _Tags(page).tags
            if tag == "meta" and in_head and (attrs.get("http-equiv") or "").lower() == "content-security-policy"
        ]
        assert policies == [CSP], student


@pytest.mark.sandbox
def test_page_is_small(graded):
    """Bound: everything but the embedded figures under 100 KB (nbgrader's page: 186 KB, 117 KB of
    it bootstrap), and the whole page, with the lab's eight figures, under 300 KB (nbgrader's: 453 KB
    with four figures)."""
    page = graded.pages["sample_variance"].encode()
    figures = re.findall(rb"data:image/png;base64,[^\"']*", page)
    assert len(figures) == 8  # every figure of the lab is there
    assert len(page) - sum(len(data) for data in figures) < 100_000
    assert len(page) < 300_000


@pytest.mark.sandbox
def test_each_feedback_folder_holds_the_page_alone(graded):
    """nbgrader copies the graded folder's other files (the lab's data and helpers) beside each page."""
    for student in graded.pages:
        folder = graded.course.feedback / student / LAB
        assert sorted(path.name for path in folder.iterdir()) == [f"{LAB}.html"]
        assert (graded.course.autograded / student / LAB / "data").is_dir()  # there to be copied


def test_figures_are_palette_pngs_of_the_same_size():
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from grading.reporting.feedback_page.compress_figures import lighter_png

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.contourf(*np.meshgrid(np.linspace(0, 1, 50), np.linspace(0, 1, 50)), np.random.default_rng(0).random((50, 50)))
    saved = io.BytesIO()
    figure.savefig(saved, format="png")
    plt.close(figure)
    original = base64.b64encode(saved.getvalue()).decode()
    lighter = lighter_png(original)
    before, after = (Image.open(io.BytesIO(base64.b64decode(data))) for data in (original, lighter))
    assert after.size == before.size and after.mode == "P" and len(lighter) < len(original)


def test_a_figure_that_is_not_a_png_is_kept_as_it_is():
    from grading.reporting.feedback_page.compress_figures import lighter_png

    for data in ("bm90IGEgcG5n", "!!!", ""):
        assert lighter_png(data) == data


# Small cases, without nbgrader ------------------------------------------------------------------


def test_exercise_name_falls_back_to_the_grade_id():
    first_line = "# Tests for Exercise 2 (10 points): run this cell to check your select_threshold.\nx = 1\n"
    assert exercise_name(first_line, "test_select_threshold") == "Exercise 2: select_threshold"
    assert (
        exercise_name("select_threshold_test(select_threshold)\n", "test_select_threshold") == "test_select_threshold"
    )


def test_dollars_in_code_stay_as_written():
    cell = new_markdown_cell("Set `$HOME` and $x_1$.\n\n```bash\necho $PATH $HOME\n```\n")
    source = RenderMath().preprocess_cell(cell, {}, 0)[0].source
    assert "`$HOME`" in source and "echo $PATH $HOME" in source
    assert source.count("<math>") == 1


def test_sandbox_paths_in_outputs_get_short_names(tmp_path):
    shorten = PathShortener(path_rules(LAB, tmp_path))
    output = new_output(
        "error",
        ename="OSError",
        evalue=f"{SHARED_CACHE}/x is read-only",
        traceback=[
            f"File {PROGRAMS}/notebook_runner.py:10",
            f"File {HOME}/{LAB}/utils.py:3",
            f"{tmp_path}/records/gradebook.db",
            f"File {tempfile.gettempdir()}/course-unsafe-run-x1y2{HOME}/{LAB}/utils.py:3",  # --unsafe-no-sandbox's layout
        ],
    )
    shorten_output(output, shorten)
    assert output.traceback == [
        "File <grader>/notebook_runner.py:10",
        "File utils.py:3",
        "<course>/records/gradebook.db",
        "File utils.py:3",
    ]
    assert output.evalue == "<cache>/x is read-only"
    html_output = new_output("display_data", data={"text/html": f"<p>{Path(sys.prefix) / 'bin'}</p>"})
    shorten_output(html_output, shorten)
    assert html_output.data["text/html"] == "<p>&lt;python&gt;/bin</p>"


def test_markup_of_outputs_is_escaped_by_the_template_too():
    """Whatever an autograded notebook holds (one graded before outputs were sanitised, say)."""
    outputs = [
        new_output("display_data", data={"text/html": "<script>document.title = 'MARK'</script><b>hi</b>"}),
        new_output(
            "display_data", data={"text/markdown": '<img src=x onerror="alert(1)">\n\n[a](javascript:alert(1))'}
        ),
    ]
    notebook = new_notebook(cells=[new_code_cell("show()", outputs=outputs)])
    resources = {"nbgrader": {"notebook": LAB, "score": 0, "max_score": 0, "late_penalty": 0}}
    page, _ = HTMLExporter(template_name="feedback", extra_template_basedirs=TEMPLATE_DIRS).from_notebook_node(
        notebook, resources
    )
    assert _active_markup(page) == []
    assert "<b>hi</b>" in page  # what is harmless stays


def test_a_student_who_changed_locked_cells_is_told_on_their_page_that_the_changes_were_ignored(graded_class):
    course = graded_class.course
    tampered = (course.feedback / "cheat-edited-test-cell" / LAB / f"{LAB}.html").read_text()
    assert "You changed or removed read-only cells (test_estimate_gaussian)" in _text(tampered)
    honest = (course.feedback / "aaa-honest-first" / LAB / f"{LAB}.html").read_text()
    assert "You changed or removed read-only cells" not in _text(honest)


def test_the_pages_sanitizer_gives_nbconverts_html_each_distinct_piece_sanitized_once():
    from nbconvert.filters.strings import clean_html as nbconverts

    from grading.reporting.feedback_page.clean_html import LARGEST_REMEMBERED, _remembered, clean_html

    pieces = [
        '<p onclick="steal()">F1 <script>alert(1)</script><b>0.875</b></p>',
        b'<div class="highlight"><pre><span class="k">def</span> f(): pass</pre></div>',
        '<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)>',
    ]
    _remembered.cache_clear()
    for _ in range(3):  # the same pieces on three students' pages
        assert [clean_html(piece) for piece in pieces] == [nbconverts(piece) for piece in pieces]
    assert _remembered.cache_info().misses == len(pieces)
    outsized = "<p onclick=x>" + "a" * LARGEST_REMEMBERED + "</p>"
    assert clean_html(outsized) == nbconverts(outsized) and _remembered.cache_info().currsize == len(pieces)

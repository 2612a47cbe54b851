"""Submissions made from the correctness corpus: the class that `make demo` and the tests grade.

A corpus entry (`grading/corpus/<lab>/<entry>.py`) holds the answer cells of one imagined
student in "percent" format: `# %% <answer grade id>` starts a cell. Cells an entry leaves
out come from the entry `correct_vectorised`. A line `# fails: <grade ids>` says which grade
cells the entry must lose (`none` for a correct one); a line `# public tests pass: <grade id>:
<why>` marks a mistake that only the hidden tests can catch, and says what they check that the
public ones do not.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from grading.course import KIT_ROOT, Course
from grading.errors import CommandError

CORPUS = KIT_ROOT / "grading" / "corpus"
BASE_ENTRY = "correct_vectorised"
UNMODIFIED = "unmodified_release"
BROKEN = "broken_notebook"
_CELL_MARK = re.compile(r"^# %% (\S+)\s*$", re.MULTILINE)
_PUBLIC_PASS = re.compile(r"^# public tests pass: (\w+): (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class CorpusEntry:
    name: str
    description: str
    fails: frozenset[str]
    cells: dict[str, str]
    hidden_only: dict[str, str] = field(default_factory=dict)  # grade id -> what only the hidden tests check


def read_entry(path: Path) -> CorpusEntry:
    """Parse one corpus file; a file without a `# fails:` line is an error, not a guess."""
    text = path.read_text()
    fails = re.search(r"^# fails:(.*)$", text, re.MULTILINE)
    if fails is None:
        raise CommandError(f"{path}: no '# fails:' line; add '# fails: none' or the grade ids it must fail")
    ids = {item.strip() for item in fails.group(1).split(",")} - {"", "none"}
    description = text.split('"""')[1].strip() if text.startswith('"""') else path.stem
    parts = _CELL_MARK.split(text)
    cells = {parts[i]: parts[i + 1].strip("\n") + "\n" for i in range(1, len(parts), 2)}
    hidden_only = dict(match.groups() for match in _PUBLIC_PASS.finditer(parts[0]))
    return CorpusEntry(path.stem, description, frozenset(ids), cells, hidden_only)


def corpus(lab: str) -> list[CorpusEntry]:
    """Every entry of a lab's corpus, sorted by name."""
    return [read_entry(path) for path in sorted((CORPUS / lab).glob("*.py"))]


def released_notebook(course: Course, lab: str) -> NotebookNode:
    return nbformat.read(course.releases / lab / f"{lab}.ipynb", as_version=4)


def fill_answers(release: NotebookNode, cells: dict[str, str]) -> NotebookNode:
    """The release with the given answer cells' sources put in, as a student would save it."""
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in cells:
            cell.source = cells[grade_id]
    return notebook


def submission_of(entry: CorpusEntry, base: CorpusEntry, release: NotebookNode) -> NotebookNode:
    return fill_answers(release, {**base.cells, **entry.cells})


def write_submission(course: Course, lab: str, student: str, notebook: NotebookNode | str) -> Path:
    """Save a notebook (or raw text, for a broken file) where nbgrader looks for a submission."""
    path = course.submission(lab, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook if isinstance(notebook, str) else nbformat.writes(notebook))
    return path


def write_sample_class(course: Course, lab: str) -> dict[str, frozenset[str]]:
    """Write one submission per corpus entry, plus the unmodified release and a broken file.

    Returns each student's expected failed grade ids; the unmodified release and the broken
    file fail every grade cell.
    """
    release = released_notebook(course, lab)
    entries = corpus(lab)
    base = next(entry for entry in entries if entry.name == BASE_ENTRY)
    every_grade_cell = frozenset(
        cell.metadata["nbgrader"]["grade_id"]
        for cell in release.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    )
    expected: dict[str, frozenset[str]] = {}
    for entry in entries:
        write_submission(course, lab, entry.name, submission_of(entry, base, release))
        expected[entry.name] = entry.fails
    write_submission(course, lab, UNMODIFIED, release)
    expected[UNMODIFIED] = every_grade_cell
    whole = nbformat.writes(fill_answers(release, base.cells))
    write_submission(course, lab, BROKEN, whole[: len(whole) // 2])
    expected[BROKEN] = every_grade_cell
    return expected

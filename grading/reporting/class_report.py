"""The instructor's page for a graded lab: `records/reports/<lab>.html`, readable offline.

It shows the score distribution, each exercise's pass rate, the most common failure messages
(from the grader's "WrongAnswer" outputs in the autograded notebooks, numbers normalised away),
the submissions with a note (crashed, timed out, unreadable, over a limit, locked cells changed)
the pairs of submissions whose answer cells are suspiciously alike (copydetect's winnowed
fingerprints, the release's stubs discounted as boilerplate), side by side, and the students
whose answers give the same unusual wrong outputs on the cases everyone shares (`alike_outputs`).

Everything that comes from a submission is untrusted text: notebooks are only parsed as JSON
(nbformat, at most MAX_NOTEBOOK_BYTES each), never run or imported, and every string from them
or from the class report is made printable (`grading.text`: no control or bidi characters) and
HTML-escaped. The page loads nothing: CSS inline, plots as PNG data.
"""

from __future__ import annotations

import argparse
import base64
import heapq
import io
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from itertools import combinations, product
from pathlib import Path

import nbformat
import numpy as np
from copydetect import CodeFingerprint, compare_files
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from nbformat.notebooknode import NotebookNode

from grading.course import KIT_ROOT, Course
from grading.errors import CommandError
from grading.reporting.alike_outputs import (
    UNUSUAL_AT_MOST,
    AlikeOutputs,
    alike_wrong_outputs,
    latest_records,
    provenance_path,
)
from grading.reporting.report import load_results
from grading.reporting.results import StudentResult
from grading.sandbox.protocol import OutputLimits
from grading.text import printable, printable_lines

MAX_ANSWER_CHARS = 50_000  # answer code fingerprinted and shown per student
MAX_LINES_PER_ERROR, MAX_LINE_CHARS = 40, 400  # what is read of one WrongAnswer message
NOISE_T = 25  # copydetect's noise threshold: the shortest match (in filtered characters) that counts
SIMILAR_T = 0.8  # a pair is flagged when this share of either side's answer code is shared
MIN_SHARED = 2 * NOISE_T  # ... and at least this many filtered characters are shared
# An autograded notebook holds the release's cells and at most notebook_bytes of outputs: a
# bigger one is skipped, not read.
MAX_NOTEBOOK_BYTES = 2 * OutputLimits.notebook_bytes
MAX_COMPARED, MAX_PAIRS_SHOWN, MAX_FAILURES_SHOWN = 1_000, 25, 25
COMMON_ANSWERS = 100  # in a larger class, code shared by more distinct answers than this is discounted
# Numbers that differ from one student to the next (1.83862, -2.5e-03); whole numbers (shapes, sizes,
# an exit code) are kept: they say which case failed.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+(?=[eE][-+]?\d))(?:[eE][-+]?\d+)?")
_ARRAY = re.compile(r"\[[-+\d.eE\s,…]*\d[-+\d.eE\s,…]*\]")  # an array's values, whole numbers too


@dataclass
class SimilarPair:
    first: str
    second: str
    similarity: tuple[float, float]  # share of each side's answer code found in the other
    code: tuple[str, str]
    slices: tuple[np.ndarray, np.ndarray]  # copied spans (2 x n: starts, ends) in each side's code


def read_notebook(path: Path) -> NotebookNode | None:
    """The notebook at `path`, parsed only; None if missing, a link, too large, unreadable or invalid."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None
        invalid: dict = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.read(path, as_version=4, capture_validation_error=invalid)
        return None if invalid else notebook
    except Exception:  # any damage: nothing to show for this student
        return None


def _nbgrader(cell: NotebookNode) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_cells(release: NotebookNode) -> dict[str, float]:
    """Grade id -> points of the release's grade cells, in notebook order."""
    return {
        str(_nbgrader(c).get("grade_id")): float(_nbgrader(c).get("points") or 0)
        for c in release.cells
        if _nbgrader(c).get("grade")
    }


def answer_code(notebook: NotebookNode) -> str:
    """The answer cells' sources (code cells with nbgrader solution true), joined in order, capped."""
    sources = [
        str(c.get("source", ""))
        for c in notebook.cells
        if c.get("cell_type") == "code" and _nbgrader(c).get("solution")
    ]
    return "\n\n".join(sources)[:MAX_ANSWER_CHARS]


def normalise(message: str) -> str:
    """A failure message, printable, with its decimal numbers (and arrays of them) replaced, so alike
    mistakes group; an exception's name left without a message loses its colon."""
    text = _NUMBER.sub("N", _ARRAY.sub("[…]", printable(message[: 2 * MAX_LINE_CHARS])))
    return " ".join(text.split())[:MAX_LINE_CHARS].rstrip(":")


def failure_messages(notebook: NotebookNode) -> set[tuple[str, tuple[str, ...]]]:
    """(grade id, normalised problems) of each WrongAnswer error in a grade cell: its "- " lines."""
    found = set()
    for cell in notebook.cells:
        if not _nbgrader(cell).get("grade"):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") == "WrongAnswer":
                lines = str(output.get("evalue", "")).splitlines()[:MAX_LINES_PER_ERROR]
                problems = tuple(dict.fromkeys(normalise(line[2:]) for line in lines if line.startswith("- ")))
                found.add((str(_nbgrader(cell).get("grade_id")), problems or (normalise(" ".join(lines)),)))
    return found


def common_failures(failures: dict[str, set]) -> list[tuple[str, tuple[str, ...], list[str]]]:
    """(grade id, normalised problems, students whose message it was), the most students first,
    from each student's `failure_messages`."""
    students: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for student, found in failures.items():
        for key in found:
            students[key].append(student)
    return sorted(((*key, sorted(names)) for key, names in students.items()), key=lambda f: (-len(f[2]), f[0], f[1]))


def pass_rates(results: list[StudentResult], exercises: dict[str, float]) -> dict[str, tuple[int, int]]:
    """Grade id -> (students who got its points, students graded)."""
    return {grade_id: (sum(grade_id not in r.failed for r in results), len(results)) for grade_id in exercises}


def _fingerprint(code: str, boilerplate: np.ndarray | None = None) -> CodeFingerprint:
    return CodeFingerprint("answers.py", NOISE_T, 1, boilerplate, fp=io.StringIO(code), language="python")


def _common_hashes(prints: list[CodeFingerprint]) -> np.ndarray:
    """The fingerprints that more than COMMON_ANSWERS of the distinct answers share (none in a
    class with fewer distinct answers): the lab's own idiom, not a sign of copying."""
    holders = Counter(h for fingerprint in prints for h in fingerprint.hashes)
    return np.array(sorted(h for h, count in holders.items() if count > COMMON_ANSWERS), dtype=np.int64)


def _likely(prints: list[CodeFingerprint], holders: list[list[str]]) -> dict[float, list[tuple[int, int]]]:
    """Share of fingerprints -> the pairs of distinct answers (i <= j; i == j for an answer that
    several students gave) that share at least SIMILAR_T / 2 of the smaller one's. Counted through
    each fingerprint's holders: only answers that share something are ever paired."""
    having: dict[int, list[int]] = defaultdict(list)
    for index, fingerprint in enumerate(prints):
        for h in fingerprint.hashes:
            having[h].append(index)
    shared_hashes = Counter(pair for indices in having.values() for pair in combinations(indices, 2))
    shared_hashes.update({(i, i): len(prints[i].hashes) for i, students in enumerate(holders) if len(students) > 1})
    levels: dict[float, list[tuple[int, int]]] = defaultdict(list)
    for (i, j), count in shared_hashes.items():
        shared = count / max(min(len(prints[i].hashes), len(prints[j].hashes)), 1)
        if shared >= SIMILAR_T / 2:
            levels[shared].append((i, j))
    return levels


def _student_pairs(i: int, j: int, holders: list[list[str]]) -> Iterator[tuple[str, str]]:
    if i == j:
        return combinations(holders[i], 2)
    return (tuple(sorted(pair)) for pair in product(holders[i], holders[j]))


def _pair_count(i: int, j: int, holders: list[list[str]]) -> int:
    return len(holders[i]) * (len(holders[i]) - 1) // 2 if i == j else len(holders[i]) * len(holders[j])


def _most_promising(
    levels: dict[float, list[tuple[int, int]]], holders: list[list[str]]
) -> tuple[list[tuple[str, str]], int]:
    """The MAX_COMPARED student pairs that share the most (ties by name), and how many pairs were likely."""
    chosen: list[tuple[str, str]] = []
    likely = 0
    for shared in sorted(levels, reverse=True):
        likely += sum(_pair_count(i, j, holders) for i, j in levels[shared])
        room = MAX_COMPARED - len(chosen)
        if room > 0:
            level = (pair for i, j in levels[shared] for pair in _student_pairs(i, j, holders))
            chosen += heapq.nsmallest(room, level)
    return chosen, likely


def similar_pairs(answers: dict[str, str], stub: str) -> tuple[list[SimilarPair], int]:
    """Pairs whose answer code is alike beyond the release's stubs, most alike first, and how many
    likely pairs were left unchecked (only the MAX_COMPARED most promising are compared in full).

    Students who gave the same answer code are fingerprinted and compared once, and only answers
    that share fingerprints are paired: a class of 10,000 costs about as much as its distinct
    answers. In a class of more than COMMON_ANSWERS distinct answers, code that more of them share
    is discounted like the stubs."""
    by_code: dict[str, list[str]] = defaultdict(list)
    for student in sorted(answers):
        by_code[answers[student]].append(student)
    codes, holders = list(by_code), list(by_code.values())
    index_of = {student: index for index, students in enumerate(holders) for student in students}
    boilerplate = np.unique(np.array(sorted(_fingerprint(stub).hashes), dtype=np.int64))
    prints = [_fingerprint(code, boilerplate) for code in codes]
    common = _common_hashes(prints) if len(codes) > COMMON_ANSWERS else np.array([], dtype=np.int64)
    if common.size:
        boilerplate = np.union1d(boilerplate, common)
        prints = [_fingerprint(code, boilerplate) for code in codes]
    candidates, likely = _most_promising(_likely(prints, holders), holders)
    compared: dict[tuple[int, int], tuple] = {}
    pairs = []
    for a, b in candidates:
        ia, ib = index_of[a], index_of[b]
        if (ia, ib) not in compared:
            compared[ia, ib] = compare_files(prints[ia], prints[ib])
        overlap, similarity, slices = compared[ia, ib]
        if overlap >= MIN_SHARED and max(similarity) >= SIMILAR_T:
            pairs.append(
                SimilarPair(a, b, (float(similarity[0]), float(similarity[1])), (codes[ia], codes[ib]), slices)
            )
    pairs.sort(key=lambda p: (-max(p.similarity), -min(p.similarity), p.first, p.second))
    return pairs, max(likely - MAX_COMPARED, 0)


def histogram_png(scores: list[float], max_score: float) -> str:
    """A histogram of the scores as a PNG data URI (matplotlib's Agg canvas, no pyplot state)."""
    figure = Figure(figsize=(6.4, 2.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    top = max(max_score, max(scores, default=0), 1)
    whole = top <= 40 and all(float(s).is_integer() for s in scores)  # one bar per possible score
    bins = np.arange(-0.5, int(top) + 1) if whole else np.linspace(0, top, 21)
    axes.hist(scores, bins=bins, color="#4a78b5", edgecolor="white")
    axes.set(xlabel="score", ylabel="students", xlim=(bins[0], bins[-1]))
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def highlight(code: str, slices: np.ndarray) -> str:
    """`code` escaped, with the copied spans (2 x n array: starts, ends) in <mark>."""
    parts, position = [], 0
    for start, end in sorted(zip(*np.asarray(slices, dtype=int).tolist())) if np.size(slices) else []:
        start, end = max(_word_start(code, start), position), min(_word_end(code, end), len(code))
        if start < end:
            parts += [_code(code[position:start]), "<mark>", _code(code[start:end]), "</mark>"]
            position = end
    return "".join(parts) + _code(code[position:])


def _in_word(code: str, position: int) -> bool:
    """Whether `position` falls between two characters of one word."""
    return 0 < position < len(code) and all(char.isalnum() or char == "_" for char in code[position - 1 : position + 1])


def _word_start(code: str, start: int) -> int:
    """`start` moved back to the start of the word it cuts (copydetect's spans may begin mid-word)."""
    while _in_word(code, start):
        start -= 1
    return start


def _word_end(code: str, end: int) -> int:
    """`end` moved on to the end of the word it cuts."""
    while _in_word(code, end):
        end += 1
    return end


def _code(code: str) -> str:
    """Code for the page: its lines printable (no bidi override can make it read otherwise), escaped."""
    return escape(printable_lines(code))


def _shown(text: str) -> str:
    """A string of the class (a student id, a note, a message) for the page: printable, escaped."""
    return escape(printable(text))


def _table(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table, or "None." without rows; cells are HTML already (escape them before)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if rows else "<p>None.</p>"


def _listed(items: list[str], shown: int = 8) -> list[str]:
    return items[:shown] + ([f"and {len(items) - shown} more"] if len(items) > shown else [])


def _percent(share: float) -> str:
    return f'<span class="bar"><span style="width:{100 * share:.0f}%"></span></span> {100 * share:.0f}%'


def scores_section(lab: str, results: list[StudentResult], max_score: float) -> str:
    """Title, summary line and the histogram."""
    scores = [float(r.score) for r in results]
    mean, median = (float(np.mean(scores)), float(np.median(scores))) if scores else (0.0, 0.0)
    summary = (
        f"{len(results)} submissions, mean {mean:.1f}/{max_score:g}, median {median:g},"
        f" full marks {sum(s >= max_score for s in scores)}"
    )
    return (
        f"<h1>{escape(lab)}</h1><p>{escape(summary)}</p><h2>Score distribution</h2>"
        f'<img alt="histogram of the scores" src="{histogram_png(scores, max_score)}">'
    )


def exercises_section(results: list[StudentResult], exercises: dict[str, float]) -> str:
    rates = pass_rates(results, exercises)
    rows = [
        [escape(g), f"{points:g}", f"{rates[g][0]}/{rates[g][1]}", _percent(rates[g][0] / max(rates[g][1], 1))]
        for g, points in exercises.items()
    ]
    return "<h2>Exercises</h2>" + _table(["grade cell", "points", "passed", "pass rate"], rows)


def failures_section(failures: list[tuple[str, tuple[str, ...], list[str]]]) -> str:
    rows = [
        [
            _shown(g),
            "<ul>" + "".join(f"<li>{_shown(p)}</li>" for p in _listed(list(problems))) + "</ul>",
            str(len(students)),
            _shown(", ".join(_listed(students))),
        ]
        for g, problems, students in failures[:MAX_FAILURES_SHOWN]
    ]
    return "<h2>Most common failures</h2><p>What the grader told students, numbers replaced by N.</p>" + _table(
        ["grade cell", "problems", "students", "who"], rows
    )


def notes_section(results: list[StudentResult], skipped: list[str]) -> str:
    noted = [r for r in results if r.notes]
    rows = [
        [
            _shown(r.student),
            f"{float(r.score):g}/{float(r.max_score):g}",
            "<br>".join(escape(n.kind) for n in r.notes),
            "<br>".join(_shown(n.text) for n in r.notes),
        ]
        for r in noted
    ]
    unread = (
        (
            f"<p>Autograded notebooks not read (missing, over {MAX_NOTEBOOK_BYTES // 1_000_000} MB or damaged): "
            f"{_shown(', '.join(_listed(skipped, 50)))}</p>"
        )
        if skipped
        else ""
    )
    return (
        f"<h2>Submissions with a note ({len(noted)})</h2>"
        + _table(["student", "score", "what", "reason"], rows)
        + unread
    )


def similarity_section(pairs: list[SimilarPair], unchecked: int) -> str:
    """The flagged pairs, each with its answer cells side by side, shared code marked."""
    shown = pairs[:MAX_PAIRS_SHOWN]
    rows = [
        [
            f'<a href="#pair-{i}">{_shown(p.first)} – {_shown(p.second)}</a>',
            f"{100 * p.similarity[0]:.0f}% / {100 * p.similarity[1]:.0f}%",
        ]
        for i, p in enumerate(shown)
    ]
    views = "".join(
        f'<details id="pair-{i}"><summary>{_shown(p.first)} and {_shown(p.second)}</summary><div class="side">'
        + "".join(
            f"<div><h4>{_shown(name)}</h4><pre>{highlight(code, spans)}</pre></div>"
            for name, code, spans in zip((p.first, p.second), p.code, p.slices)
        )
        + "</div></details>"
        for i, p in enumerate(shown)
    )
    more = f"<p>The {len(shown)} most alike of {len(pairs)} pairs are shown.</p>" if len(pairs) > len(shown) else ""
    more += f"<p>{unchecked} more pairs share many fingerprints but were not compared in full.</p>" if unchecked else ""
    return (
        f"<h2>Similar answers ({len(pairs)} pair{'' if len(pairs) == 1 else 's'})</h2>"
        f"<p>Answer cells compared with copydetect, the release's code discounted; flagged when"
        f" {100 * SIMILAR_T:.0f}% of either side is shared. A hint to look closer, not proof: short"
        " standard solutions look alike.</p>" + _table(["pair", "shared (first / second)"], rows) + views + more
    )


def alike_outputs_section(groups: list[AlikeOutputs], shared_by: int) -> str:
    """The students whose answers gave the same unusual wrong outputs on a case every student shares."""
    rows = [
        [_shown(", ".join(group.students)), _shown(group.exercise), _shown(", ".join(group.cases))]
        for group in groups[:MAX_PAIRS_SHOWN]
    ]
    more = f"<p>The first {len(rows)} of {len(groups)} groups are shown.</p>" if len(groups) > len(rows) else ""
    return (
        f"<h2>Alike wrong outputs ({len(groups)} group{'' if len(groups) == 1 else 's'})</h2>"
        f"<p>Answers that return the same wrong arrays, bit for bit, on the lab's own data (the hidden"
        f" cases every student shares), when at most {shared_by} students of the class do: the same"
        " unusual mistake made the same way. A stronger hint than alike code, and still a hint: look"
        " at the answers side by side.</p>" + _table(["students", "exercise", "cases"], rows) + more
    )


def render_page(
    lab: str,
    results: list[StudentResult],
    exercises: dict[str, float],
    failures: list[tuple[str, tuple[str, ...], list[str]]],
    pairs: list[SimilarPair],
    unchecked: int,
    skipped: list[str],
    alike: list[AlikeOutputs] = (),
) -> str:
    """The whole page as one HTML string; every value from the class is made printable and escaped by the sections."""
    max_score = max((float(r.max_score) for r in results), default=sum(exercises.values()))
    everyone = [[_shown(r.student), f"{float(r.score):g}", _shown(", ".join(r.failed) or "-")] for r in results]
    body = (
        scores_section(lab, results, max_score)
        + exercises_section(results, exercises)
        + failures_section(failures)
        + notes_section(results, skipped)
        + similarity_section(pairs, unchecked)
        + alike_outputs_section(list(alike), UNUSUAL_AT_MOST)
        + "<h2>Every student</h2><details><summary>show</summary>"
        + _table(["student", "score", "failed"], everyone)
        + "</details>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy"'
        f""" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"><title>{escape(lab)}:"""
        f" class report</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}
td{vertical-align:top}ul{margin:0;padding-left:1.2em}mark{background:#ffe28a}summary{cursor:pointer}
.bar{display:inline-block;width:8em;height:.8em;background:#eee}.bar span{display:block;height:100%;background:#4a78b5}
.side{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1em}details{margin:.4em 0}
pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:40em;font-size:12px}"""


def write_class_report(course: Course, lab: str) -> Path:
    """Write `records/reports/<lab>.html` from the lab's JSON report and autograded notebooks; return its path."""
    results = load_results(course, lab)
    release = read_notebook(course.releases / lab / f"{lab}.ipynb")
    if release is None:
        raise CommandError(
            f"No readable release of {lab} at {course.releases / lab}: rebuild it (python -m grading release {lab})."
        )
    answers, failures, skipped = {}, {}, []
    for result in results:  # one notebook at a time: a class of 10,000 is never in memory at once
        notebook = read_notebook(course.autograded_notebook(lab, result.student))
        if notebook is None:
            skipped.append(result.student)
        else:
            answers[result.student], failures[result.student] = answer_code(notebook), failure_messages(notebook)
    pairs, unchecked = similar_pairs(answers, answer_code(release))
    records = latest_records(provenance_path(course, lab))
    alike = alike_wrong_outputs(
        {result.student: records[result.student] for result in results if result.student in records}
    )
    page = render_page(lab, results, grade_cells(release), common_failures(failures), pairs, unchecked, skipped, alike)
    path = course.reports / f"{lab}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    """`python -m grading.reporting.class_report LAB [--course DIR]`: write the lab's page and print its path."""
    parser = argparse.ArgumentParser(
        prog="python -m grading.reporting.class_report", description=write_class_report.__doc__
    )
    parser.add_argument("lab")
    parser.add_argument("--course", type=Path, default=KIT_ROOT)
    args = parser.parse_args(argv)
    print(write_class_report(Course(args.course.resolve()), args.lab))


if __name__ == "__main__":
    main()

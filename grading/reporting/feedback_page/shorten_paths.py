"""Replace the grading machine's paths in a notebook's outputs with names a student can read.

Tracebacks, warnings and printed values of the sandboxed run name files by where they are on
the grading machine: the Python environment (`/.../.venv/lib/python3.11/site-packages/numpy/...`),
the sandbox's lab folder (`/home/student/<lab>/public_tests.py`, which IPython shows as
`~/<lab>/...`), the sandbox's programs (`/opt/course-sandbox`) and cache, the course's root. In
the feedback they read as the student knows them: `numpy/_core/_methods.py`, `public_tests.py`,
and `<python>`, `<grader>`, `<cache>`, `<course>` or `~` for the rest. Text, error and HTML or
Markdown outputs are rewritten; the cells' sources are the release's and the student's own.
"""

from __future__ import annotations

import html
import os
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.coursedir import CourseDirectory

from grading.course import KIT_ROOT
from grading.reporting.feedback_page.base import FeedbackPreprocessor
from grading.sandbox.launch import HOME, PROGRAMS, SHARED_CACHE

_ANSI = re.compile(r"(\x1b\[[0-9;?]*[A-Za-z])")  # colour codes split a text into pieces matched one by one
_NOT_IN_PATH = r"[\w.~-]"  # a path starts and ends where none of these is next to it
# Graded with --unsafe-no-sandbox, the sandbox's paths lie in a temporary folder (grading/sandbox/launch.py's
# _UnsafeLayout): that folder is dropped first, and the sandbox's paths are shortened as usual.
_UNSAFE_LAYOUT = re.compile(re.escape(tempfile.gettempdir()) + r"/course-unsafe-run-[^/\s'\"]+(?=/)")


def _variants(path: str | Path) -> set[str]:
    """`path` as given and, if absolute, as resolved (symbolic links followed), without a trailing slash."""
    text = str(path).rstrip("/")
    if not text.startswith("/"):  # "~/lab": a name the sandbox's IPython shows, not a folder here
        return {text} if text else set()
    return {text, os.path.realpath(text).rstrip("/")}


def python_folders() -> list[str]:
    """Folders of modules (site-packages, the standard library) of the grader's Python."""
    folders: set[str] = set()
    schemes = [{}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}]
    for variables in schemes:
        paths = sysconfig.get_paths(vars=variables) if variables else sysconfig.get_paths()
        for key in ("purelib", "platlib", "stdlib", "platstdlib"):
            folders |= _variants(paths[key])
    return sorted(folders)


def path_rules(lab: str, course_root: str | Path) -> dict[str, str]:
    """{path prefix: what the feedback shows instead}; a prefix ending in "/" swallows that slash."""
    rules: dict[str, str] = {}

    def add(paths, shown: str, folder: bool = False) -> None:
        for path in paths:
            for variant in _variants(path):
                if len(variant) > 1:
                    rules.setdefault(variant + ("/" if folder else ""), shown)

    # The lab's folder, where a student's own files are: its files by their names.
    add([f"{HOME}/{lab}", f"~/{lab}"], "", folder=True)
    add([f"{HOME}/{lab}", f"~/{lab}"], lab)
    add([HOME], "~")
    add([PROGRAMS], "<grader>")
    add([SHARED_CACHE], "<cache>")
    add(python_folders(), "", folder=True)  # numpy/_core/_methods.py, warnings.py
    add(
        [
            sys.prefix,
            sys.exec_prefix,
            sys.base_prefix,
            sys.base_exec_prefix,
            Path(os.path.realpath(sys.executable)).parent.parent,
        ],
        "<python>",
    )
    add([course_root, KIT_ROOT], "<course>")
    home = Path.home()
    if str(home) not in ("/", ""):
        add([home], "~")
    return rules


class PathShortener:
    """Rewrites text with a set of path rules, the longest prefix first."""

    def __init__(self, rules: dict[str, str]):
        self.rules = rules
        alternatives = [
            re.escape(prefix) + ("" if prefix.endswith("/") else f"(?!{_NOT_IN_PATH})")
            for prefix in sorted(rules, key=len, reverse=True)
        ]
        self.pattern = re.compile(f"(?<!{_NOT_IN_PATH})(?:{'|'.join(alternatives)})") if rules else None

    def __call__(self, text: str, markup: bool = False) -> str:
        """`text` with its paths shortened; `markup`: it is HTML or Markdown, so "<python>" is escaped."""
        if self.pattern is None or not isinstance(text, str):
            return text
        replace = (lambda match: html.escape(self.rules[match.group(0)])) if markup else self._replacement
        pieces = _ANSI.split(text)
        pieces[::2] = [self.pattern.sub(replace, _UNSAFE_LAYOUT.sub("", piece)) for piece in pieces[::2]]
        return "".join(pieces)

    def _replacement(self, match: re.Match) -> str:
        return self.rules[match.group(0)]


def shorten_output(output: NotebookNode, shorten: PathShortener) -> None:
    """Rewrite the paths in one output, in place."""
    kind = output.get("output_type")
    if kind == "stream":
        output.text = shorten(output.get("text", ""))
    elif kind == "error":
        output.ename = shorten(output.get("ename", ""))
        output.evalue = shorten(output.get("evalue", ""))
        output.traceback = [shorten(line) for line in output.get("traceback", [])]
    elif kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        for mimetype, value in data.items():
            if mimetype.startswith("text/"):
                markup = mimetype in ("text/html", "text/markdown")
                data[mimetype] = (
                    [shorten(line, markup) for line in value] if isinstance(value, list) else shorten(value, markup)
                )


class ShortenPaths(FeedbackPreprocessor):
    """Replace the grading machine's paths in every code cell's outputs."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        lab = resources.get("nbgrader", {}).get("assignment", "")
        root = CourseDirectory(config=self.config).root or os.getcwd()
        shorten = PathShortener(path_rules(lab, root))
        for cell in nb.cells:
            for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
                shorten_output(output, shorten)
        return nb, resources

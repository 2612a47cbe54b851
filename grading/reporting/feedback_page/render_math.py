"""Render the formulas of markdown cells as MathML, so that they show without MathJax.

nbconvert leaves `$p(x)$` in the page for MathJax, a script fetched from a CDN: offline, or with
scripts forbidden, students read raw TeX. Here each `$...$` (inline) and `$$...$$` (display) of a
markdown cell becomes MathML (by `latex2mathml`), which browsers render natively. The MathML's
text is written as character references, so that the markdown that follows leaves it as it is
(`*`, `_`, `[` or `|` in a formula do not turn into emphasis, links or table cells). Fenced code
blocks and inline code keep their dollars; a formula latex2mathml cannot read stays as written.
A student's written answer (a markdown answer cell) is left alone: the template sanitises its HTML.
"""

from __future__ import annotations

import re
import unicodedata

from latex2mathml.converter import convert
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode

from grading.reporting.feedback_page.base import FeedbackPreprocessor

# Left to right: code (kept), display math, inline math; the math delimiters are nbconvert's own.
PIECES = re.compile(
    r"(?P<fence>^[ \t]{0,3}(?P<mark>`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]{0,3}(?P=mark)[ \t]*$|\Z))"
    r"|(?P<code>(?P<ticks>`+).+?(?P=ticks))"
    r"|(?<!\\)\$\$(?P<display>.+?)(?<!\\)\$\$"
    r"|(?<![$\\])\$(?P<inline>.+?)(?<![$\\])\$",
    re.M | re.S,
)
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")
_ENTITY = re.compile(r"&#?\w+;")
_PLAIN = re.compile(r"[A-Za-z0-9 ]")
# latex2mathml writes some operators as identifiers (\iff, \implies, \lfloor, \langle), which get no spacing.
_SYMBOL_AS_IDENTIFIER = re.compile(r"<mi>&#x([0-9A-Fa-f]+);</mi>")
_ARROWS = ((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2900, 0x297F))


def _as_operator(match: re.Match) -> str:
    """An arrow or a bracket written as <mi> becomes the <mo> it is; other symbols stay."""
    code = int(match.group(1), 16)
    if unicodedata.category(chr(code)) in ("Ps", "Pe"):
        return f'<mo stretchy="false">&#x{code:X};</mo>'
    if any(low <= code <= high for low, high in _ARROWS):
        return f"<mo>&#x{code:X};</mo>"
    return match.group(0)


def _as_references(text: str) -> str:
    """`text` (between tags) with every character but letters, digits and spaces as a character reference."""
    out, position = [], 0
    for entity in _ENTITY.finditer(text):
        out += [_reference(char) for char in text[position : entity.start()]] + [entity.group(0)]
        position = entity.end()
    out += [_reference(char) for char in text[position:]]
    return "".join(out)


def _reference(char: str) -> str:
    return char if _PLAIN.match(char) else f"&#x{ord(char):X};"


def to_mathml(tex: str, display: bool) -> str:
    """MathML of one formula, on one line, ready to sit in markdown."""
    mathml = convert(tex.strip(), display="block" if display else "inline")
    mathml = mathml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "").replace(' display="inline"', "")
    mathml = _SYMBOL_AS_IDENTIFIER.sub(_as_operator, mathml)
    pieces = _TAG_OR_TEXT.split(mathml.replace("\n", " "))
    pieces[::2] = [_as_references(text) for text in pieces[::2]]
    return "".join(pieces)


class RenderMath(FeedbackPreprocessor):
    """Replace the TeX formulas of the release's markdown cells by MathML."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        answer = cell.get("metadata", {}).get("nbgrader", {}).get("solution")
        if cell.cell_type == "markdown" and not answer and "$" in cell.source:
            cell.source = PIECES.sub(self._render, cell.source)
        return cell, resources

    def _render(self, match: re.Match) -> str:
        tex = match.group("display") if match.group("display") is not None else match.group("inline")
        if tex is None or not tex.strip():
            return match.group(0)
        try:
            return to_mathml(tex, display=match.group("display") is not None)
        except Exception as error:  # latex2mathml's errors have no common base; the TeX stays readable
            self.log.warning("Formula left as TeX (%s: %s): %s", type(error).__name__, error, match.group(0)[:80])
            return match.group(0)

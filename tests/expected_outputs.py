"""Reading a lab's executed notebook: what its cells printed, and its expected-output blocks.

A master's markdown cells whose grade id starts with `expected_` show what the code cells above
them print; every number in their verbatim parts must be printed, to the digits it is written with.
"""

from __future__ import annotations

import re
from decimal import Decimal

from nbformat import NotebookNode


def grade_id(cell: NotebookNode) -> str:
    return cell.metadata["nbgrader"]["grade_id"]


def printed_text(cell: NotebookNode) -> str:
    """What a cell shows as text: its stdout and the text/plain of its results and displays."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


# Fenced code blocks (``` or ~~~) and HTML <pre> or <code> elements. The prose and LaTeX around
# them repeat the results in rounded form, so only these verbatim parts are read.
CODE_PART = re.compile(
    r"^ {0,3}(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<fenced>.*?)^ {0,3}(?P=fence)"
    r"|<pre\b[^>]*>(?P<pre>.*?)</pre>"
    r"|<code\b[^>]*>(?P<code>.*?)</code>",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)
# A decimal or scientific number standing on its own: the digits of names like X_part1 or
# version-like runs such as 1.2.3 are not numbers.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")


def code_parts(markdown: str) -> list[str]:
    """The verbatim (code) parts of a markdown cell's source."""
    return [
        next(text for text in match.group("fenced", "pre", "code") if text is not None)
        for match in CODE_PART.finditer(markdown)
    ]


def numbers_in(text: str) -> list[str]:
    """The numbers of `text`, as written."""
    return NUMBER.findall(text)


def same_to_significant_digits(expected: str, printed: str) -> bool:
    """Whether both numbers round to the same value at the significant digits `expected` is written with."""
    digits = len(Decimal(expected).as_tuple().digits)
    spec = f".{digits - 1}e"
    return Decimal(format(Decimal(expected), spec)) == Decimal(format(Decimal(printed), spec))


def unmatched(expected: list[str], printed: list[str]) -> list[str]:
    """The expected numbers that cannot be found, in their order, among the printed ones."""
    missing, position = [], 0
    for number in expected:
        for index in range(position, len(printed)):
            if same_to_significant_digits(number, printed[index]):
                position = index + 1
                break
        else:
            missing.append(number)
    return missing


def expected_blocks(notebook: NotebookNode) -> dict[str, tuple[NotebookNode, list[NotebookNode]]]:
    """Each expected-output block by grade_id, with the code cells since the previous block."""
    blocks, cells_since = {}, []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cells_since.append(cell)
        elif grade_id(cell).startswith("expected_"):
            blocks[grade_id(cell)] = (cell, cells_since)
            cells_since = []
    return blocks

"""Text from a submission made safe to show: on a terminal, in a file, in a page.

Student ids are folder names, notes may quote what intake or nbgrader found in a submission,
and a grade cell's messages quote the student's code: any of it can hold carriage returns,
escape sequences or bidirectional overrides, which on a terminal erase a line, move the cursor,
set the window title or print a line that looks like the grader's ("20/20"). `printable` keeps
the words and drops every such character and whole sequence: it is applied where results are
made and again wherever they are printed, stored or put in a page.
"""

from __future__ import annotations

import re
import unicodedata

# Escape sequences, dropped whole (not just their ESC): CSI (ESC [ or U+009B, parameters and a
# final byte); the string commands OSC, DCS, SOS, PM and APC up to their terminator (BEL or ST)
# or the end of the text; any other ESC with its intermediate and final bytes.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|\Z)"
    r"|\x1b[ -/]*[0-~]?",
    re.S,
)
_SPACES = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029")  # line and field breaks: a space
# Controls, format characters (bidi overrides and isolates, zero-width characters, ...) and
# lone surrogates, which a terminal may act on or an encoder refuse.
_DROPPED = frozenset(("Cc", "Cf", "Cs"))


def _character(char: str) -> str:
    if " " <= char <= "~":
        return char
    if char in _SPACES:
        return " "
    return "" if unicodedata.category(char) in _DROPPED else char


def printable(text: str, limit: int | None = None) -> str:
    """`text` on one line without control or format characters, cut to `limit` characters ("…" ends a cut)."""
    cleaned = "".join(map(_character, _SEQUENCES.sub("", text)))
    if limit is not None and len(cleaned) > limit:
        return cleaned[: max(limit - 1, 0)] + "…"
    return cleaned


def printable_lines(text: str) -> str:
    """`text` with each of its lines made printable, the line breaks kept."""
    return "\n".join(printable(line) for line in text.split("\n"))

"""nbconvert's `clean_html` filter, remembered: each distinct piece of a class's pages is sanitized once.

The page's template passes every code cell's highlighted source and every markdown cell's HTML
through bleach, which costs more than the rest of a page. A lab's cells are mostly the same on
every student's page (the locked text, the given code), so the sanitized HTML of each distinct
piece is kept for the rest of the feedback run. Only pieces of ordinary size are kept: a student's
outsized cell is sanitized every time, and never held in memory.
"""

from __future__ import annotations

import functools

from nbconvert.filters.strings import clean_html as sanitize

REMEMBERED = 512  # distinct pieces kept: a lab's pages have a few hundred
LARGEST_REMEMBERED = 50_000  # characters


@functools.lru_cache(maxsize=REMEMBERED)
def _remembered(element: str) -> str:
    return sanitize(element)


def clean_html(element: str | bytes) -> str:
    """The same as nbconvert's `clean_html(element)`."""
    text = element.decode() if isinstance(element, bytes) else str(element)
    return _remembered(text) if len(text) <= LARGEST_REMEMBERED else sanitize(text)

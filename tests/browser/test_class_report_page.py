"""The class report's similar-answers view in Chromium: it fits the page."""

from __future__ import annotations

import numpy as np
import pytest

from grading.reporting.class_report import STYLE, SimilarPair, similarity_section

LONG_LINE = "    return np.sum((X - mu) ** 2, axis=0) / X.shape[0]  # " + "a long comment that goes on " * 12


@pytest.mark.browser
def test_a_pair_with_long_lines_fits_a_narrow_page(chromium):
    code = "import numpy as np\n\ndef estimate_gaussian(X):\n    mu = X.mean(axis=0)\n" + LONG_LINE + "\n"
    spans = np.array([[0], [len(code)]])
    pair = SimilarPair("ada", "alan", (1.0, 1.0), (code, code), (spans, spans))
    page = chromium.new_page(viewport={"width": 1100, "height": 800})
    try:
        page.set_content(
            f"<html><head><style>{STYLE}</style></head><body>{similarity_section([pair], 0)}</body></html>"
        )
        page.locator("details summary").first.click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1100
        assert page.locator("details pre").first.evaluate("pre => pre.getBoundingClientRect().right") <= 1100
    finally:
        page.close()

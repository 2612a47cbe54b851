"""Make the feedback page's figures lighter: each PNG re-encoded with a palette of 256 colours.

matplotlib's figures are flat colours and anti-aliased lines: as 8-bit palette PNGs they look
the same and weigh about a third as much, which keeps a page of many figures small. The figures
come from the student's run, so only a well-formed PNG of reasonable size is re-encoded (its
header is read before its pixels); anything else is kept as it was, and so is a figure that
would not get smaller.

A class's pages share most figures (every student's run draws the same data), so each distinct
figure is re-encoded once per feedback run: the result depends on the figure's bytes alone.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode

from grading.reporting.feedback_page.base import FeedbackPreprocessor

MAX_PIXELS = 4_000_000  # a figure of a lab is well under a million
REMEMBERED = 32  # distinct figures kept re-encoded: a lab's pages share about ten


@functools.lru_cache(maxsize=REMEMBERED)
def lighter_png(data: str) -> str:
    """The base64 PNG `data` re-encoded with a 256-colour palette, or `data` if that does not help."""
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(data, validate=False)
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as image:
            if image.width * image.height > MAX_PIXELS:
                return data
            image = image.convert("RGBA")
            flat = Image.new("RGBA", image.size, "white")
            flat.alpha_composite(image)
            palette = flat.convert("RGB").quantize(
                colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
        out = io.BytesIO()
        palette.save(out, format="PNG", optimize=True)
    except (OSError, ValueError, binascii.Error, UnidentifiedImageError, Image.DecompressionBombError):
        return data
    lighter = base64.b64encode(out.getvalue()).decode("ascii")
    return lighter if len(lighter) < len(data) else data


class CompressFigures(FeedbackPreprocessor):
    """Re-encode the PNG figures of every output with a palette (see the module's docstring)."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if isinstance(data.get("image/png"), str):
                data["image/png"] = lighter_png(data["image/png"])
        return cell, resources

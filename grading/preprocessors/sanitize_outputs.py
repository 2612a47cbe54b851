"""Strip active content from the outputs kept of a submission's run.

HTML and Markdown outputs pass through bleach (nbconvert's `SanitizeHTML`): scripts, iframes,
event handlers and other active markup are escaped, so that neither the feedback page nor
formgrader, which shows the graded notebook in the instructor's browser, runs a student's
JavaScript. Other output types the sandbox's protocol does not keep at all. Markdown cells
are the release's own (see `RestoreReleasedCells`) and stay as they are, formulas included.
"""

from __future__ import annotations

from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import Bool


class SanitizeOutputs(SanitizeHTML):
    """nbconvert's SanitizeHTML, applied to code cells' outputs only."""

    enabled = Bool(True, help="Whether to sanitise outputs (nbconvert's preprocessors are off by default).").tag(
        config=True
    )

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            cell.outputs = self.sanitize_code_outputs(cell.outputs)
        return cell, resources

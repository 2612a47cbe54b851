"""The feedback page a student reads: nbgrader's `generate_feedback`, with the kit's preprocessors and template.

`nbgrader_config.py` puts these preprocessors after nbgrader's `GetGrades` and points the HTML
exporter at `TEMPLATES`, whose `feedback` template replaces nbgrader's (same name: nbgrader's API
forces the template name `feedback`):

- HideHiddenTests: drop the hidden-test region of each grade cell (the grader's code stays its own).
- ShortenPaths: replace the grading machine's paths in outputs (the Python environment, the
  sandbox's folders, the course root) with short names a student can read.
- NameExercises: name each graded cell after its first line ("Exercise 1: estimate_gaussian").
- RenderMath: turn the `$...$` and `$$...$$` of markdown cells into MathML, which browsers
  render without a script or a network.
- CompressFigures: re-encode the PNG figures with a 256-colour palette (a third of the weight).
- ShowLateness: the due date, the hand-in time, how late it was and the course's late policy.
- ShowAttempts: where labs are graded on submission, which attempt this was, how many are left
  and which one counts.

The template keeps nbgrader's score summary and cells, with a compact stylesheet of its own, no
script and a Content-Security-Policy that forbids scripts.
"""

from pathlib import Path

import nbgrader

from grading.reporting.feedback_page.compress_figures import CompressFigures
from grading.reporting.feedback_page.hide_hidden_tests import HideHiddenTests
from grading.reporting.feedback_page.name_exercises import NameExercises
from grading.reporting.feedback_page.render_math import RenderMath
from grading.reporting.feedback_page.shorten_paths import ShortenPaths
from grading.reporting.feedback_page.show_attempts import ShowAttempts
from grading.reporting.feedback_page.show_lateness import ShowLateness

TEMPLATES = Path(__file__).resolve().parent / "templates"
# nbgrader's own templates: formgrader's `formgrade` must still be found when the course's
# configuration sets `HTMLExporter.extra_template_basedirs` (formgrader reads it too).
NBGRADER_TEMPLATES = Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"
# The kit's folder first: its `feedback` template is found before nbgrader's.
TEMPLATE_DIRS = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]

__all__ = [
    "TEMPLATES",
    "TEMPLATE_DIRS",
    "CompressFigures",
    "HideHiddenTests",
    "NameExercises",
    "RenderMath",
    "ShortenPaths",
    "ShowAttempts",
    "ShowLateness",
]

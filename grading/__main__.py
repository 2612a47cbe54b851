"""`python -m grading`: the kit's command line (`grading.cli`)."""

import sys

# jsonschema, which nbformat imports, checks IRI formats with rfc3987_syntax where that is
# installed (JupyterLab's event schemas pull it in), and builds its grammar on import: about
# 1.7 s of every command's CPU. No schema the grader validates has an IRI, so it is left out.
sys.modules.setdefault("rfc3987_syntax", None)

from grading.cli import main  # noqa: E402

raise SystemExit(main())

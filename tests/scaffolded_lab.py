"""A scaffolded lab taken through a course's whole path, in a copy of the kit.

Run as `python tests/scaffolded_lab.py LAB RESULTS.json` in a copy of the kit's checkout with
that copy first on PYTHONPATH (its `grading` package holds the lab's hidden tests): runs the
lab's master in a Jupyter kernel, releases the lab, grades its sample class (the corpus, the
unmodified release, a broken file) and writes the feedback, as `make release` and `make demo`
would. Writes what came of it to RESULTS.json: the executed master's path and each student's
result beside the failures the corpus expects of them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grading.classwork.autograde_class import autograde_class
from grading.cli import feedback, release
from grading.course import Course
from grading.sample_class import write_sample_class


def main(lab: str, results_file: Path) -> None:
    course = Course()
    master = course.solutions / lab / f"{lab}.ipynb"
    executed = nbformat.read(master, as_version=4)
    NotebookClient(
        executed, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(master.parent)}}
    ).execute()
    executed_path = results_file.with_suffix(".ipynb")
    nbformat.write(executed, executed_path)
    release(course, [lab])
    expected = write_sample_class(course, lab)
    results = autograde_class(course, lab, workers=1, progress=lambda line: print(line, file=sys.stderr))
    feedback(course, lab)
    students = {
        result.student: {
            "score": result.score,
            "max_score": result.max_score,
            "failed": sorted(result.failed),
            "expected_fails": sorted(expected[result.student]),
            "notes": [note.text for note in result.notes],
            "feedback": (course.feedback / result.student / lab / f"{lab}.html").is_file(),
        }
        for result in results
    }
    results_file.write_text(
        json.dumps({"course": str(course.root), "master": str(executed_path), "students": students})
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))

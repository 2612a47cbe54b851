"""`python -m grading new-lab NAME`: a new lab that releases and grades from its first minute.

The scaffold is a small complete lab with one graded function (`standardize`), each part written
where the course keeps that part of every lab:

- `solutions/NAME/NAME.ipynb`: the master (theory, the answer cell with its solution, a check
  cell, a grade cell whose hidden part calls the hidden tests), with `utils.py`,
  `public_tests.py` and `selfcheck.py` linked in from `utils/`, `public_tests/`;
- `utils/NAME.py` (data and helpers) and `public_tests/NAME.py` (the self-checks);
- `grading/verdicts/hidden_tests/NAME.py`: the hidden cases, the reference, the comparison;
- `grading/corpus/NAME/`: right answers and typical mistakes, the lab's first sample class.

The lab's author then replaces the example, part by part (the README's "Adding a lab"). The
hidden tests are part of the kit's `grading` package, so the command works on the kit's own
course (the checkout), and refuses a name any of these parts already uses: nothing is overwritten.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import grading.verdicts.hidden_tests
from grading.course import KIT_ROOT, Course
from grading.errors import CommandError
from grading.sample_class import CORPUS

TEMPLATE = Path(__file__).parent / "template"
HIDDEN_TESTS = Path(grading.verdicts.hidden_tests.__file__).parent
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def new_lab(course: Course, lab: str, title: str | None = None) -> list[Path]:
    """Write the scaffold of `lab` into `course` (the kit's checkout); the files written."""
    title = title or lab.replace("_", " ").capitalize()
    parts = lab_parts(course, lab)
    check_new(course, lab, parts)
    fill = {"LAB_NAME": lab, "LAB_TITLE": title}
    for template, target in (
        ("utils.py", parts["utils"]),
        ("public_tests.py", parts["public_tests"]),
        ("hidden_tests.py", parts["hidden_tests"]),
    ):
        _write(target, _filled((TEMPLATE / template).read_text(), fill))
    parts["corpus"].mkdir(parents=True)
    for entry in sorted((TEMPLATE / "corpus").glob("*.py")):
        shutil.copyfile(entry, parts["corpus"] / entry.name)
    master = parts["master"]
    master.parent.mkdir(parents=True)
    nbformat.write(master_notebook(lab, title), master)
    for name, source in (("utils.py", parts["utils"]), ("public_tests.py", parts["public_tests"])):
        (master.parent / name).symlink_to(Path("..", "..", source.relative_to(course.root)))
    (master.parent / "selfcheck.py").symlink_to(Path("..", "..", "public_tests", "selfcheck.py"))
    return [master, parts["utils"], parts["public_tests"], parts["hidden_tests"], parts["corpus"]]


def lab_parts(course: Course, lab: str) -> dict[str, Path]:
    """Where each part of `lab` lives in `course` (the kit's own: its hidden tests and corpus are
    where the grader and the sample class look for them)."""
    return {
        "master": course.solutions / lab / f"{lab}.ipynb",
        "utils": course.root / "utils" / f"{lab}.py",
        "public_tests": course.root / "public_tests" / f"{lab}.py",
        "hidden_tests": HIDDEN_TESTS / f"{lab}.py",
        "corpus": CORPUS / lab,
    }


def check_new(course: Course, lab: str, parts: dict[str, Path]) -> None:
    """A one-line error unless `lab` is a new lab's name that the kit's course can take."""
    if not _NAME.fullmatch(lab) or lab in ("utils", "public_tests", "selfcheck"):
        raise CommandError(
            f"{lab!r} cannot name a lab: use lower-case letters, digits and underscores, starting with a"
            " letter (it names a folder, a notebook and a Python module), e.g. clustering_lab"
        )
    if course.root.resolve() != KIT_ROOT.resolve():
        raise CommandError(
            f"new-lab writes the lab's hidden tests into the kit's grading package, so it works on the kit's"
            f" own course: run it in {KIT_ROOT} (not {course.root})"
        )
    taken = [path.relative_to(course.root) for path in parts.values() if path.exists() or path.is_symlink()]
    if (course.solutions / lab).exists():
        taken.insert(0, (course.solutions / lab).relative_to(course.root))
    if taken:
        raise CommandError(f"the lab {lab} exists already ({', '.join(map(str, taken))}): pick another name")


def _filled(text: str, fill: dict[str, str]) -> str:
    for placeholder, value in fill.items():
        text = text.replace(placeholder, value)
    return text


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _cell(kind: str, grade_id: str, source: str, *, answer: bool = False, points: int = 0):
    """One cell of the master with nbgrader's metadata: read-only unless it is an answer cell."""
    cell = (new_markdown_cell if kind == "markdown" else new_code_cell)(source)
    cell.id = grade_id.replace("_", "-")
    cell.metadata["nbgrader"] = {
        "grade": bool(points),
        "grade_id": grade_id,
        "locked": not answer,
        "schema_version": 3,
        "solution": answer,
        "task": False,
        **({"points": points} if points else {}),
    }
    return cell


def master_notebook(lab: str, title: str) -> nbformat.NotebookNode:
    """The scaffold's master: the example exercise in the shape of the kit's labs."""
    notebook = new_notebook(
        cells=[
            _cell(
                "markdown",
                "intro",
                f"# {title}\n\nWhat the lab is about, and what the student will have built by its end."
                " Replace this text with the lab's theory.\n\n"
                "**Instructions:** write your code only between the lines the answer cells mark; do not"
                " add or remove cells. Run each exercise's test cell to check your answer.",
            ),
            _cell("markdown", "packages_title", "## 1 - Packages and data"),
            _cell(
                "code",
                "imports",
                "import numpy as np\nfrom utils import load_data\nfrom public_tests import standardize_test",
            ),
            _cell("code", "load_data", 'X = load_data()\nprint("The shape of X is:", X.shape)'),
            _cell("markdown", "expected_load_data", "**Expected output**\n```\nThe shape of X is: (200, 3)\n```"),
            _cell(
                "markdown",
                "exercise_1",
                "## 2 - Exercise 1: standardize the features\n\n"
                "Features on very different scales are put on one scale by subtracting each column's mean"
                " $\\mu_j$ and dividing by its standard deviation $\\sigma_j$:\n\n"
                "$$z^{(i)}_j = \\frac{x^{(i)}_j - \\mu_j}{\\sigma_j}, \\qquad"
                " \\sigma_j^2 = \\frac{1}{m} \\sum_{i=1}^{m} \\left(x^{(i)}_j - \\mu_j\\right)^2$$\n\n"
                "Complete `standardize(X)`: it returns an array of the shape of `X`.",
            ),
            _cell(
                "code",
                "standardize",
                "# GRADED FUNCTION: standardize\nimport numpy as np\n\n"
                'def standardize(X):\n    """\n    Each column of X less its mean, divided by its'
                " standard deviation\n    (the population's: divided by m).\n\n    Args:\n"
                "        X (ndarray): (m, n) data matrix\n\n    Returns:\n"
                '        Z (ndarray): (m, n) standardized matrix\n    """\n'
                "    ### BEGIN SOLUTION\n    return (X - X.mean(axis=0)) / X.std(axis=0)\n    ### END SOLUTION",
                answer=True,
            ),
            _cell(
                "code",
                "check_standardize",
                'Z = standardize(X)\nprint("First row of Z:", Z[0])\nprint("Standard deviations of Z:", Z.std(axis=0))',
            ),
            _cell(
                "markdown",
                "expected_standardize",
                "**Expected output**\n```\nFirst row of Z: [1.02621852 1.41349321 1.40297734]\n"
                "Standard deviations of Z: [1. 1. 1.]\n```",
            ),
            _cell(
                "code",
                "test_standardize",
                "# Tests for Exercise 1 (10 points): run this cell to check your standardize.\n"
                "standardize_test(standardize)\n"
                "### BEGIN HIDDEN TESTS\n"
                f"from grading.verdicts.hidden_tests.{lab} import check_standardize\n"
                "check_standardize(standardize)\n"
                "### END HIDDEN TESTS",
                points=10,
            ),
        ],
        metadata={
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    return notebook

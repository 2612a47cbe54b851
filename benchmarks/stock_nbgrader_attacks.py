"""Which of the kit's named attacks stock nbgrader falls to, beside the kit (prints a table).

The attack class of the test suite (`tests/attacks.py`: honest students before and after every
attacker) is graded twice: by stock nbgrader (its default autograde pipeline, a stock
configuration, kernels run as the grader's user) and by the kit. Stock nbgrader lets the
attacks do what they try, so its run happens inside a disposable outer bubblewrap sandbox:
the grader's user still, with the network shared (an attack reaching the loopback server
counts), but its own PID namespace and copies of the kit, the Python environment and the home
folder mounted where the originals are. Nothing of this machine is changed.

Usage: python benchmarks/stock_nbgrader_attacks.py [--keep]   (about 10 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

KIT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(KIT), str(KIT / "tests")]

from attacks import ATTACKS, HONEST, LAB, honest_submission, write_attack  # noqa: E402
from exploits import EX1, EX2  # noqa: E402
from stock_config import stock_config  # noqa: E402  (beside this file)

from grading.classwork.autograde_class import autograde_class  # noqa: E402
from grading.cli import copy_course, export, feedback, release  # noqa: E402
from grading.course import Course  # noqa: E402
from grading.sample_class import released_notebook  # noqa: E402

POINTS = {EX1: 10, EX2: 10}
STOCK_EXIT_CODES: dict[str, int] = {}
CHANGED_BY_STOCK: list[
    str
] = []  # files of the (copied) kit, environment and home the stock run changed  # nbgrader autograde's exit code per student, in the stock run
CANARY = "canary-" + hashlib.sha256(b"grader secret").hexdigest()[:12]
STOCK_CONFIG = stock_config("c.Execute.timeout = 10")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_class(course: Course) -> None:
    """The honest students and every attack, written into `course` as submissions."""
    notebook = released_notebook(course, LAB)
    for student in HONEST:
        path = course.submission(LAB, student)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nbformat.writes(honest_submission(notebook)))
    for student, attack in ATTACKS.items():
        write_attack(course, LAB, student, attack, notebook)


def deserved(student: str) -> float:
    lost = ATTACKS[student].fails if student in ATTACKS else frozenset()
    return sum(POINTS.values()) - sum(POINTS[grade] for grade in lost)


def secrets_in(page: str) -> list[str]:
    """Secrets of the grader that a student's own feedback page must never hold."""
    hidden = (KIT / "grading" / "verdicts" / "hidden_tests" / f"{LAB}.py").read_text()
    markers = {
        "hidden tests": "def reference_select_threshold",
        "hidden-test text": hidden.splitlines()[2][:50],
        "a classmate's id": HONEST[0],
        "the grader's environment": CANARY,
        "the gradebook": "CREATE TABLE",
        "system passwords": "root:x:0:0",
    }
    return [name for name, marker in markers.items() if marker and marker in page]


def snapshot(folders: list[Path]) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under `folders`."""
    found = {}
    for folder in folders:
        for current, _, files in os.walk(folder):
            for name in files:
                path = os.path.join(current, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                found[path] = (info.st_size, info.st_mtime_ns)
    return found


def stock_run(scratch: Path) -> tuple[Course, dict[str, float], float]:
    """Grade the class with stock nbgrader inside a disposable outer sandbox; scores, exit code, seconds."""
    course = copy_course(Course(), scratch / "stock" / "course")
    (course.root / "nbgrader_config.py").write_text(STOCK_CONFIG)
    (course.root / "records").mkdir()
    env_path = f"{KIT / '.venv' / 'bin'}:/usr/bin:/bin"
    subprocess.run(
        ["nbgrader", "generate_assignment", LAB, "--force"],
        cwd=course.root,
        check=True,
        capture_output=True,
        env={"PATH": env_path, "HOME": os.environ.get("HOME", "/root")},
    )
    build_class(course)
    copies = {KIT: scratch / "kit", Path(sys.base_prefix).resolve(): scratch / "python", Path.home(): scratch / "home"}
    log("stock: copying the kit, the environment and a fresh home (disposable)")
    shutil.copytree(KIT, copies[KIT], symlinks=True, ignore=shutil.ignore_patterns("build", "submitted", "autograded"))
    shutil.copytree(Path(sys.base_prefix).resolve(), copies[Path(sys.base_prefix).resolve()], symlinks=True)
    copies[Path.home()].mkdir()
    binds = ["--bind", str(copies[Path.home()]), str(Path.home())]
    for original in (KIT, Path(sys.base_prefix).resolve()):
        if original.is_relative_to(Path.home()):
            (copies[Path.home()] / original.relative_to(Path.home())).mkdir(parents=True, exist_ok=True)
        binds += ["--bind", str(copies[original]), str(original)]
    outer = [
        "bwrap",
        "--unshare-pid",
        "--unshare-ipc",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--bind",
        str(scratch),
        str(scratch),
        *binds,
        "--chdir",
        str(course.root),
        "--setenv",
        "PATH",
        f"{KIT / '.venv' / 'bin'}:/usr/bin:/bin",
        "--setenv",
        "GRADER_TOKEN",
        CANARY,
        "--",
    ]
    watched = [scratch / "kit", scratch / "python", scratch / "home"]
    before = snapshot(watched)
    started = time.monotonic()
    codes: dict[str, int] = {}
    # One nbgrader command per student, in nbgrader's order, each in its own outer sandbox: an
    # attack that kills the grader ends only its own command, and its exit code says so.
    for student in sorted([*HONEST, *ATTACKS]):
        log(f"stock: nbgrader autograde {LAB} --student {student}")
        try:
            done = subprocess.run(
                outer + ["nbgrader", "autograde", LAB, "--student", student, "--force"],
                capture_output=True,
                timeout=600,
            )
            codes[student] = done.returncode
        except subprocess.TimeoutExpired:
            codes[student] = -1
    subprocess.run(
        outer + ["bash", "-c", f"nbgrader generate_feedback {LAB} --force; nbgrader export --to grades.csv"],
        capture_output=True,
        timeout=1800,
    )
    seconds = time.monotonic() - started
    scores: dict[str, float] = {}
    if (course.root / "grades.csv").is_file():
        with open(course.root / "grades.csv", newline="") as handle:
            scores = {row["student_id"]: float(row["score"] or 0) for row in csv.DictReader(handle)}
    graded = {folder.name for folder in course.autograded.iterdir()} if course.autograded.is_dir() else set()
    scores = {student: score for student, score in scores.items() if student in graded}
    STOCK_EXIT_CODES.update(codes)
    after = snapshot(watched)
    changed = sorted(
        path
        for path in before.keys() | after.keys()
        if before.get(path) != after.get(path) and "__pycache__" not in path
    )
    log(f"stock: {len(changed)} files of the grader's kit, environment or home changed")
    CHANGED_BY_STOCK[:] = [str(Path(path).relative_to(scratch)) for path in changed]
    return course, scores, seconds


def kit_run(scratch: Path) -> tuple[Course, dict[str, float], float]:
    """Grade the same class with the kit (sandboxed); scores and seconds."""
    course = copy_course(Course(), scratch / "kit-run" / "course")
    release(course, [LAB])
    build_class(course)
    log("kit: autograde, feedback, export")
    os.environ["GRADER_TOKEN"] = CANARY
    started = time.monotonic()
    results = autograde_class(
        course, LAB, progress=lambda line: None, **{"ExecuteInSandbox.timeout": 10, "VerifyAnswers.timeout": 15}
    )
    feedback(course, LAB)
    export(course)
    return course, {r.student: r.score for r in results}, time.monotonic() - started


def verdict(course: Course, scores: dict[str, float], student: str, exit_code: int = 0) -> str:
    """What one attack achieved in one run: its effects, in a few words."""
    found = ["killed the grader's command"] if exit_code < 0 or exit_code >= 128 else []
    if student not in scores:
        return ", ".join(found + ["no grade recorded"])
    if scores[student] > deserved(student):
        found.append(f"+{scores[student] - deserved(student):g} points")
    page = course.feedback / student / LAB / f"{LAB}.html"
    if page.is_file():
        found += [f"leaked {name}" for name in secrets_in(page.read_text(errors="replace"))]
    return ", ".join(found) or "defended"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stock-attacks-"))
    try:
        stock_course, stock, stock_seconds = stock_run(scratch)
        kit_course, kit, kit_seconds = kit_run(scratch)
        honest_stock = {s: stock.get(s) for s in HONEST}
        print(f"Attacks on stock nbgrader and on the kit ({len(ATTACKS)} attacks, {os.cpu_count()} cores)")
        print(
            f"stock nbgrader: {len(stock)} of {len(ATTACKS) + 2} students graded, honest students"
            f" {honest_stock}, {stock_seconds:.0f} s"
        )
        print(
            f"the kit: {len(kit)} of {len(ATTACKS) + 2} students graded, honest students"
            f" { {s: kit.get(s) for s in HONEST} }, {kit_seconds:.0f} s"
        )
        shown = ", ".join(CHANGED_BY_STOCK[:8]) + (" ..." if len(CHANGED_BY_STOCK) > 8 else "")
        print(
            f"stock nbgrader: {len(CHANGED_BY_STOCK)} files of the grader's kit, Python environment or home"
            f" changed by the class{': ' + shown if shown else ''}"
        )
        width = max(len(name) for name in ATTACKS)
        print(f"{'attack':{width}}  {'family':14}  {'stock nbgrader':40}  the kit")
        fallen = 0
        for student, attack in ATTACKS.items():
            on_stock = verdict(stock_course, stock, student, STOCK_EXIT_CODES.get(student, 0))
            on_kit = verdict(kit_course, kit, student)
            fallen += on_stock != "defended"
            print(f"{student:{width}}  {attack.family:14}  {on_stock[:40]:40}  {on_kit}")
        print(
            f"stock nbgrader fell to {fallen} of {len(ATTACKS)} in this table (scores and own feedback only;"
            " class-wide effects are in the lines above)"
        )
    finally:
        if args.keep:
            log(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

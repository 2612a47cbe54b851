"""`python -m grading ...`: the instructor's commands around nbgrader, for every lab.

Each command takes only its own arguments and options (`python -m grading COMMAND --help`); every
one takes --course DIR (default: the current folder if it is a course, else the kit's root), and
the two that run submitted code, autograde and demo, say where and how it runs (--workers,
--scheduler, --timeout, ...). Errors are one line after "grading: " (exit status 1; 2 for a
misused command line).

Every command but demo, cluster-certs and formgrader stops if the grader's files (the kit's code, the
configuration, masters, releases, hidden tests, the Python environment) change while it runs, and
says which changed since the last command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

# nbgrader, nbformat and matplotlib take seconds to import: the commands import what grades and
# reports (autograde_class, class_report, report, sample_class) when they run, so that --help and
# a mistyped command answer at once.
from grading import integrity
from grading.course import KIT_ROOT, Course
from grading.errors import CommandError, GradingError
from grading.execution.cluster_security import dask_commands, default_folder, make_certificates
from grading.text import printable_lines

DEMO_ROOT = KIT_ROOT / "build" / "demo"


def known_lab(course: Course, lab: str) -> str:
    """`lab` if the course has it; otherwise a one-line error listing the labs it has."""
    if lab not in course.labs():
        raise CommandError(f"no lab '{lab}' in {course.solutions}: choose one of {', '.join(course.labs())}")
    return lab


def release(course: Course, labs: list[str]) -> None:
    """Rebuild each lab's release from its master (nbgrader generate_assignment). Each is built in a
    scratch folder beside the course's and swapped in only when complete: a failed build leaves
    the release as it was (nbgrader alone removes a release it failed to rebuild)."""
    labs = [known_lab(course, lab) for lab in labs] or course.labs()
    for lab in labs:
        print(f"release: {lab} -> {course.releases / lab}", flush=True)
        with tempfile.TemporaryDirectory(prefix=".release-", dir=course.root) as scratch:
            api = course.nbgrader_api(**{"CourseDirectory.release_directory": scratch})
            outcome = api.generate_assignment(lab, force=True, create=True)
            if not outcome["success"]:
                raise CommandError(
                    f"nbgrader generate_assignment {lab} failed; {course.releases / lab} is unchanged:\n"
                    f"{outcome.get('log', '')}"
                )
            _swap_in(Path(scratch) / lab, course.releases / lab)


def _swap_in(built: Path, release: Path) -> None:
    """Put the folder `built` at `release`, the old release removed only once the new one is in place."""
    release.parent.mkdir(parents=True, exist_ok=True)
    old = built.parent / f"{release.name}.old"
    if release.exists():
        release.rename(old)
    try:
        built.rename(release)
    except OSError:
        if old.exists():
            old.rename(release)
        raise


def feedback(course: Course, lab: str) -> None:
    # One page per student and nothing else: nbgrader would copy every other file of the graded
    # folder (the lab's data and helpers) into each student's feedback folder. Opening the API
    # gives one line of error when the gradebook cannot be opened.
    api = course.nbgrader_api(**{"CourseDirectory.ignore": ["*"]})
    if not any(course.autograded.glob(f"*/{lab}/{lab}.ipynb")):
        raise CommandError(f"no autograded submissions of {lab}: run 'python -m grading autograde {lab}' first")
    outcome = api.generate_feedback(lab)
    if not outcome["success"]:
        raise CommandError(f"nbgrader generate_feedback {lab} failed:\n{outcome.get('log', '')}")
    print(f"feedback: {lab} -> {course.feedback}/<student>/{lab}/{lab}.html", flush=True)


def export(course: Course, platform: str | None = None) -> None:
    api = course.nbgrader_api(register_students=False)  # one line of error when the gradebook cannot be opened
    if platform is not None:
        from grading.reporting.platform_export import write_platform_export

        destination = course.grades_csv.with_name(f"grades-{platform}.csv")
        write_platform_export(api.coursedir.db_url, api.coursedir.course_id, platform, destination)
        print(f"export: {destination} (import it in {platform.capitalize()}: README, Grades on a learning platform)")
        return
    nbgrader = Path(sys.executable).parent / "nbgrader"
    done = subprocess.run(
        [str(nbgrader), "export", f"--to={course.grades_csv}"], cwd=course.root, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise CommandError(f"nbgrader export failed:\n{done.stderr.strip()}")
    print(f"export: {course.grades_csv}", flush=True)


def formgrader(course: Course, options: list[str]) -> NoReturn:
    """JupyterLab in the course's root, where nbgrader's formgrader finds the gradebook. As root (the
    kit grades as root on a server), with --allow-root, which `jupyter lab` alone refuses to start
    without. JupyterLab's own settings apply (JUPYTER_PORT, JUPYTER_TOKEN, ~/.jupyter) and
    `options` are passed on. This process becomes JupyterLab: Ctrl-C, or a supervisor's SIGTERM,
    reaches JupyterLab itself, and nothing keeps running once it stops."""
    command = [sys.executable, "-m", "jupyterlab", *options]
    if os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")
    (course.records / "exchange").mkdir(parents=True, exist_ok=True)  # formgrader looks for one
    print(
        f"formgrader: JupyterLab in {course.root}{' (as root)' if os.geteuid() == 0 else ''}: open the address it"
        " prints and choose Nbgrader > Formgrader; Ctrl-C stops it",
        flush=True,
    )
    sys.stderr.flush()
    os.chdir(course.root)
    os.execv(sys.executable, command)


def copy_course(source: Course, destination: Path) -> Course:
    """A fresh course at `destination` with the masters, releases and configuration of `source`, and
    its lab cache (which names the master that filled it: a changed master fills it again)."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    shutil.copy(source.root / "nbgrader_config.py", destination)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", ".autoencoder_cache")
    for folder in ("solutions", "assignments"):
        shutil.copytree(source.root / folder, destination / folder, symlinks=False, ignore=ignore)
    if source.cache.is_dir():
        shutil.copytree(source.cache, Course(destination).cache, symlinks=False)
    return Course(destination)


def demo(settings: dict[str, object]) -> None:
    from grading.classwork.autograde_class import autograde_class
    from grading.reporting.report import format_table
    from grading.sample_class import write_sample_class

    started = time.monotonic()
    course = copy_course(Course(), DEMO_ROOT)
    print(f"demo: scratch course in {course.root}", flush=True)
    release(course, [])
    tables = []
    for lab in course.labs():
        students = write_sample_class(course, lab)
        print(f"demo: {lab}: sample class of {len(students)} submissions; autograding", flush=True)
        results = autograde_class(course, lab, **settings)
        feedback(course, lab)
        tables.append(format_table(lab, results))
    export(course)
    print("\n" + "\n\n".join(tables))
    print(
        f"\ndemo: done in {time.monotonic() - started:.0f} s; grades in {course.grades_csv},"
        f" feedback in {course.feedback}"
    )


def serve(course: Course, labs: list[str], settings: dict[str, object]) -> None:
    """Grade on submission until stopped (Ctrl-C, or the hub's SIGTERM)."""
    import logging
    import signal

    from grading.hub.server import serve_in_background
    from grading.hub.service import GradingService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("traitlets").setLevel(logging.WARNING)  # nbgrader's own lines, once per student
    service = GradingService(course, labs, **settings)
    for stop in (signal.SIGTERM, signal.SIGINT):  # the hub stops a service with either (SIGINT first)
        signal.signal(stop, lambda *_: service.stopping.set())
    page = serve_in_background(service)
    print(
        f"serve: grading {', '.join(labs)} as handed in to {service.exchange / 'inbound'}"
        + ("; the live page at the hub's /services/grading/" if page else "")
        + "; Ctrl-C stops",
        flush=True,
    )
    service.run()
    print("serve: stopped", flush=True)


def cluster_certs(course: Course, folder: Path | None, force: bool) -> None:
    where = (folder or default_folder(course)).resolve()
    make_certificates(where, force)
    print(
        f"cluster-certs: a new certificate authority for the course and its cluster's certificates in {where}"
        " (the authority's key is not kept)",
        flush=True,
    )
    print(dask_commands(where, named=folder is not None), flush=True)


def scaffold(course: Course, lab: str, title: str | None) -> None:
    from grading.new_lab import new_lab

    for path in new_lab(course, lab, title):
        print(f"new-lab: {path.relative_to(course.root)}", flush=True)
    print(
        f"new-lab: {lab} releases and grades as it is (one example exercise); make it the lab you want"
        f" as the README's 'Adding a lab' says, then: make release && make demo",
        flush=True,
    )


def _settings(args: argparse.Namespace, course: Course) -> dict[str, object]:
    """What the command-line options set for this run: where the code runs, and nbgrader settings."""
    settings: dict[str, object] = {
        "workers": args.workers,
        "scheduler": args.scheduler,
        "certificates": args.dir or default_folder(course),
        "insecure_cluster": args.insecure_cluster,
    }
    if args.timeout:
        settings["ExecuteInSandbox.timeout"] = int(args.timeout)
    if args.unsafe_no_sandbox:
        settings["Sandbox.unsafe_no_sandbox"] = True
    return settings


def default_course() -> Path:
    """The folder the command is typed in when it is a course (nbgrader's commands work there too), else the kit's."""
    here = Path.cwd()
    return here if (here / "nbgrader_config.py").is_file() else KIT_ROOT


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--workers takes a number of workers (1 or more), not {text!r}")
    return int(text)


def _run_options() -> argparse.ArgumentParser:
    """Where and how submitted code runs: the options of autograde and demo."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--timeout", type=float, help="seconds a cell may run before it is interrupted")
    options.add_argument("--workers", type=_workers, help="local workers running submitted code (default: every core)")
    options.add_argument(
        "--scheduler",
        help="address of the course's Dask scheduler (tls://HOST:PORT) to run"
        " submitted code on, reached with the certificates of cluster-certs",
    )
    options.add_argument("--dir", type=Path, help="the cluster's certificates (default: records/cluster of the course)")
    options.add_argument(
        "--insecure-cluster",
        action="store_true",
        help="allow a --scheduler without TLS: anyone who reaches it can run code on its workers and"
        " change grades (recorded in the report and the notes; only to try on one machine)",
    )
    options.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run submitted code without a sandbox (recorded in the report and the feedback)",
    )
    return options


# name: (what it does, whether it runs submitted code (and so takes the run options))
COMMANDS = {
    "release": ("build the student releases from the masters (every lab, or those named)", False),
    "autograde": ("autograde a class (or the students named), each student isolated, and write the lab's report", True),
    "feedback": ("write each student's feedback page", False),
    "export": ("write records/grades.csv, or the grades as Canvas or Moodle imports them", False),
    "report": ("print the class table of the last autograde and write its HTML page", False),
    "cluster-certs": ("make the certificates of the course's Dask cluster and print how to start it", False),
    "formgrader": (
        "start JupyterLab in the course for nbgrader's formgrader; JupyterLab's own options go after"
        " --, e.g. -- --no-browser --port=8890",
        False,
    ),
    "demo": ("grade a sample class of every lab in a scratch course (build/demo)", True),
    "serve": (
        "grade each lab handed in through nbgrader's exchange as it comes in, and return its feedback"
        " (the course's hub starts it: make hub)",
        True,
    ),
    "hub": ("start the course's JupyterHub on this machine, with its grading service (make hub; as root)", False),
    "explain": (
        "say what a student's last grade was made from and whether its verdicts reproduce, replaying them",
        False,
    ),
    "mutants": (
        "judge the lab's hidden tests by the mistakes they let through: every small change of the"
        " master's graded functions, graded on the cases of 20 students",
        False,
    ),
    "new-lab": (
        "scaffold a new lab that releases and grades as it is: a master, its helpers and self-checks,"
        " its hidden tests and a starting corpus",
        False,
    ),
}


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job, each with only its own arguments and options."""
    top = argparse.ArgumentParser(
        prog="python -m grading", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    course = argparse.ArgumentParser(add_help=False)
    course.add_argument(
        "--course",
        type=Path,
        default=default_course(),
        help="the course directory (default: this folder if it holds nbgrader_config.py, else the kit's root)",
    )
    run = _run_options()
    commands = top.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}", required=True)
    made = {
        name: commands.add_parser(
            name, parents=[course, run] if runs_code else [course], help=summary, description=summary
        )
        for name, (summary, runs_code) in COMMANDS.items()
    }
    made["release"].add_argument("labs", nargs="*", metavar="LAB", help="labs to build (default: every lab)")
    for name in ("autograde", "feedback", "report", "mutants", "explain"):
        made[name].add_argument("lab", nargs="?", metavar="LAB", help="the lab (a folder of solutions/)")
    made["autograde"].add_argument(
        "students", nargs="*", metavar="STUDENT", help="students to grade (default: every student who submitted)"
    )
    made["export"].add_argument(
        "--for",
        dest="platform",
        choices=("canvas", "moodle"),
        help="write records/grades-PLATFORM.csv, for that platform's gradebook import, instead",
    )
    made["autograde"].add_argument("--force", action="store_true", help="grade again the students already graded")
    made["autograde"].add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing: print whose per-exercise scores the current hidden tests and master would change, and why",
    )
    made["explain"].add_argument("student", metavar="STUDENT", help="the student whose grade to explain")
    made["cluster-certs"].add_argument(
        "--dir", type=Path, help="where to write the certificates (default: records/cluster of the course)"
    )
    made["cluster-certs"].add_argument("--force", action="store_true", help="make new certificates over the old ones")
    made["serve"].add_argument("labs", nargs="*", metavar="LAB", help="labs to grade (default: every lab)")
    made["hub"].add_argument("--port", type=int, default=8000, help="the hub's port on 127.0.0.1 (default: 8000)")
    made["hub"].add_argument(
        "--site",
        type=Path,
        help="the hub's folder: its state, the exchange, the accounts' settings (default: /srv/<course id>)",
    )
    made["hub"].add_argument(
        "--students", type=int, default=3, help="demo student accounts to create (default: 3; 0 for none)"
    )
    made["hub"].add_argument(
        "--account-prefix", default="", help="put this before the demo accounts' names (instructor, student1, ...)"
    )
    made["mutants"].add_argument("--workers", type=_workers, help="mutants judged at once (default: every core)")
    made["new-lab"].add_argument("name", metavar="NAME", help="the lab's id: lower-case letters, digits and _")
    made["new-lab"].add_argument("--title", help="the lab's title (default: made from NAME)")
    return top


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passed_on = argv[argv.index("--") + 1 :] if "--" in argv else []  # JupyterLab's options (formgrader)
    command_line = parser()
    args, unknown = command_line.parse_known_args(argv[: argv.index("--")] if "--" in argv else argv)
    if unknown:
        print(
            f"grading: {args.command} does not take {' '.join(unknown)}: see python -m grading {args.command} --help",
            file=sys.stderr,
        )
        return 2
    if passed_on and args.command != "formgrader":
        command_line.error("only formgrader takes options after --")
    course = Course(args.course.resolve())
    if not (course.root / "nbgrader_config.py").is_file():
        print(
            f"grading: {course.root} is not a course folder (no nbgrader_config.py): pass --course DIR", file=sys.stderr
        )
        return 1
    try:
        if args.command == "demo":
            demo(_settings(args, course))
        elif args.command == "cluster-certs":
            cluster_certs(course, args.dir, args.force)
        elif args.command == "new-lab":
            scaffold(course, args.name, args.title)
        elif args.command == "formgrader":
            return formgrader(course, passed_on)
        elif args.command == "serve":
            serve(course, [known_lab(course, name) for name in args.labs] or course.labs(), _settings(args, course))
        elif args.command == "hub":
            from grading.hub.site import start_hub

            start_hub(course, args.port, args.site, args.students, args.account_prefix)
        else:
            lab = None
            if args.command not in ("release", "export"):
                if not args.lab:
                    raise CommandError(f"'{args.command}' needs a lab: one of {', '.join(course.labs())}")
                lab = known_lab(course, args.lab)
            labs = [known_lab(course, name) for name in args.labs] if args.command == "release" else []
            if args.command == "explain" or getattr(args, "dry_run", False):
                replay(course, args, lab)  # reads and replays; writes nothing, not even the files' fingerprint
                return 0
            with integrity.unchanged(course, args.command, rewrites_releases=args.command == "release"):
                run_command(course, args, lab, labs)
    except GradingError as error:
        print(f"grading: {printable_lines(str(error))}", file=sys.stderr)
        return 1
    return 0


def replay(course: Course, args: argparse.Namespace, lab: str) -> None:
    """`explain` and `autograde --dry-run`: verdicts judged again, nothing written."""
    from grading.classwork.replay import dry_run, explain

    overrides = (
        {key: value for key, value in _settings(args, course).items() if "." in key}
        if args.command == "autograde"
        else {}
    )
    api = course.nbgrader_api(register_students=False, **overrides)
    if args.command == "explain":
        print(printable_lines("\n".join(explain(api, course, lab, args.student))), flush=True)
    else:
        print(printable_lines("\n".join(dry_run(api, course, lab, args.students or None))), flush=True)


def run_command(course: Course, args: argparse.Namespace, lab: str | None, labs: list[str]) -> None:
    """One of the commands that work on the course's files (all but demo), its arguments checked."""
    from grading.classwork.autograde_class import autograde_class
    from grading.reporting.class_report import write_class_report
    from grading.reporting.report import format_table, load_results

    if args.command == "release":
        release(course, labs)
    elif args.command == "export":
        export(course, args.platform)
    elif args.command == "autograde":
        print(
            printable_lines(
                format_table(
                    lab,
                    autograde_class(course, lab, args.students or None, force=args.force, **_settings(args, course)),
                )
            )
        )
    elif args.command == "feedback":
        feedback(course, lab)
    elif args.command == "mutants":
        from grading.mutation.report import mutate_lab, table

        print("\n".join(table(mutate_lab(course, lab, args.workers))), flush=True)
    else:
        print(printable_lines(format_table(lab, load_results(course, lab))))
        print(f"report: {write_class_report(course, lab)}", file=sys.stderr)

"""Autograde a whole class with nbgrader, so that one bad submission costs only its own
student's points.

`autograde_class` reads as its steps: check that sandboxes can start here (`check_sandbox`),
register the lab in the gradebook, fill the lab's cache from its master (`fill_cache`), choose
the students (`choose_students`: those the journal holds are kept), grade them on the pool
(`grade_on_pool`: workers run the code; this process checks each answer and takes the student
through intake, nbgrader's autograde and the notes, `grade_student`), and write the reports.
nbgrader's `autograde` drops a student whose notebook it cannot read and leaves no grade
behind; here every student ends with a score in the gradebook (zero when the notebook could
not be graded) and a plain-language note, kept in `records/reports/<lab>.json`.

The notes are the grader's own words: what it saw go wrong in the run (`grading.reporting.incidents`,
never an output the student's code could imitate) and why it refused a submission. Whatever in
them or in a student's id came from a submission is made printable (`grading.text`) before it is
kept or shown.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbformat.v4 import new_output

from grading.classwork import lab_cache
from grading.classwork.autograde_student import autograde, forget_ahead, forget_all_ahead, submission_read_ahead
from grading.classwork.intake import link_refusal, refusal
from grading.classwork.journal import Journal
from grading.classwork.provenance import Provenance, grading_context
from grading.course import Course
from grading.errors import NoSubmissions
from grading.gradebook_url import one_engine_per_database
from grading.preprocessors.restore_released_cells import changed_locked_cells, read_release
from grading.reporting import incidents
from grading.reporting.results import INSECURE_CLUSTER_NOTE, UNSAFE_NOTE, WEAKER_LIMITS_NOTE, Note, StudentResult
from grading.sandbox.launch import Sandbox
from grading.sandbox.warm import check_available, missing_guarantees
from grading.text import printable
from grading.verdicts.student_cases import course_secret

if TYPE_CHECKING:
    from nbgrader.coursedir import CourseDirectory


@contextmanager
def quiet_gradebook() -> Iterator[None]:
    """Hide the SQLAlchemy autoflush warnings that nbgrader's own code trips on a new submission."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


def ensure_in_gradebook(api, course: Course, lab: str) -> None:
    """Register `lab` (its notebooks and grade cells) in the gradebook if they are not there yet, as
    nbgrader's release does, without touching the committed release: a fresh clone grades at once."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:  # a lab added with only a due date (`nbgrader db assignment add`) has no notebooks yet
            if gradebook.find_assignment(lab).notebooks:
                return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory(prefix="course-register-") as scratch:
        registering = course.nbgrader_api(**{"CourseDirectory.release_directory": scratch})
        outcome = registering.generate_assignment(lab, force=True, create=True)
    if not outcome["success"]:
        raise RuntimeError(f"{lab} could not be registered in the gradebook:\n{outcome.get('log', '')}")


def record_refusal(api, course: Course, lab: str, student: str, reason: str) -> None:
    """Zero points for every grade cell, and an autograded notebook that says why, so that the
    student has a graded state in formgrader and a feedback page like everyone else."""
    from nbgrader.api import Gradebook

    try:  # nbgrader reads timestamp.txt of the submission: never through a link
        timestamp = (
            None
            if link_refusal(course.submission(lab, student).parent, course.submitted)
            else api.get_submitted_timestamp(lab, student)
        )
    except Exception:
        timestamp = None
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook, quiet_gradebook():
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(lab, student, timestamp=timestamp)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gradebook.db.commit()
    notebook = nbformat.read(course.releases / lab / f"{lab}.ipynb", as_version=4)
    message = f"This submission could not be graded: {reason}. Every exercise scores 0."
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = (
                [new_output("error", ename="NotGraded", evalue=message, traceback=[message])]
                if cell.metadata.get("nbgrader", {}).get("grade")
                else []
            )
    path = course.autograded_notebook(lab, student)
    if path.parent.exists():
        shutil.rmtree(path.parent)
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)


def notes_from_notebook(course: Course, lab: str, student: str) -> list[Note]:
    """What the grader saw go wrong in the run beyond right and wrong (dead kernels, limits, floods):
    the incidents that ExecuteInSandbox kept in the autograded notebook's metadata, never its outputs.
    The notebook was just written by nbgrader in this process: its JSON is read, not checked again
    against nbformat's schema, and `incidents.notes` keeps only well-formed incidents."""
    path = course.autograded_notebook(lab, student)
    if not path.is_file():
        return []
    written = json.loads(path.read_bytes())
    metadata = written.get("metadata") if isinstance(written, dict) else None
    grading = metadata.get("grading") if isinstance(metadata, dict) else None
    return incidents.notes(grading.get("incidents") if isinstance(grading, dict) else None)


def scores(coursedir: CourseDirectory, lab: str, student: str) -> tuple[float, float, list[str]]:
    """Score, maximum and the grade ids that lost points, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        submission = gradebook.find_submission(lab, student)
        failed = [
            grade.name
            for notebook in submission.notebooks
            for grade in notebook.grades
            if (grade.score or 0) < grade.max_score
        ]
        return submission.score, submission.max_score, sorted(failed)


def tampering_note(course: Course, lab: str, student: str) -> list[Note]:
    """A note naming the locked cells the submission changed (their changes count for nothing)."""
    try:
        path = course.submission(lab, student)
        submitted = submission_read_ahead(lab, student, str(path)) or nbformat.read(path, as_version=4)
        released = read_release(course.releases / lab / f"{lab}.ipynb")
    except Exception:  # already refused at intake, or unreadable: nothing more to say
        return []
    changed = changed_locked_cells(released, submitted)
    if not changed:
        return []
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    return [Note("changed locked cells", f"changed or removed locked cells ({shown}): graded as released")]


def stamp_submission(course: Course, lab: str, student: str) -> None:
    """Give a submission placed by hand the timestamp that nbgrader's collectors would: its notebook's
    time. A stamp written before the notebook was last saved (a resubmission copied over the first)
    is written again; one written after it (a collector's, or this function's) is kept."""
    notebook = course.submission(lab, student)
    folder = notebook.parent
    stamp = folder / "timestamp.txt"
    if link_refusal(folder, course.submitted) or not folder.is_dir() or stamp.is_symlink():
        return  # never written through a link
    if not (notebook.exists() or notebook.is_symlink()):
        return
    saved = notebook.lstat().st_mtime
    if stamp.exists() and stamp.lstat().st_mtime >= saved:
        return
    stamp.write_text(datetime.fromtimestamp(saved, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))


def grade_student(api, course: Course, lab: str, student: str) -> StudentResult:
    """Intake, nbgrader's autograde and the notes of one student; never raises for their submission."""
    notes: list[Note] = []
    reason = refusal(course.submission(lab, student).parent, f"{lab}.ipynb", within=course.submitted)
    reason = None if reason is None else printable(reason)  # it may name the submission's files
    stamp_submission(course, lab, student)
    if reason is None:
        notes += tampering_note(course, lab, student)
        try:
            with quiet_gradebook():
                outcome = autograde(api, lab, student)
            if not outcome["success"]:
                errors = [line for line in outcome["log"].splitlines() if line.startswith("[ERROR]")]
                reason = "autograding failed: " + (printable(errors[0][8:], 300) if errors else "see nbgrader's log")
        except (RecursionError, MemoryError) as error:
            reason = f"autograding failed: the notebook is too deep or too large to process ({type(error).__name__})"
        except Exception as error:  # any failure on this submission is this student's alone
            reason = f"autograding failed: {type(error).__name__}: {printable(str(error), 200)}"
    if reason is not None:
        record_refusal(api, course, lab, student, reason)
        notes.insert(0, Note("not graded", reason))
    notes += notes_from_notebook(course, lab, student)
    score, max_score, failed = scores(api.coursedir, lab, student)
    return StudentResult(student, score, max_score, failed, notes)


def make_pool(workers: int | None, scheduler: str | None, unsafe: bool, security=None):
    """Where the class's code runs: a Dask cluster if given (reached with `security`, from
    `grading.execution.pool.dask_security`), else local workers (every core by default; one
    without a sandbox, whose clean-up would stop the other workers' runs)."""
    from grading.execution.pool import DaskPool, LocalPool, default_workers

    if scheduler:
        return DaskPool(scheduler, security)
    return LocalPool(1 if unsafe else (workers or default_workers()))


def prepare_works(api, course: Course, lab: str, students: list[str], itself: list[str]) -> Iterator:
    """The workers' share, a `StudentWork` per gradable submission, made one at a time as the pool
    takes them (the workers start on the first while the others are prepared); the students the
    coordinator grades itself (refused at intake, or not sanitisable: nbgrader says why) are added
    to `itself`."""
    from grading.classwork.prepare import student_work

    for student in students:
        if refusal(course.submission(lab, student).parent, f"{lab}.ipynb", within=course.submitted) is not None:
            itself.append(student)
            continue
        try:
            work = student_work(api, course, lab, student)
        except Exception:  # noqa: BLE001 - nbgrader's own pass meets the same problem and records it
            itself.append(student)
            continue
        yield work


def progress_bar(total: int, progress: Callable[[str], None]):
    """A bar with count, rate and time left on a terminal (nothing otherwise), and the function
    that prints a student's line above it, made printable (`grading.text`): a student's id or
    note can never move the cursor, erase a line or fake another."""
    from tqdm import tqdm

    # A terminal that reports no size (a pty made by a program) gets 80 x 24: tqdm would draw nothing.
    size = shutil.get_terminal_size()
    bar = tqdm(
        total=total,
        unit="student",
        disable=not sys.stderr.isatty() or total == 0,
        leave=False,
        ncols=size.columns,
        nrows=size.lines,
    )
    write = bar.write if (not bar.disable and progress is print) else progress
    return bar, lambda line: write(printable(line))


def check_sandbox(
    api, course: Course, scheduler: str | None, certificates: Path | None, insecure_cluster: bool, progress
) -> tuple[Sandbox, object, list[Note]]:
    """The sandbox's settings (a real run proves it works here), Dask's TLS settings for
    `scheduler`, and the notes every student of this grading gets for a guarantee it lacks (each
    also said once as a warning)."""
    from grading.execution.cluster_security import default_folder
    from grading.execution.pool import dask_security

    sandbox = Sandbox(config=api.config)
    check_available(sandbox)
    notes = []
    if sandbox.unsafe_no_sandbox:
        progress(f"WARNING: {UNSAFE_NOTE}: submitted code runs as this user, with the course's files in reach")
        notes.append(UNSAFE_NOTE)
    weaker = missing_guarantees(sandbox) if not scheduler else ""
    if weaker:
        progress(f"WARNING: {weaker}")
    security = dask_security(scheduler, certificates or default_folder(course), insecure_cluster) if scheduler else None
    if scheduler is not None and security is None:
        progress(
            f"WARNING: {INSECURE_CLUSTER_NOTE}: anyone who reaches {scheduler} can run code on its workers"
            " and change the grades"
        )
        notes.append(INSECURE_CLUSTER_NOTE)
    if weaker:
        notes.append(WEAKER_LIMITS_NOTE)
    return sandbox, security, notes


def check_submissions(course: Course, lab: str, students: list[str] | None) -> None:
    if students is None and not course.students(lab):
        raise NoSubmissions(
            f"no submissions of {lab} to grade: put each in {course.submitted}/<student>/{lab}/"
            f"{lab}.ipynb (README: Grading a class)"
        )


def fill_cache(api, course: Course, lab: str, progress) -> None:
    copied = lab_cache.fill_from_master(course, lab, api.config)
    if copied:
        progress(f"{lab}: cache filled from the master's run ({copied} file(s) in {course.cache})")


@dataclass
class Choice:
    """Who this grading is about: `students` in order, `kept` (graded before, not again), `todo`
    (to grade now), and `finished` (every student the journal holds, for the class's report)."""

    journal: Journal
    students: list[str]
    finished: dict[str, StudentResult]
    kept: dict[str, StudentResult]
    todo: list[str]


def choose_students(course: Course, lab: str, students: list[str] | None, force: bool) -> Choice:
    """Students named (graded again), or the whole class less those the journal says are done
    (all of them again if `force`)."""
    named = students is not None
    students = students if students is not None else course.students(lab)
    journal = Journal(course, lab)
    if force and not named:
        journal.clear()
    finished = {student: StudentResult(**result) for student, result in journal.finished().items()}
    kept = {} if force or named else {student: result for student, result in finished.items() if student in students}
    return Choice(journal, students, finished, kept, [student for student in students if student not in kept])


def grade_on_pool(api, course: Course, lab: str, choice: Choice, pool, notes: list[Note], progress):
    """Each student of `choice.todo` graded: the pool runs the code, this process checks each answer
    and puts it through nbgrader (a student whose work failed or was refused on the worker, or was
    never sent, is graded here). Each result is journaled, and its provenance recorded, as soon as it is made."""
    from grading.execution import prepared
    from grading.execution.work import WorkError, checked_result

    graded: dict[str, StudentResult] = {}
    provenance, context = Provenance(course, lab), grading_context(api, course, lab)
    progress(
        f"{lab}: {len(choice.todo)} submission(s) to grade on {pool.describe()}"
        + (f"; {len(choice.kept)} already graded (--force grades them again)" if choice.kept else "")
    )
    itself: list[str] = []
    works = prepare_works(api, course, lab, choice.todo, itself)
    bar, say = progress_bar(len(choice.todo), progress)

    def finish(student: str, started: float, where: str) -> None:
        result = grade_student(api, course, lab, student)
        prepared.forget(lab, student)
        forget_ahead(lab, student)
        result.notes.extend(notes)
        choice.journal.record(result)
        provenance.record(result, context)
        graded[student] = result
        bar.update()
        say(
            f"[{len(graded) + len(choice.kept)}/{len(choice.students)}] {student}: {result.score:g}/{result.max_score:g}"
            f" ({time.monotonic() - started:.1f} s{where}){' - ' + result.said() if result.notes else ''}"
        )

    started = time.monotonic()
    for work, answer in pool.answers(works):
        where = ""
        if isinstance(answer, BaseException):
            why = f"{type(answer).__name__}: {printable(str(answer), 200)}"
            say(f"{work.student}: the worker failed ({why}); graded here")
        else:
            try:
                prepared.offer(work, checked_result(answer, work))
                where = f", {answer.get('seconds', 0):.1f} s on {str(answer.get('worker', '?'))[:60]}"
            except WorkError as error:
                say(f"{work.student}: the worker's answer was refused ({error}); graded here")
        finish(work.student, started, where)
        started = time.monotonic()
    for student in itself:
        finish(student, time.monotonic(), "")
    bar.close()
    return graded


def write_reports(course: Course, lab: str, results: dict[str, StudentResult], progress) -> None:
    """The lab's report (JSON) and its HTML page, of the whole class: students graded before (and
    not again now) keep their results."""
    from grading.reporting.class_report import write_class_report

    everyone = [results[student] for student in course.students(lab) if student in results]
    course.reports.mkdir(parents=True, exist_ok=True)
    (course.reports / f"{lab}.json").write_text(json.dumps([r.stored() for r in everyone], indent=1))
    progress(f"{lab}: class report in {write_class_report(course, lab)}")


def autograde_class(
    course: Course,
    lab: str,
    students: list[str] | None = None,
    progress: Callable[[str], None] = print,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    certificates: Path | None = None,
    insecure_cluster: bool = False,
    **overrides: object,
) -> list[StudentResult]:
    """Autograde every (or the given) student's submission of `lab` and write the lab's report.

    The submitted code runs on `workers` local workers (every core by default) or on the Dask
    cluster at `scheduler`, reached over TLS with the certificates in `certificates` (default: the
    course's `records/cluster`), or without authentication if `insecure_cluster` allows it; this
    process alone writes the gradebook, the autograded notebooks and the reports. Students
    already graded (`grading.classwork.journal`) are kept unless `force`, or unless `students` names them.
    `overrides` are nbgrader settings for this run, e.g. {"ExecuteInSandbox.timeout": 10}.
    """
    api = course.nbgrader_api(**overrides)
    sandbox, security, notes = check_sandbox(api, course, scheduler, certificates, insecure_cluster, progress)
    check_submissions(course, lab, students)
    course_secret(course.records)  # the seeds of the hidden cases: a damaged secret stops here, before anyone is graded
    with one_engine_per_database():
        ensure_in_gradebook(api, course, lab)
        fill_cache(api, course, lab, progress)
        choice = choose_students(course, lab, students, force)
        pool = make_pool(workers, scheduler, sandbox.unsafe_no_sandbox, security)
        try:
            graded = grade_on_pool(api, course, lab, choice, pool, notes, progress)
        finally:
            pool.close()
            forget_all_ahead()
        write_reports(course, lab, {**choice.finished, **graded}, progress)
    return [choice.kept.get(student) or graded[student] for student in choice.students]

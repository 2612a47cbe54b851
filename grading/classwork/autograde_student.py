"""nbgrader's autograde of one student, with the same steps, files, gradebook rows and log, for
less of the coordinator's time.

nbgrader's `Autograde` converter opens the gradebook five times to set a student up (each time a
new database engine, which checks every table and compiles every query again) and, between its
two passes over a notebook (sanitising it, then autograding it), writes the sanitised notebook
to the student's folder and reads it back, checking it against nbformat's schema on the way. Here
the set-up runs in one gradebook session and the sanitised notebook goes from one pass to the
next in memory, as nbgrader would have read it back; nbconvert's exporter copies each notebook
four times per pass, here once. The first pass can be made ahead (`sanitize_ahead`: the class's
coordinator needs its notebook to say what the workers run) and is then taken as made, its log
said again at the moment nbgrader would have said it, if the submission's file is still the one
it was made from. The preprocessors, their configuration and the notebook written are
nbgrader's own; `nbgrader autograde` still works on the course and gives the same results, only
slower.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
from dataclasses import dataclass

import nbformat
from nbconvert.exporters import NotebookExporter
from nbformat import validator
from nbformat.v4.nbjson import BytesEncoder
from nbformat.v4.rwbase import split_lines, strip_transient
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde as NbgraderAutograde
from nbgrader.converters.base import BaseConverter, NbGraderException
from traitlets import Type
from traitlets.log import get_logger


@dataclass(frozen=True)
class FirstPass:
    """The converter's first pass over one submission, made ahead of its autograde: the file it
    read (`path` and its `identity`) and the notebook read from it, the sanitised notebook and
    resources, and the log."""

    path: str
    identity: tuple[int, ...]
    submitted: nbformat.NotebookNode
    notebook: nbformat.NotebookNode
    resources: dict
    records: tuple[logging.LogRecord, ...]


_ahead: dict[tuple[str, str], FirstPass] = {}


def file_identity(path: str) -> tuple[int, ...]:
    """Changes whenever the file is replaced or written, even to the same size and time."""
    found = os.stat(path)
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


class _Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def sanitize_ahead(api, lab: str, student: str) -> nbformat.NotebookNode:
    """The converter's first pass over `student`'s submission, made now and kept for their
    autograde (`forget_ahead` drops it). Raises what the pass raises; nothing is kept then."""
    with utils.temp_attrs(api.coursedir, assignment_id=lab, student_id=student):
        converter = Autograde(coursedir=api.coursedir, parent=api)
        path = os.path.join(converter._format_source(lab, student), f"{lab}.ipynb")
        identity = file_identity(path)
        keep, log = _Keep(), logging.Logger("grading.sanitize_ahead", api.log.getEffectiveLevel())
        log.addHandler(keep)
        converter.log = log  # the exporter and its preprocessors log through their parent's log
        converter.exporter = converter.exporter_class(parent=converter, config=converter.config)
        submitted, notebook, resources = converter._sanitize(path)
    _ahead[(lab, student)] = FirstPass(path, identity, submitted, notebook, resources, tuple(keep.records))
    return notebook


def submission_read_ahead(lab: str, student: str, path: str) -> nbformat.NotebookNode | None:
    """The submission as its first pass made ahead read it, if the file at `path` is still that
    one (the caller must not change it), else None."""
    made = _ahead.get((lab, student))
    return made.submitted if made is not None and made.identity == file_identity(path) else None


def forget_ahead(lab: str, student: str) -> None:
    _ahead.pop((lab, student), None)


def forget_all_ahead() -> None:
    """Drop every pass made ahead: a grading that ends, however it ends, leaves none for the next
    (whose release or gradebook may differ, although a submission does not)."""
    _ahead.clear()


def autograde(api, lab: str, student: str) -> dict:
    """`api.autograde(lab, student, force=True, create=True)`, with this module's converter:
    {"success": bool, "log": str, "error": str (a traceback, on failure)}."""
    with utils.temp_attrs(api.coursedir, assignment_id=lab, student_id=student):
        converter = Autograde(coursedir=api.coursedir, parent=api)
        converter.force, converter.create_student = True, True
        return utils.capture_log(converter)


class NotebookExporterCopyingOnce(NotebookExporter):
    """nbconvert's notebook exporter, which copies each notebook four times per pass (before its
    preprocessors, in `from_notebook_node`, `_preprocess` and nbformat's `normalize`, then before
    writing it), here once: `normalize`'s copy goes through the preprocessors and is written as
    it is, since nothing uses it afterwards. The same preprocessors, checks, order and bytes
    written as nbconvert's (`nbformat.writes`: checked against the schema, an invalid notebook
    logged, lines split, transient metadata left out)."""

    def preprocessed(self, nb, resources=None):
        """`Exporter.from_notebook_node`: a copy of `nb` through the preprocessors, and the resources."""
        resources = self._init_resources(resources)
        if "language" in nb["metadata"]:
            resources["language"] = nb["metadata"]["language"].lower()
        nb, resources = self._preprocess(nb, resources)
        return nb, self._init_resources(resources)  # as nbconvert's, whatever a preprocessor returned

    def from_notebook_node(self, nb, resources=None, **kw):
        if self.nbformat_version != 4 or nb.nbformat != 4:
            return super().from_notebook_node(nb, resources, **kw)
        nb, resources = self.preprocessed(nb, resources)
        resources["output_suffix"] = ".nbconvert"
        return _written(nb), resources

    def _preprocess(self, nb, resources):
        _, nb = validator.normalize(nb)  # a copy: the caller's notebook is left as it was
        for preprocessor in self._preprocessors:
            nb, resources = preprocessor(nb, resources)
            if not self.optimistic_validation:
                self._validate_preprocessor(nb, preprocessor)
        if self.optimistic_validation and self._preprocessors:
            self._validate_preprocessor(nb, preprocessor)
        return nb, resources


def _written(nb: nbformat.NotebookNode) -> str:
    """`nbformat.writes(nb)` of a version 4 notebook that is not used again, without its copy."""
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        get_logger().error("Notebook JSON is invalid: %s", error)
    text = json.dumps(
        strip_transient(split_lines(nb)),
        cls=BytesEncoder,
        indent=1,
        sort_keys=True,
        separators=(",", ": "),
        ensure_ascii=False,
    )
    return text if text.endswith("\n") else text + "\n"


class Autograde(NbgraderAutograde):
    """nbgrader's autograde converter, its student set up in one gradebook session, its two passes
    over each notebook joined in memory, and each notebook copied once per pass."""

    exporter_class = Type(NotebookExporterCopyingOnce, klass=NotebookExporterCopyingOnce)

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        BaseConverter.init_assignment(self, assignment_id, student_id)  # the submission's other files
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            self._register_student(gradebook, student_id)
            self._check_assignment(gradebook, assignment_id)
            self._register_submission(gradebook, assignment_id, student_id)
            self._copy_source_files(assignment_id, student_id)
            self._keep_known_notebooks(gradebook, assignment_id)
            self._zero_missing_notebooks(gradebook, assignment_id, student_id)

    def _register_student(self, gradebook: Gradebook, student_id: str) -> None:
        if self.create_student:
            self.log.info("Creating/updating student with ID '%s': %s", student_id, {})
            gradebook.update_or_create_student(student_id)
            return
        try:
            gradebook.find_student(student_id)
        except MissingEntry:
            self._fail(f"No student with ID '{student_id}' exists in the database")

    def _check_assignment(self, gradebook: Gradebook, assignment_id: str) -> None:
        try:
            gradebook.find_assignment(assignment_id)
        except MissingEntry:
            self._fail(f"No assignment with ID '{assignment_id}' exists in the database")

    def _register_submission(self, gradebook: Gradebook, assignment_id: str, student_id: str) -> None:
        timestamp = self.coursedir.get_existing_timestamp(self._format_source(assignment_id, student_id))
        if not timestamp:
            gradebook.update_or_create_submission(assignment_id, student_id)
            return
        submission = gradebook.update_or_create_submission(assignment_id, student_id, timestamp=timestamp)
        self.log.info("%s submitted at %s", submission, timestamp)
        if submission.total_seconds_late > 0:
            self.log.warning("%s is %s seconds late", submission, submission.total_seconds_late)

    def _copy_source_files(self, assignment_id: str, student_id: str) -> None:
        """The lab's files from the master's folder, over the student's (nbgrader's own step)."""
        self.log.info("Overwriting files with master versions from the source directory")
        dest_path = self._format_dest(assignment_id, student_id)
        source_path = self.coursedir.format_path(self.coursedir.source_directory, ".", assignment_id)
        source_files = set(utils.find_all_files(source_path, self.coursedir.ignore + ["*.ipynb"]))
        excluded = {os.path.join(source_path, name) for name in self.exclude_overwriting.get(assignment_id, [])}
        for filename in sorted(source_files - excluded):
            dest = os.path.join(dest_path, os.path.relpath(filename, source_path))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if os.path.exists(dest):
                os.remove(dest)
            self.log.info("Copying %s -> %s", filename, dest)
            shutil.copy(filename, dest)

    def _keep_known_notebooks(self, gradebook: Gradebook, assignment_id: str) -> None:
        known = []
        for notebook in self.notebooks:
            try:
                gradebook.find_notebook(os.path.splitext(os.path.basename(notebook))[0], assignment_id)
            except MissingEntry:
                self.log.warning("Skipping unknown notebook: %s", notebook)
            else:
                known.append(notebook)
        self.notebooks = known
        if not known:
            self._fail("No notebooks found, did you forget to run 'nbgrader generate_assignment'?")

    def _zero_missing_notebooks(self, gradebook: Gradebook, assignment_id: str, student_id: str) -> None:
        folder = self.coursedir.format_path(self.coursedir.submitted_directory, student_id, assignment_id)
        for notebook in gradebook.find_assignment(assignment_id).notebooks:
            path = os.path.join(folder, f"{notebook.name}.ipynb")
            if os.path.exists(path):
                continue
            self.log.warning("No submitted file: %s", path)
            for grade in gradebook.find_submission_notebook(notebook.name, assignment_id, student_id).grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gradebook.db.commit()

    def _fail(self, message: str) -> None:
        self.log.error(message)
        raise NbGraderException(message)

    def convert_single_notebook(self, notebook_filename: str) -> None:
        self.log.info("Sanitizing %s", notebook_filename)
        sanitized, resources = self._sanitized(notebook_filename)
        folder = self._format_dest(resources["nbgrader"]["assignment"], resources["nbgrader"]["student"])
        autograded = os.path.join(folder, os.path.basename(notebook_filename))
        self.log.info("Autograding %s", autograded)
        self._sanitizing = False
        self._init_preprocessors()
        try:
            resources = self._resources(autograded, datetime.datetime.now(datetime.timezone.utc))
            with utils.setenv(NBGRADER_EXECUTION="autograde"):
                output, resources = self.exporter.from_notebook_node(sanitized, resources=resources)
            self.write_single_notebook(output, resources)
        finally:
            self._sanitizing = True

    def _sanitized(self, notebook_filename: str) -> tuple[nbformat.NotebookNode, dict]:
        """The first pass: the submission through the sanitising preprocessors, as the second pass
        would read it back from the file nbgrader writes in between (made ahead, if it was made
        from this very file)."""
        made = self._made_ahead(notebook_filename)
        if made is not None:
            for record in made.records:
                if self.log.isEnabledFor(record.levelno):
                    self.log.handle(record)
            return made.notebook, made.resources
        _, sanitized, resources = self._sanitize(notebook_filename)
        return sanitized, resources

    def _sanitize(self, notebook_filename: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, dict]:
        """The submission as read, and as the first pass leaves it, with the resources."""
        self._sanitizing = True
        self._init_preprocessors()
        modified = datetime.datetime.fromtimestamp(os.path.getmtime(notebook_filename), tz=datetime.timezone.utc)
        with open(notebook_filename, encoding="utf-8") as file:
            submitted = nbformat.read(file, as_version=4)
        resources = self._resources(notebook_filename, modified)
        sanitized, resources = self.exporter.preprocessed(submitted, resources)  # a copy: `submitted` stays
        return submitted, strip_transient(sanitized), resources

    def _made_ahead(self, notebook_filename: str) -> FirstPass | None:
        made = _ahead.pop((self.coursedir.assignment_id, self.coursedir.student_id), None)
        if made is None or made.path != notebook_filename or made.identity != file_identity(notebook_filename):
            return None
        return made

    def _resources(self, notebook_filename: str, modified: datetime.datetime) -> dict:
        """What nbconvert's `from_filename` gives the preprocessors for a notebook at this path."""
        resources = self.init_single_notebook_resources(notebook_filename)
        path, basename = os.path.split(notebook_filename)
        resources["metadata"] = {
            "name": os.path.splitext(basename)[0],
            "path": path,
            "modified_date": modified.strftime("%B %-d, %Y"),
        }
        return resources

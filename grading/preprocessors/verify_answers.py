"""Decide each graded function's points outside the student's kernel.

For every grade cell that the lab's hidden-test module lists in `EXERCISES`, the
exercise's own answer cell is executed in a fresh sandbox (`grading.verdicts.isolated_call`)
and the function's results on the student's own hidden cases (drawn from the student's seed,
`grading.verdicts.student_cases`) are compared with the reference here, in the grader. That verdict decides the grade cell's points, and the cell says so: a pass
turns the error and stderr outputs of the notebook's own run (a failing public test, a
kernel that another answer crashed) into plain text, still visible but no longer scored
as a failure by nbgrader, and ends with the grader's verdict; a failure keeps the kernel's
outputs but any that announce a pass (a public test's "All tests passed!", or the same words
printed by the student's code) and appends an error output that tells the student what was
wrong. So a wrong function costs only its own points, no trick played inside the kernel can
earn any or show a pass above the grader's verdict, and the graded notebook never hides what a
failing public test said.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float

import grading.verdicts.hidden_tests
from grading.course import Course
from grading.execution import prepared
from grading.execution.work import VerdictJob, WorkError, checked_verdict
from grading.preprocessors.own_time import OwnTimeLimit
from grading.sandbox.launch import Mounts, Sandbox
from grading.sandbox.warm import ColdRun
from grading.text import printable
from grading.verdicts.checks import PREVIEW_SEED, Exercise, Outputs, problems_on, problems_with, results_digest
from grading.verdicts.isolated_call import (
    VERDICT_WORK,
    IsolatedCallError,
    receive_verdict,
    verdict_payload,
    verdict_results,
)
from grading.verdicts.student_cases import course_secret, seed_for


@functools.cache
def hidden_tests() -> dict[str, ModuleType]:
    """Every lab's hidden-test module, with its cases built; loaded once, on the first call.

    `VerifyAnswers` calls it when nbgrader builds its pipeline, before any student's code runs,
    so that what a submission might write to disk cannot change the references it is judged by.
    """
    modules = {}
    for info in pkgutil.iter_modules(grading.verdicts.hidden_tests.__path__):
        module = importlib.import_module(f"grading.verdicts.hidden_tests.{info.name}")
        try:
            for exercise in module.EXERCISES.values():
                exercise.cases_for(PREVIEW_SEED)
        except FileNotFoundError as error:
            raise RuntimeError(f"The hidden tests of {info.name} need {error.filename}: run 'make setup'.") from None
        modules[info.name] = module
    return modules


def verdict_job(exercise: Exercise, answer_source: str, seed: int, timeout: float, stretch: float = 0.0) -> VerdictJob:
    """The sandboxed run that judges `exercise`: its answer cell, then a call per hidden case drawn from `seed`."""
    sources = (answer_source,)
    payload = verdict_payload(sources, exercise.function, exercise.cases_for(seed), exercise.n_outputs)
    return VerdictJob(exercise.function, sources, payload, timeout, stretch)


def run_verdict(job: VerdictJob, sandbox: Sandbox) -> dict:
    """The verdict run of `job` in a fresh sandbox of its own: its raw, checked result."""
    run = ColdRun(sandbox, Mounts(work=VERDICT_WORK), "verdict", job.payload, {})
    try:
        return receive_verdict(run, job.timeout, job.stretch)
    finally:
        run.close()


def problems_of(exercise: Exercise, raw: dict, seed: int) -> list[str]:
    """What is wrong with the student's function, from its verdict run on the cases of `seed` (empty: nothing)."""
    return verdict_of(exercise, raw, seed)["problems"]


def verdict_of(exercise: Exercise, raw: dict, seed: int) -> dict:
    """The verdict of a run on the cases of `seed`, as plain data: the problems (empty: none), and
    a digest of the wrong outputs on each fixed case (the same inputs for every student) that the
    function returned wrong outputs for (an error raised is not an output)."""
    cases = exercise.cases_for(seed)
    try:
        results = verdict_results(checked_verdict(raw), len(cases), exercise.n_outputs)
    except (IsolatedCallError, WorkError) as error:
        return {"problems": [f"{exercise.function} could not be tested: {error}"], "fixed": {}}
    fixed = {
        case.name: results_digest([result])
        for case, result in zip(cases, results)
        if case.fixed and isinstance(result, Outputs) and problems_on(exercise, case, result)
    }
    return {"problems": problems_with(exercise, results, seed), "fixed": fixed}


_verdicts: dict[tuple[str, str], dict] = {}  # (lab, student) -> {"seed", "verdicts"}, until the coordinator reads it


def verdicts_made(lab: str, student: str) -> dict:
    """What VerifyAnswers judged on `student`'s last grading of `lab` (read once): {"seed": the
    seed of their cases, "verdicts": grade id -> verdict}, or {} when it judged nothing."""
    return _verdicts.pop((lab, student), {})


def _is_failure(output: NotebookNode) -> bool:
    """Outputs that make nbgrader give a grade cell no points."""
    return output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr")


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def as_plain_text(output: NotebookNode) -> NotebookNode:
    """A failure output (an error, or text on stderr) as the same words on stdout."""
    if output.output_type == "error":
        lines = output.get("traceback") or [f"{output.get('ename', '')}: {output.get('evalue', '')}"]
        text = "\n".join(_ANSI.sub("", line) for line in lines)
    else:
        text = _ANSI.sub("", output.get("text", ""))
    return new_output("stream", name="stdout", text=text.rstrip("\n") + "\n")


_PASS = re.compile(r"all\s+tests\s+passed", re.I)  # what the public tests print (public_tests/*.py: PASSED)
_TAG = re.compile(r"<[^>]*>")


def _announces_pass(text: str) -> bool:
    return bool(_PASS.search(printable(_TAG.sub(" ", text))))


def without_pass(output: NotebookNode) -> NotebookNode | None:
    """`output` without what announces a pass: a stream loses those lines (None when nothing is
    left), any other output that shows it is dropped (None)."""
    if output.output_type == "stream":
        kept = [line for line in output.get("text", "").splitlines(keepends=True) if not _announces_pass(line)]
        return new_output("stream", name=output.name, text="".join(kept)) if kept else None
    if output.output_type == "error":
        texts = [output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]
    else:
        texts = [
            value
            for mime, value in output.get("data", {}).items()
            if mime.startswith("text/") and isinstance(value, str)
        ]
    return None if any(_announces_pass(text) for text in texts) else output


def record_verdict(cell: NotebookNode, function: str, problems: list[str]) -> None:
    """Put the grader's verdict on `function` into its grade cell's outputs.

    A failure appends an error output listing the problems (nbgrader gives the cell no points),
    after the notebook's own outputs without any that announce a pass (`without_pass`).
    A pass keeps every output the notebook's run left, but as plain text: an error or stderr
    output (the public test's failure, a kernel stopped by another answer) becomes the same
    words on stdout, so that it stays visible while nbgrader gives the points; a last line
    states the verdict and, when something failed above, that the points come from it.
    """
    if problems:
        cell.outputs = [kept for kept in map(without_pass, cell.outputs) if kept is not None]
        message = f"{function} is not correct yet:\n- " + "\n- ".join(problems)
        cell.outputs.append(
            new_output("error", ename="WrongAnswer", evalue=message, traceback=[f"WrongAnswer: {message}"])
        )
        return
    failed_above = any(_is_failure(output) for output in cell.outputs)
    cell.outputs = [as_plain_text(output) if _is_failure(output) else output for output in cell.outputs]
    verdict = f"{function}: verified by the grader in a separate process.\n"
    if failed_above:
        verdict = (
            f"{function}: verified by the grader in a separate process: every hidden check passed, "
            "so this exercise gets its points. The failure above happened in this notebook's own run "
            "of the cell; it is kept as text for you to read.\n"
        )
    cell.outputs.append(new_output("stream", name="stdout", text=verdict))


class VerifyAnswers(NbGraderPreprocessor, OwnTimeLimit):
    """Set each listed grade cell's outcome from an isolated run of the student's function."""

    timeout = Float(20.0, help="Seconds one exercise may take in its isolated run.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        hidden_tests()  # loaded now, before the pipeline runs any student's code

    def job(self, exercise: Exercise, answer_source: str, seed: int) -> VerdictJob:
        """The verdict run of `exercise` on `answer_source` and the cases of `seed`, with this grader's limits."""
        return verdict_job(exercise, answer_source, seed, self.timeout, self.stretch())

    def seed(self, lab: str, student: str) -> int:
        """The seed of `student`'s hidden cases in `lab`, from the course's secret."""
        records = Course(Path(CourseDirectory(config=self.config).root)).records
        return seed_for(course_secret(records), lab, student)

    def judged(self, nb: NotebookNode, lab: str) -> list[tuple[NotebookNode, Exercise, str]]:
        """Each grade cell this lab's hidden tests judge, its exercise, and the source of its answer cell."""
        module = hidden_tests().get(lab)
        if module is None:
            return []
        answers = {
            cell.metadata["nbgrader"]["grade_id"]: cell.source
            for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("solution")
        }
        return [
            (cell, exercise, answers.get(exercise.answer_cell, ""))
            for cell in nb.cells
            if cell.cell_type == "code"
            and (exercise := module.EXERCISES.get(cell.metadata.get("nbgrader", {}).get("grade_id"))) is not None
        ]

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        lab, student = resources["nbgrader"]["assignment"], resources["nbgrader"]["student"]
        sandbox, seed = Sandbox(config=self.config), self.seed(lab, student)
        made = _verdicts[(lab, student)] = {"seed": seed, "verdicts": {}}
        for cell, exercise, answer in self.judged(nb, lab):
            job = self.job(exercise, answer, seed)
            raw = prepared.verdict_answer(lab, student, job)
            if raw is None:  # no worker ran it: judge it here
                raw = run_verdict(job, sandbox)
            verdict = made["verdicts"][exercise.grade_id] = verdict_of(exercise, raw, seed)
            problems = verdict["problems"]
            record_verdict(cell, exercise.function, problems)
            if problems:
                self.log.info("%s: %s failed %d check(s)", student, exercise.function, len(problems))
        return nb, resources

"""Decide each graded function's points outside the student's kernel.

For every grade cell that the lab's hidden-test module lists in `EXERCISES`, the
exercise's own answer cell is executed in a fresh sandbox (`grading.isolated_call`)
and the function's results on the hidden cases are compared with the reference here, in
the grader. That verdict replaces whatever the kernel made of the grade cell: a pass
removes error and stderr outputs (left by a kernel that another answer crashed, say); a
failure keeps the kernel's outputs and appends an error output that tells the student
what was wrong. So a wrong function costs only its own points, and no trick played
inside the kernel can earn any.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float

import grading.hidden_tests
from grading.checks import Exercise, problems_with
from grading.isolated_call import IsolatedCallError, call_in_fresh_process
from grading.sandbox.launch import Sandbox


def load_hidden_tests() -> dict[str, ModuleType]:
    """Every lab's hidden-test module, with its cases built.

    Called when nbgrader loads its configuration, before any student's code runs, so that
    what a submission might write to disk cannot change the references it is judged by.
    """
    modules = {}
    for info in pkgutil.iter_modules(grading.hidden_tests.__path__):
        module = importlib.import_module(f"grading.hidden_tests.{info.name}")
        try:
            for exercise in module.EXERCISES.values():
                exercise.cases()
        except FileNotFoundError as error:
            raise RuntimeError(f"The hidden tests of {info.name} need {error.filename}: run 'make setup'.") from None
        modules[info.name] = module
    return modules


HIDDEN_TESTS = load_hidden_tests()


def problems_of(exercise: Exercise, answer_source: str, timeout: float, sandbox: Sandbox | None = None) -> list[str]:
    """What is wrong with the student's function, judged in a fresh sandbox (empty: nothing)."""
    try:
        results = call_in_fresh_process([answer_source], exercise.function, exercise.cases(),
                                        exercise.n_outputs, timeout, sandbox)
    except IsolatedCallError as error:
        return [f"{exercise.function} could not be tested: {error}"]
    return problems_with(exercise, results)


def _is_failure(output: NotebookNode) -> bool:
    """Outputs that make nbgrader give a grade cell no points."""
    return output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr")


class VerifyAnswers(NbGraderPreprocessor):
    """Set each listed grade cell's outcome from an isolated run of the student's function."""

    timeout = Float(20.0, help="Seconds one exercise may take in its isolated run.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        module = HIDDEN_TESTS.get(resources["nbgrader"]["assignment"])
        if module is None:
            return nb, resources
        sandbox = Sandbox(config=self.config)
        answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in nb.cells
                   if cell.metadata.get("nbgrader", {}).get("solution")}
        for cell in nb.cells:
            exercise = module.EXERCISES.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
            if exercise is None or cell.cell_type != "code":
                continue
            problems = problems_of(exercise, answers.get(exercise.answer_cell, ""), self.timeout, sandbox)
            if problems:
                message = f"{exercise.function} is not correct yet:\n- " + "\n- ".join(problems)
                cell.outputs.append(new_output("error", ename="WrongAnswer", evalue=message,
                                               traceback=[f"WrongAnswer: {message}"]))
                self.log.info("%s: %s failed %d check(s)", resources["nbgrader"]["student"],
                              exercise.function, len(problems))
            else:
                cell.outputs = [out for out in cell.outputs if not _is_failure(out)]
                cell.outputs.append(new_output(
                    "stream", name="stdout", text=f"{exercise.function}: verified by the grader in a separate process.\n"))
        return nb, resources

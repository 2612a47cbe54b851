"""What `ExecuteInSandbox` asks a sandbox to run and how it places what came back
(`grading.preprocessors.execute_in_sandbox`), on notebooks and results made here. Real runs in
sandboxes are tested in test_notebook_run.py, test_run_isolation.py and the class tests."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grading.execution.notebook_run import TimeLimits
from grading.execution.shared_cells import Plan
from grading.preprocessors.execute_in_sandbox import NOT_RUN, UNSAFE_NOTE, ExecuteInSandbox
from grading.reporting.incidents import incident
from grading.sandbox.launch import Sandbox
from grading.sandbox.protocol import OutputLimits


def notebook():
    cells = [
        new_markdown_cell("# A lab"),
        new_code_cell("import numpy as np"),
        new_code_cell("plot_data()"),
        new_code_cell("answer_test(answer)\n### BEGIN HIDDEN TESTS\ncheck(answer)\n### END HIDDEN TESTS"),
        new_code_cell("print('last')"),
    ]
    return new_notebook(cells=cells, metadata={"grading": {"ignored_cells": ["imports"], "mine": "forged"}})


def printed(text: str) -> dict:
    return {"outputs": [new_output("stream", name="stdout", text=text)], "execution_count": 1}


def test_the_request_holds_every_code_cell_but_those_left_out_without_hidden_tests_and_with_the_limits():
    execute = ExecuteInSandbox(timeout=4, load_allowance=2.5, max_output_chars=1234)
    request = execute.request(notebook(), left_out={2: printed("the master's figure")})
    assert [cell["index"] for cell in request["cells"]] == [1, 3, 4]
    assert request["cells"][1]["source"].strip() == "answer_test(answer)"
    assert (request["cell_timeout"], request["cell_stretch"], request["max_output_chars"]) == (4, 10.0, 1234)


def test_the_limits_given_to_the_run_are_the_configured_ones():
    execute = ExecuteInSandbox(timeout=4, responsive_wait=2, notebook_timeout=60, load_allowance=0)
    assert execute.time_limits() == TimeLimits(cell=4, responsive_wait=2, notebook=60, stretch=0.0)
    assert execute.output_limits() == OutputLimits()


def test_a_finished_run_puts_each_cells_outputs_and_the_masters_in_the_shared_cells_it_left_out():
    nb = notebook()
    result = {"cells": {1: printed("one"), 3: printed("three"), 4: printed("four")}, "stopped": False, "incidents": []}
    ExecuteInSandbox._place(nb, result, Sandbox(), Plan(left_out={2: printed("the master's figure")}))
    # (the first cell may also start with a note that this machine limits runs per process only)
    assert [cell.outputs[-1].text for cell in nb.cells[1:]] == ["one", "the master's figure", "three", "four"]


def test_after_a_stop_the_cells_never_reached_say_so_shared_ones_too():
    nb = notebook()
    died = new_output("error", ename="DeadKernelError", evalue="died", traceback=[])
    result = {
        "cells": {1: {"outputs": [died], "execution_count": None}},
        "stopped": True,
        "incidents": [incident("kernel_died", 1)],
    }
    ExecuteInSandbox._place(nb, result, Sandbox(), Plan(left_out={2: printed("the master's figure")}))
    assert nb.cells[1].outputs[-1] == died
    assert all(cell.outputs[0].evalue == NOT_RUN for cell in nb.cells[2:])


def test_the_notebooks_metadata_keeps_the_ignored_cells_and_the_runs_incidents_only():
    nb = notebook()
    result = {"cells": {}, "stopped": False, "incidents": [incident("output_truncated", 4)]}
    ExecuteInSandbox._place(nb, result, Sandbox(), Plan(ran_as_usual=[2]))
    assert nb.metadata["grading"] == {
        "ignored_cells": ["imports"],
        "incidents": [incident("output_truncated", 4), incident("shared_cell_ran", 2)],
    }


def test_a_run_without_a_sandbox_says_so_above_the_first_cells_outputs():
    nb = notebook()
    result = {"cells": {1: printed("one")}, "stopped": False, "incidents": []}
    ExecuteInSandbox._place(nb, result, Sandbox(unsafe_no_sandbox=True))
    assert [output.text for output in nb.cells[1].outputs] == [UNSAFE_NOTE, "one"]

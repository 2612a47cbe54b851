"""Run a student's graded function in a fresh Python process and bring back only numbers.

The notebook's kernel is under the student's control: code in an answer cell can patch
numpy, swallow exceptions or rewrite later cells. So the verdict of a graded function is
also computed here, where the student's code can affect nothing but its own return values:
the parent writes the test inputs as `.npz`, the child executes the answer cells, calls
the function and writes its results as `.npz`, and the parent loads them with
`allow_pickle=False`. No object made by student code ever reaches the grader.

Run as a child: ``python -m grading.isolated_call WORKDIR``.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from grading.checks import Case, Outputs, as_outputs, call_quietly

MEMORY_LIMIT_BYTES = 4 * 1024**3
ERROR_TEXT_LIMIT = 300


class IsolatedCallError(Exception):
    """The student's code could not be run at all (timeout, crash, function not defined)."""


def call_in_fresh_process(
    sources: Sequence[str], function: str, cases: Sequence[Case], n_outputs: int, timeout: float
) -> list[Outputs | str]:
    """Execute `sources` in a new interpreter and call `function` on every case.

    Returns, per case, the outputs as float arrays or a one-line description of the error
    the function raised. Raises IsolatedCallError when no case could be run.
    """
    with tempfile.TemporaryDirectory(prefix="isolated-call-") as workdir:
        work = Path(workdir)
        request = {"sources": list(sources), "function": function, "n_outputs": n_outputs,
                   "n_args": [len(case.args) for case in cases]}
        (work / "request.json").write_text(json.dumps(request))
        arrays = {f"case{i}_arg{j}": arg for i, case in enumerate(cases) for j, arg in enumerate(case.args)}
        np.savez(work / "inputs.npz", **arrays)
        _run_child(work, timeout)
        return _read_results(work, len(cases), n_outputs)


def _run_child(work: Path, timeout: float) -> None:
    stderr_path = work / "stderr.txt"
    with open(stderr_path, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "grading.isolated_call", str(work)],
            cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            env=_child_environment(), start_new_session=True, preexec_fn=_limit_memory,
        )
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise IsolatedCallError(f"did not finish within {timeout:g} seconds (an endless loop?)") from None
    if child.returncode != 0:
        tail = stderr_path.read_bytes()[-2000:].decode(errors="replace").strip().splitlines()
        detail = tail[-1][:ERROR_TEXT_LIMIT] if tail else f"exit code {child.returncode}"
        raise IsolatedCallError(f"the code stopped the Python process ({detail})")


def _child_environment() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(PYTHONPATH=root, MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _read_results(work: Path, n_cases: int, n_outputs: int) -> list[Outputs | str]:
    try:
        report = json.loads((work / "result.json").read_text())
        errors = {int(index): str(message)[:ERROR_TEXT_LIMIT] for index, message in report["errors"].items()}
        if report.get("missing"):
            raise IsolatedCallError(str(report["missing"])[:ERROR_TEXT_LIMIT])
        with np.load(work / "outputs.npz", allow_pickle=False) as saved:
            results: list[Outputs | str] = []
            for i in range(n_cases):
                if i in errors:
                    results.append(errors[i])
                else:
                    results.append(tuple(np.array(saved[f"case{i}_out{j}"], dtype=float) for j in range(n_outputs)))
            return results
    except IsolatedCallError:
        raise
    except Exception as error:
        raise IsolatedCallError(f"its results could not be read back ({type(error).__name__})") from None


# ---------------------------------------------------------------- the child's side


def _ipython_to_python(source: str) -> str:
    """Answer cells may hold IPython syntax (magics); turn it into plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


class _NoShell:
    """Stands in for `get_ipython()`: magics in answer cells do nothing here."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def _child_main(work: Path) -> int:
    request = json.loads((work / "request.json").read_text())
    namespace: dict = {"__name__": "__main__", "get_ipython": _NoShell}
    exec("import numpy as np", namespace)
    definition_errors = []
    for source in request["sources"]:
        try:
            exec(compile(_ipython_to_python(source), "<answer cell>", "exec"), namespace)
        except BaseException as error:  # one broken answer cell must not hide another
            definition_errors.append(f"{type(error).__name__}: {error}")
    report: dict = {"errors": {}, "missing": None}
    outputs: dict[str, np.ndarray] = {}
    function = namespace.get(request["function"])
    if not callable(function):
        reason = f"{request['function']} is not defined"
        if definition_errors:
            reason += f" (its cell raised {definition_errors[-1]})"
        report["missing"] = reason
    else:
        with np.load(work / "inputs.npz", allow_pickle=False) as inputs:
            for i, n_args in enumerate(request["n_args"]):
                args = [inputs[f"case{i}_arg{j}"] for j in range(n_args)]
                try:
                    values = as_outputs(call_quietly(function, args), request["n_outputs"])
                except BaseException as error:
                    report["errors"][i] = f"{type(error).__name__}: {error}"
                    continue
                outputs.update({f"case{i}_out{j}": value for j, value in enumerate(values)})
    np.savez(work / "outputs.npz", **outputs)
    (work / "result.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1])))

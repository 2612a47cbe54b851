"""Run a student's graded function in a fresh Python process and bring back only numbers.

The notebook's kernel is under the student's control: code in an answer cell can patch
numpy, swallow exceptions or rewrite later cells. So the verdict of a graded function is
also computed here, where the student's code can affect nothing but its own return values:
the parent writes the test inputs as `.npz`, the child executes the answer cells, calls
the function and writes its results as `.npz`, and the parent loads them with
`allow_pickle=False`. No object made by student code ever reaches the grader.

The child is `grading/isolated_child.py`, run from its text as read when this module was
imported (before any student's code ran) with ``python -I -S``: student code can import
numpy but not the kit, so it cannot borrow the grader's reference implementation.
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

from grading.checks import Case, Outputs
from grading.reaping import become_subreaper, descendants, kill_descendants

CHILD_PROGRAM = (Path(__file__).parent / "isolated_child.py").read_text()
# The environment's packages (numpy, IPython), but not the kit, which an editable install
# exposes through a .pth file that `python -S` does not read.
CHILD_PATH = json.dumps([entry for entry in sys.path if entry.rstrip("/").endswith("site-packages")])

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
        # Per case and argument: None for an array (or scalar), the item count for a list of arrays.
        arg_items = [[len(arg) if isinstance(arg, list) else None for arg in case.args] for case in cases]
        request = {"sources": list(sources), "function": function, "n_outputs": n_outputs,
                   "arg_items": arg_items}
        (work / "request.json").write_text(json.dumps(request))
        arrays = {}
        for i, case in enumerate(cases):
            for j, arg in enumerate(case.args):
                if isinstance(arg, list):
                    arrays.update({f"case{i}_arg{j}_item{k}": np.asarray(item) for k, item in enumerate(arg)})
                else:
                    arrays[f"case{i}_arg{j}"] = np.asarray(arg)
        np.savez(work / "inputs.npz", **arrays)
        _run_child(work, timeout)
        return _read_results(work, len(cases), n_outputs)


def _run_child(work: Path, timeout: float) -> None:
    stderr_path = work / "stderr.txt"
    become_subreaper()
    already_running = descendants()
    with open(stderr_path, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", CHILD_PROGRAM, str(work), CHILD_PATH],
            cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            env=_child_environment(), start_new_session=True, preexec_fn=_limit_memory,
        )
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise IsolatedCallError(f"did not finish within {timeout:g} seconds (an endless loop?)") from None
        finally:
            kill_descendants(keep=already_running)  # anything the student's code left running
    if child.returncode != 0:
        tail = stderr_path.read_bytes()[-2000:].decode(errors="replace").strip().splitlines()
        detail = tail[-1][:ERROR_TEXT_LIMIT] if tail else f"exit code {child.returncode}"
        raise IsolatedCallError(f"the code stopped the Python process ({detail})")


def _child_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
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

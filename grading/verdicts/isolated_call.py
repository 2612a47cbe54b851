"""Run a student's graded function in a sandbox and bring back only numbers.

The notebook's run is under the student's control: code in an answer cell can patch numpy,
swallow exceptions or rewrite later cells. So the verdict of a graded function is computed
from a separate run: the answer cells execute in a fresh sandbox
(`grading/sandbox/inside/verdict_runner.py`), the function is called on each hidden case's
arguments (the only part of the hidden tests that enters the sandbox), and the outputs come
back as `.npz` arrays whose headers are checked before they are read (`grading.sandbox.protocol`).
The reference they are compared with stays here, in the grader.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Sequence

import numpy as np

from grading.sandbox.inside.verdict_runner import CONTAINERS, VALUE_KINDS
from grading.sandbox.launch import HOME, Finished, Mounts, Sandbox
from grading.sandbox.protocol import ProtocolError, parse_json, read_arrays
from grading.sandbox.warm import MIN_EXTENSION, ColdRun, Run
from grading.verdicts.checks import Case, Outputs, Raised

ERROR_TEXT_LIMIT = 300
REPORT_BYTES = 1_000_000
MAX_OUTPUT_NUMBERS = 2_000_000  # what a lab's hidden cases return is far smaller
VERDICT_WORK = f"{HOME}/verdict"


class IsolatedCallError(Exception):
    """The student's code could not be run at all (timeout, crash, function not defined)."""


def _inputs(cases: Sequence[Case]) -> tuple[list, bytes]:
    """Per case and argument: None for an array (or scalar), the item count for a list of arrays; and the `.npz`."""
    arg_items = [[len(arg) if isinstance(arg, list) else None for arg in case.args] for case in cases]
    arrays = {}
    for i, case in enumerate(cases):
        for j, arg in enumerate(case.args):
            if isinstance(arg, list):
                arrays.update({f"case{i}_arg{j}_item{k}": np.asarray(item) for k, item in enumerate(arg)})
            else:
                arrays[f"case{i}_arg{j}"] = np.asarray(arg)
    saved = io.BytesIO()
    np.savez(saved, **arrays)
    return arg_items, saved.getvalue()


def verdict_payload(sources: Sequence[str], function: str, cases: Sequence[Case], n_outputs: int) -> bytes:
    """What the verdict runner reads: one JSON line, then the cases' arguments as `.npz` bytes."""
    arg_items, inputs = _inputs(cases)
    request = {
        "sources": list(sources),
        "function": function,
        "n_outputs": n_outputs,
        "arg_items": arg_items,
        "inputs_bytes": len(inputs),
    }
    return json.dumps(request).encode() + b"\n" + inputs


def receive_verdict(run: Run, timeout: float, stretch: float = 0.0) -> dict:
    """Read a verdict run's report and arrays with limits: {"report": ..., "arrays": bytes}, or
    {"error": what went wrong}. Plain data, checked again by `verdict_results`. The run is stopped
    after `timeout` seconds of its own time (`wait_in_own_time`)."""
    received: dict = {}
    reader = threading.Thread(target=_receive, args=(run, received), daemon=True)
    reader.start()
    finished = wait_in_own_time(run, timeout, stretch)
    reader.join(timeout=5)
    if finished.timed_out:
        return {"error": f"did not finish within {timeout:g} seconds (an endless loop?)"}
    if "error" in received:
        return {"error": received["error"]}
    if "report" not in received:
        detail = finished.reason(otherwise=f"exit code {finished.returncode}")
        return {"error": f"the code stopped the Python process ({detail})"}
    return {"report": received["report"], "arrays": received["arrays"]}


def wait_in_own_time(run: Run, timeout: float, stretch: float) -> Finished:
    """The run's end, or its stop after `timeout` seconds of its own time: the wall clock, less the
    time it waited for a CPU held by other work (a busy grader), up to `stretch` seconds more."""
    since, granted = run.waited(), 0.0
    deadline = time.monotonic() + timeout
    while not run.ended(max(0.0, deadline - time.monotonic())):
        extra = max(0.0, min(run.waited() - since, stretch) - granted)
        if extra < MIN_EXTENSION:
            break
        granted, deadline = granted + extra, deadline + extra
    return run.wait(timeout=0)


def verdict_results(raw: dict, n_cases: int, n_outputs: int) -> list[Outputs | str]:
    """Per case, the outputs or the error raised, from what `receive_verdict` read; raises
    IsolatedCallError when no case could be run."""
    if not isinstance(raw, dict):
        raise IsolatedCallError("its results could not be read back (malformed)")
    if "error" in raw:
        raise IsolatedCallError(str(raw["error"])[:ERROR_TEXT_LIMIT])
    report, arrays = raw.get("report"), raw.get("arrays")
    if not isinstance(report, dict) or not isinstance(arrays, bytes):
        raise IsolatedCallError("its results could not be read back (malformed)")
    return _results(report, arrays, n_cases, n_outputs)


def call_in_fresh_process(
    sources: Sequence[str],
    function: str,
    cases: Sequence[Case],
    n_outputs: int,
    timeout: float,
    sandbox: Sandbox | None = None,
    stretch: float = 0.0,
) -> list[Outputs | str]:
    """Execute `sources` in a new sandbox and call `function` on every case.

    Returns, per case, the outputs (`Outputs`: arrays that keep the dtype they were returned
    with, and the Python types of the result) or the error the function raised (`Raised`: a
    one-line description, and the names of its classes). Raises IsolatedCallError when no case
    could be run. The run is stopped after `timeout` seconds of its own time (`wait_in_own_time`).
    """
    payload = verdict_payload(sources, function, cases, n_outputs)
    run = ColdRun(sandbox or Sandbox(), Mounts(work=VERDICT_WORK), "verdict", payload, {})
    try:
        raw = receive_verdict(run, timeout, stretch)
    finally:
        run.close()
    return verdict_results(raw, len(cases), n_outputs)


def _receive(run: Run, received: dict) -> None:
    """Read the run's report line and arrays, with limits, into `received`."""
    try:
        line = run.stdout.readline(REPORT_BYTES + 1)
        if not line:
            return
        if len(line) > REPORT_BYTES:
            raise ProtocolError("its report is too large")
        report = parse_json(line, max_depth=5)
        size = report.get("arrays_bytes") if isinstance(report, dict) else None
        if not isinstance(size, int) or not 0 <= size <= MAX_OUTPUT_NUMBERS * 8 + 1_000_000:
            raise ProtocolError("its report does not say how large its results are")
        data = run.stdout.read(size)
        if len(data) != size:
            raise ProtocolError("its results were cut short")
        received["report"], received["arrays"] = report, data
    except (ProtocolError, OSError, ValueError) as error:
        received["error"] = f"its results could not be read back ({error})"


def _results(report: dict, data: bytes, n_cases: int, n_outputs: int) -> list[Outputs | str]:
    """Each case's outputs (arrays with the dtype they were returned with, and the Python types
    the run reported in the runner's own words), or the error it raised (its text, and the
    names of its classes: a short list of short strings)."""

    def names(raw: object) -> tuple[str, ...]:
        if not isinstance(raw, list) or len(raw) > 64 or not all(isinstance(n, str) and len(n) <= 200 for n in raw):
            raise ProtocolError("malformed error classes")
        return tuple(raw)

    def kinds(raw: object) -> list[str]:
        if (
            not isinstance(raw, list)
            or len(raw) != n_outputs + 1
            or raw[0] not in CONTAINERS
            or not all(kind in VALUE_KINDS for kind in raw[1:])
        ):
            raise ProtocolError("malformed types")
        return raw

    try:
        if report.get("missing"):
            raise IsolatedCallError(str(report["missing"])[:ERROR_TEXT_LIMIT])
        raw_errors, raw_classes, raw_types = (report.get(key, {}) for key in ("errors", "error_classes", "types"))
        if not all(isinstance(raw, dict) for raw in (raw_errors, raw_classes, raw_types)):
            raise ProtocolError("malformed report")
        errors = {int(index): str(message)[:ERROR_TEXT_LIMIT] for index, message in raw_errors.items()}
        classes = {int(index): names(raw) for index, raw in raw_classes.items()}
        types = {int(index): kinds(raw) for index, raw in raw_types.items()}
        saved = read_arrays(data, max_elements=MAX_OUTPUT_NUMBERS)
        results: list[Outputs | str] = []
        for i in range(n_cases):
            if i in errors:
                results.append(Raised(errors[i], classes.get(i, ())))
            else:
                arrays = (saved[f"case{i}_out{j}"] for j in range(n_outputs))
                container, *value_kinds = types[i]
                results.append(Outputs((a.astype(a.dtype.newbyteorder("=")) for a in arrays), container, value_kinds))
        return results
    except IsolatedCallError:
        raise
    except (ProtocolError, KeyError, ValueError, TypeError) as error:
        raise IsolatedCallError(f"its results could not be read back ({type(error).__name__})") from None

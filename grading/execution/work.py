"""What crosses between the coordinator and the workers: plain data with a schema and size limits.

`StudentWork` is what a worker needs to run one student's submission: where the lab's release
lies, the sandbox settings, the notebook's cells (without the hidden tests) and one payload per
graded function. A worker answers with a plain dict (`perform` in `grading.execution.worker`):

    {"student": str, "notebook": {"cells": {"<index>": {"outputs": [...], "execution_count": n}},
                                  "stopped": bool, "incidents": [{"kind": str, "cell": n}, ...]},
     "verdicts": {"<function>": {"report": {...}, "arrays": bytes} | {"error": str}},
     "seconds": float, "worker": str}

The coordinator trusts none of it more than it trusts a sandbox's own output: `checked_result`
checks its shape and sizes and cleans the outputs again before nbgrader sees them. Nothing is
pickled by the kit; over a cluster, these dicts travel as Dask sends plain data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from grading.reporting.incidents import valid_incidents
from grading.sandbox.protocol import OutputBudget, OutputLimits, ProtocolError, clean_outputs

MAX_VERDICT_BYTES = 40_000_000  # a verdict's report and arrays (see grading.verdicts.isolated_call)
MAX_CELLS = 10_000


class WorkError(Exception):
    """A worker's answer does not have the shape of a result; the message says what is wrong."""


@dataclass(frozen=True)
class VerdictJob:
    function: str
    sources: tuple[str, ...]  # the answer cells executed before the call
    payload: bytes  # what the verdict runner reads (grading.verdicts.isolated_call.verdict_payload)
    timeout: float
    stretch: float = 0.0  # seconds more while the run waits for a CPU held by other work


@dataclass(frozen=True)
class StudentWork:
    lab: str
    student: str
    release: str  # the lab's release folder (read-only in the sandbox)
    cache: str  # the course's cache folder (read-only in the sandbox)
    notebook: dict  # the notebook runner's request: {"cells": [...], "cell_timeout", ...}
    times: dict  # grading.execution.notebook_run.TimeLimits as a dict
    limits: dict  # grading.sandbox.protocol.OutputLimits as a dict
    sandbox: dict  # grading.sandbox.launch.Sandbox settings
    verdicts: tuple[VerdictJob, ...] = field(default_factory=tuple)

    def to_wire(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, wire: dict) -> StudentWork:
        verdicts = tuple(
            VerdictJob(job["function"], tuple(job["sources"]), job["payload"], float(job["timeout"]))
            for job in wire["verdicts"]
        )
        return cls(**{**wire, "verdicts": verdicts})


def roomy(limits: OutputLimits) -> OutputLimits:
    """The limits with room for the notes a worker adds (truncation, time limits): the worker has
    applied the real limits; the coordinator's second cleaning only bounds and sanitises."""
    return dataclasses.replace(
        limits,
        text_chars_per_cell=limits.text_chars_per_cell * 2 + 10_000,
        image_bytes_per_cell=limits.image_bytes_per_cell * 2,
        notebook_bytes=limits.notebook_bytes * 2 + 100_000,
    )


def checked_notebook(raw: object, limits: OutputLimits) -> dict:
    """A notebook run's result, its outputs cleaned again and its incidents checked (none when
    missing); raises WorkError when malformed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), dict) or not isinstance(raw.get("stopped"), bool):
        raise WorkError("the notebook's result is not {cells, stopped}")
    if len(raw["cells"]) > MAX_CELLS:
        raise WorkError("the notebook's result has too many cells")
    budget = OutputBudget(roomy(limits))
    cells = {}
    for index, entry in sorted(raw["cells"].items(), key=lambda item: int(item[0]) if str(item[0]).isdigit() else -1):
        if not str(index).isdigit() or not isinstance(entry, dict):
            raise WorkError("a cell of the notebook's result is malformed")
        count = entry.get("execution_count")
        try:
            outputs = clean_outputs(entry.get("outputs"), budget)
        except ProtocolError as error:
            raise WorkError(f"a cell's outputs are malformed ({error})") from None
        cells[int(index)] = {"outputs": outputs, "execution_count": count if isinstance(count, int) else None}
    return {"cells": cells, "stopped": raw["stopped"], "incidents": valid_incidents(raw.get("incidents", []))}


def checked_verdict(raw: object) -> dict:
    """A verdict run's raw result ({"report", "arrays"} or {"error"}), its shape and size checked."""
    if isinstance(raw, dict) and set(raw) == {"error"} and isinstance(raw["error"], str):
        return {"error": raw["error"][:1000]}
    if (
        isinstance(raw, dict)
        and set(raw) == {"report", "arrays"}
        and isinstance(raw["report"], dict)
        and isinstance(raw["arrays"], bytes)
        and len(raw["arrays"]) <= MAX_VERDICT_BYTES
    ):
        return raw
    raise WorkError("a verdict's result is malformed")


def checked_result(raw: object, work: StudentWork) -> dict:
    """A worker's answer for `work`, checked: {"notebook": ..., "verdicts": {...}, "seconds", "worker"}."""
    if not isinstance(raw, dict) or raw.get("student") != work.student:
        raise WorkError(f"the answer for {work.student} is not theirs")
    verdicts = raw.get("verdicts")
    if not isinstance(verdicts, dict) or set(verdicts) != {job.function for job in work.verdicts}:
        raise WorkError("the answer does not hold a verdict per graded function")
    seconds = raw.get("seconds")
    return {
        "notebook": checked_notebook(raw.get("notebook"), OutputLimits(**work.limits)),
        "verdicts": {function: checked_verdict(value) for function, value in verdicts.items()},
        "seconds": float(seconds) if isinstance(seconds, (int, float)) else 0.0,
        "worker": str(raw.get("worker", "?"))[:200],
    }

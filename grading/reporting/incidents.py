"""What went wrong in a notebook's run, as the grader itself saw it: the kinds of incident and
the sentence an instructor reads for each.

An error output's name and message are the student's to choose: code can raise a class named
`DeadKernelError`, or print what looks like the grader's notes. So the notes of a submission
never come from its outputs. The grader records an incident where it stops, interrupts or cuts
the run itself, or sees it die or reach a limit (`grading.execution.notebook_run`,
`grading.sandbox.launch.Finished.kind`): a kind from this vocabulary and the index of the cell,
nothing else. The run's result carries them as `"incidents": [{"kind", "cell"}, ...]`, checked
with `valid_incidents` wherever they cross a boundary (a worker's answer, the graded notebook's
metadata), and `notes` turns them into the sentences of the class's report.
"""

from __future__ import annotations

from dataclasses import dataclass

from grading.reporting.results import Note


@dataclass(frozen=True)
class Kind:
    sentence: str  # what the instructor reads among the student's notes
    family: str  # the class report's word for it


KINDS = {
    "kernel_died": Kind("the kernel died", "crashed"),
    "crashed": Kind("the code crashed Python (segmentation fault)", "crashed"),
    "memory_limit": Kind("hit the memory limit", "hit a limit"),
    "process_limit": Kind("hit the process limit", "hit a limit"),
    "cpu_limit": Kind("used up its CPU time limit", "hit a limit"),
    "file_size_limit": Kind("wrote a file larger than the file-size limit", "hit a limit"),
    "disk_full": Kind("filled its private disk space", "hit a limit"),
    "cell_timeout": Kind("a cell ran past the time limit and was interrupted", "timed out"),
    "kernel_stopped": Kind(
        "a cell ran past the time limit and ignored the interrupt; the kernel was stopped", "timed out"
    ),
    "notebook_timeout": Kind("the notebook ran past its time limit and was stopped", "timed out"),
    "output_limit": Kind("its output broke the output rules and the kernel was stopped", "hit a limit"),
    "output_truncated": Kind("output was truncated (a cell printed too much)", "hit a limit"),
    "protocol_violation": Kind(
        "its code wrote to the grader's channel out of turn; the kernel was stopped", "broke the protocol"
    ),
    "shared_cell_ran": Kind("a shared cell used the student's names and ran with their code", "ran shared cells"),
}
SUPERSEDES = {"kernel_stopped": "cell_timeout"}  # the stop says more than the interrupt before it
MAX_INCIDENTS = 100


def incident(kind: str, cell: int | None) -> dict:
    """One incident as the run's result holds it."""
    if kind not in KINDS:
        raise ValueError(f"unknown incident kind {kind!r}")
    return {"kind": kind, "cell": cell}


def valid_incidents(raw: object) -> list[dict]:
    """The incidents of `raw` that are well formed (a known kind; a cell index or None), at most MAX_INCIDENTS."""
    if not isinstance(raw, list):
        return []
    kept = []
    for item in raw:
        if len(kept) == MAX_INCIDENTS:
            break
        if isinstance(item, dict) and isinstance(item.get("kind"), str) and item["kind"] in KINDS:
            cell = item.get("cell")
            kept.append({"kind": item["kind"], "cell": cell if type(cell) is int and cell >= 0 else None})
    return kept


def notes(raw: object) -> list[Note]:
    """The notes of the incidents, each once, in the order they happened."""
    kinds = [item["kind"] for item in valid_incidents(raw)]
    kinds = [kind for kind in kinds if not any(SUPERSEDES.get(other) == kind for other in kinds)]
    return [Note(KINDS[kind].family, KINDS[kind].sentence) for kind in dict.fromkeys(kinds)]

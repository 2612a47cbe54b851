"""How long each lab's master notebook takes to run, as a student runs it, cell by cell.

Each master runs twice in a fresh kernel: first with an empty cache (the time-series lab trains
its network), then again (the network comes from the cache). Prints the total and the cells
that took longest. Run from the kit's root:

    .venv/bin/python benchmarks/notebook_speed.py
"""

from __future__ import annotations

import os
import tempfile
import time

import nbformat
from nbclient import NotebookClient

from grading.course import Course

SLOWEST = 4


def run_once(lab: str) -> tuple[float, list[tuple[float, str]]]:
    """Total seconds (kernel start included) and each code cell's seconds."""
    path = Course().solutions / lab / f"{lab}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.parent)}},
    )
    cells = []
    started = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                before = time.perf_counter()
                client.execute_cell(cell, index)
                cells.append((time.perf_counter() - before, cell.metadata["nbgrader"]["grade_id"]))
    return time.perf_counter() - started, cells


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="notebook-cache-") as cache:
        os.environ["COURSE_KIT_CACHE_DIR"] = cache  # the kernels inherit it
        for lab in Course().labs():
            for run in ("empty cache", "warm cache"):
                total, cells = run_once(lab)
                slowest = ", ".join(
                    f"{name} {seconds:.1f} s" for seconds, name in sorted(cells, reverse=True)[:SLOWEST]
                )
                print(f"{lab} ({run}): {total:.1f} s in all; slowest cells: {slowest}")


if __name__ == "__main__":
    main()

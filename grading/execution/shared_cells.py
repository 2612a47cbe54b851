"""Cells whose outputs are the same for every student: run once per lab, in the master's run.

A lab's author may mark a read-only code cell as shared (cell metadata `"grading": {"shared":
true}` in the master; the release carries it, and the graded notebook's metadata is always the
release's, never the student's). Such a cell draws a figure or a table from the lab's own data
and tools, whatever the student answered; running it again for every student costs time and
proves nothing. So the master's sandboxed run keeps its outputs (`save`, beside the lab's
cache), and a student's run leaves out each marked cell that it can do without (`plan`):

- a marked cell that uses a name the student's code binds (an answer cell's function or
  variable, or a name bound by a later cell from one of those) is run as usual, and the class
  report says so: the student's own outputs are never replaced;
- a marked cell whose names a later cell that runs needs is run as usual too;
- a marked cell for which the master's run left no clean outputs (an error, another source) is
  run as usual.

The analysis is of names, read from each cell's code with Python's parser: what a cell binds
(assignments, definitions, imports, `global`, an item or attribute set on a name) and what it
reads. It cannot see a student's function change an array in place that a shared cell then
draws; such a change costs nothing but the fidelity of that student's picture, and never points.
"""

from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from grading.cells import grade_id, is_answer, is_shared
from grading.sandbox.protocol import OutputLimits

MAX_SHARED_BYTES = OutputLimits.notebook_bytes  # the master's outputs of a lab's shared cells, as stored


# ---------------------------------------------------------------------------------------------
# Names a cell binds and reads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    binds: frozenset[str]  # bound otherwise than by an import statement
    reads: frozenset[str]
    imports: tuple[tuple[str, str], ...] = ()  # (import statement as written, a name it binds)
    known: bool = True  # False when the cell does not parse: it may bind and read anything

    def all_binds(self) -> frozenset[str]:
        return self.binds | {name for _, name in self.imports}


UNKNOWN = Names(frozenset(), frozenset(), known=False)


def _python(source: str) -> str:
    """The cell's code as Python (IPython's magics and shell escapes turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _base_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


@functools.lru_cache(maxsize=1024)
def names_of(source: str) -> Names:
    """What the cell binds and reads, over-approximated (every scope of it counts as the cell's).

    Kept per source: the locked cells are the same for every student, and parsing them was most
    of the plan's time."""
    try:
        tree = ast.parse(_python(source))
    except (SyntaxError, ValueError):
        return UNKNOWN
    binds, reads, imports = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (reads if isinstance(node.ctx, ast.Load) else binds).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            binds.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.update((ast.unparse(node), (alias.asname or alias.name).split(".")[0]) for alias in node.names)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
            name = _base_name(node)
            if name:
                binds.add(name)
    return Names(frozenset(binds), frozenset(reads), tuple(sorted(imports)))


def student_binds(names: Names, read_only_imports: frozenset[str]) -> frozenset[str]:
    """The names an answer cell binds to objects of the student's: all it binds, but for imports
    written exactly as a read-only cell wrote them (`import numpy as np` in the stub)."""
    return names.binds | {name for statement, name in names.imports if statement not in read_only_imports}


# ---------------------------------------------------------------------------------------------
# Which marked cells a student's run leaves out
# ---------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """Of a notebook's code cells (by index among all cells): those left out of the run, each with
    the master's outputs to show, and the marked cells that run as usual because they use the
    student's names."""

    left_out: dict[int, dict] = field(default_factory=dict)
    ran_as_usual: list[int] = field(default_factory=list)


def plan(nb: NotebookNode, master_outputs: dict[str, dict]) -> Plan:
    """The plan for the (sanitised) notebook `nb`, given the master's outputs of the lab's shared
    cells ({grade id: {"source", "outputs", "execution_count"}})."""
    cells = [(index, cell) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    if not any(is_shared(cell) for _, cell in cells):
        return Plan()
    names = {index: names_of(cell.source) for index, cell in cells}
    read_only_imports = frozenset(
        statement for index, cell in cells if not is_answer(cell) for statement, _ in names[index].imports
    )
    tainted: set[str] = set()
    candidates: list[int] = []
    result = Plan()
    for index, cell in cells:
        cell_names = names[index]
        if is_answer(cell):
            if not cell_names.known:
                tainted.add("*")
            tainted |= student_binds(cell_names, read_only_imports)
            continue
        uses_student = "*" in tainted or not cell_names.known or not tainted.isdisjoint(cell_names.reads)
        if is_shared(cell):
            entry = master_outputs.get(grade_id(cell) or "")
            if uses_student:
                result.ran_as_usual.append(index)
            elif entry is not None and entry.get("source") == cell.source:
                candidates.append(index)
                continue
        if uses_student:
            tainted |= cell_names.all_binds()
    needed = _needed_later(cells, names, set(candidates))
    for index in candidates:
        if index in needed:
            continue
        entry = master_outputs[grade_id(nb.cells[index])]
        result.left_out[index] = {"outputs": entry["outputs"], "execution_count": entry.get("execution_count")}
    return result


def _needed_later(cells: list, names: dict[int, Names], candidates: set[int]) -> set[int]:
    """The candidates that bind a name read by a later cell that runs (repeated until nothing changes)."""
    needed: set[int] = set()
    while True:
        runs = [index for index, _ in cells if index not in candidates or index in needed]
        more = {
            candidate
            for candidate in candidates - needed
            if any(
                later > candidate
                and (not names[later].known or not names[candidate].all_binds().isdisjoint(names[later].reads))
                for later in runs
            )
        }
        if not more:
            return needed
        needed |= more


# ---------------------------------------------------------------------------------------------
# The master's outputs, kept beside the lab's cache
# ---------------------------------------------------------------------------------------------


def outputs_file(cache: Path, lab: str) -> Path:
    return cache / "shared-cells" / f"{lab}.json"


def master_outputs(master: NotebookNode) -> dict[str, dict]:
    """The outputs of the master's shared cells after its run: only cells that ran cleanly (no error)."""
    kept = {}
    for cell in master.cells:
        if not is_shared(cell) or not grade_id(cell) or cell.get("execution_count") is None:
            continue
        if any(output.get("output_type") == "error" for output in cell.outputs):
            continue
        kept[grade_id(cell)] = {"source": cell.source, "outputs": cell.outputs, "execution_count": cell.execution_count}
    return kept


def save(cache: Path, lab: str, outputs: dict[str, dict]) -> None:
    target = outputs_file(cache, lab)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(outputs))
    partial.replace(target)


def load(cache: Path, lab: str) -> dict[str, dict]:
    """The master's outputs of the lab's shared cells, or {} when there are none (every cell runs).
    Read once per version of the file: every student's two passes ask for it. Not to be changed."""
    path = outputs_file(cache, lab)
    try:
        info = path.stat()
    except OSError:
        return {}
    return _read(str(path), info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int, size: int) -> dict[str, dict]:
    if size > MAX_SHARED_BYTES:
        return {}
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {
        cell_id: entry
        for cell_id, entry in raw.items()
        if isinstance(entry, dict) and isinstance(entry.get("source"), str) and isinstance(entry.get("outputs"), list)
    }

"""The package's layout shows a class's grading stage by stage (docs/architecture.md): the front
ends (`cli`, `student`, `sample_class`) import the stages, the stages import the core modules
(`course`, `errors`, `cells`, `text`, ...), and nothing imports back up that chain."""

from __future__ import annotations

import ast
from pathlib import Path

from grading.course import KIT_ROOT

PACKAGE = KIT_ROOT / "grading"
FRONT_ENDS = {"grading.cli", "grading.__main__", "grading.student", "grading.sample_class", "grading.new_lab"}
# The hub's package is a front end as a whole: its grading service runs the coordinator.
FRONT_END_PACKAGES = ("grading.hub", "grading.mutation")
# Each stage may import the stages listed after it, never one before it (nor a front end).
STAGES = [
    "grading.classwork",
    "grading.preprocessors",
    "grading.execution",
    "grading.verdicts",
    "grading.reporting",
    "grading.sandbox",
]


def is_front_end(module: str) -> bool:
    return module in FRONT_ENDS or any(module == p or module.startswith(p + ".") for p in FRONT_END_PACKAGES)


def module_name(path: Path) -> str:
    parts = path.relative_to(KIT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each module of the package -> the kit's modules or packages it imports. Corpus entries and the
    new-lab templates are left out: they are not the kit's modules (a scaffolded lab's hidden tests
    become a module of verdicts/, where importing verdicts.checks goes down the chain)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "corpus" in path.parts or path.is_relative_to(PACKAGE / "new_lab" / "template"):
            continue
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grading"):
                names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names if alias.name.startswith("grading")}
        found[module_name(path)] = names
    return found


def stage_of(module: str) -> str | None:
    return next((stage for stage in STAGES if module == stage or module.startswith(stage + ".")), None)


def backward_imports(found: dict[str, set[str]]) -> list[str]:
    """Imports that go back up the chain: a stage importing an earlier stage or a front end, or a
    core module importing a stage or a front end."""
    backwards = []
    for module, names in found.items():
        if is_front_end(module) or module == "grading":
            continue
        stage = stage_of(module)
        for name in names:
            other = stage_of(name)
            if is_front_end(name) or (
                other is not None and (stage is None or STAGES.index(other) < STAGES.index(stage))
            ):
                backwards.append(f"{module} imports {name}")
    return backwards


def test_no_module_imports_back_up_the_chain():
    found = imports()
    assert {"grading.course", "grading.errors", "grading.cells", "grading.text"} <= set(found)
    assert all(any(stage_of(module) == stage for module in found) for stage in STAGES)
    assert backward_imports(found) == []


def test_an_import_back_up_the_chain_is_found():
    assert backward_imports(
        {
            "grading.sandbox.launch": {"grading.reporting.results"},
            "grading.course": {"grading.classwork.journal"},
            "grading.verdicts.checks": {"grading.cli"},
            "grading.reporting.report": {"grading.hub.service"},
            "grading.classwork.journal": {"grading.reporting.results", "grading.course"},
        }
    ) == [
        "grading.sandbox.launch imports grading.reporting.results",
        "grading.course imports grading.classwork.journal",
        "grading.verdicts.checks imports grading.cli",
        "grading.reporting.report imports grading.hub.service",
    ]

"""Fixtures and helpers shared by the test suite, one section per concern."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# Repository
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The root of the course kit's checkout."""
    return REPO_ROOT


# ---------------------------------------------------------------------------------------------
# Lab modules (the utils.py and public_tests.py that a lab's notebook imports)
# ---------------------------------------------------------------------------------------------

LAB_MODULE_NAMES = ("utils", "public_tests")


def _forget_lab_modules() -> None:
    for name in LAB_MODULE_NAMES:
        sys.modules.pop(name, None)


def import_lab_module(lab: str, name: str) -> ModuleType:
    """Import solutions/<lab>/<name>.py as the lab's notebook does, with its folder first on sys.path.

    The lab modules' names are the same in every lab, so they are dropped from sys.modules
    before and after: each call gives a fresh module, and labs do not see each other's.
    """
    folder = REPO_ROOT / "solutions" / lab
    if not (folder / f"{name}.py").is_file():
        raise FileNotFoundError(f"{folder / name}.py not found: is {lab!r} a lab folder of solutions/?")
    _forget_lab_modules()
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
        _forget_lab_modules()


@pytest.fixture
def anomaly_lab() -> SimpleNamespace:
    """Fresh imports of the anomaly-detection lab's `utils` and `public_tests`."""
    return SimpleNamespace(
        utils=import_lab_module("anomaly_detection", "utils"),
        public_tests=import_lab_module("anomaly_detection", "public_tests"),
    )

"""The kit's Python environment as set-up leaves it: sandboxes mount it read-only, so what Python
would write there on first use (bytecode) must already be there."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest


@pytest.mark.parametrize("name", ["numpy", "matplotlib", "matplotlib.pyplot", "scipy.stats", "sklearn.base"])
def test_the_packages_a_notebook_imports_have_their_bytecode_in_the_environment(name):
    """Without it, every sandboxed run compiles them again (seconds per run: a notebook's first cell
    then runs past a tight limit). `make setup` compiles them, with uv as with pip."""
    source = Path(importlib.import_module(name).__file__)
    assert Path(importlib.util.cache_from_source(str(source))).is_file(), f"{source} has no bytecode: make setup"

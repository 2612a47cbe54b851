"""`make bench`'s class benchmark, on a class of three: it runs to its end and prints the figures
the README quotes (seconds per submission beside stock nbgrader's, agreement with stock per
cell, the coordinator's CPU beside the runs'). The figures themselves are the machine's; only
their presence and the agreement are checked."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from grading.course import KIT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def printed() -> str:
    done = subprocess.run(
        [sys.executable, "benchmarks/class_speed.py", "--quick", "--only", "stock", "--only", "kit"],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def rows(printed: str, label: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in printed.splitlines() if line.strip().startswith(label)]


def test_the_class_benchmark_grades_with_stock_nbgrader_and_the_kit_and_they_agree_per_cell(printed):
    assert len(rows(printed, "stock nbgrader")) == 1
    kit = rows(printed, "kit, ")
    assert len(kit) == 1  # --quick: every worker only
    assert all(row[-1] == "0" for row in kit)  # students whose per-cell scores differ from stock's
    assert all(re.fullmatch(r"\d+\.\d+x", row[3]) for row in kit)  # speed-up over stock


def test_the_class_benchmark_prints_the_coordinators_cpu_beside_the_runs(printed):
    for row in rows(printed, "kit, "):
        coordinator, runs, share = float(row[6]), float(row[7]), row[8]
        assert 0 < coordinator and 0 < runs
        assert abs(float(share.rstrip("%")) - 100 * coordinator / runs) < 1  # from totals, not rounded figures

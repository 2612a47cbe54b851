"""The README's `make` commands on a machine without bubblewrap, where set-up cannot install it
(not root, or no apt-get): simulated by a PATH that holds every command of this machine but those
two. Set-up finishes and says what is missing, the tests that need a sandbox are skipped saying
why while the others run, and the demo says in one line how to get a sandbox or go without."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from grading.course import KIT_ROOT

pytestmark = pytest.mark.slow  # runs make setup, demo and test

HIDDEN = {"bwrap", "apt-get"}
INSTALL = "apt-get install bubblewrap (Debian/Ubuntu) or dnf install bubblewrap (Fedora)"


@pytest.fixture(scope="module")
def without_bubblewrap(tmp_path_factory) -> dict[str, str]:
    """An environment whose PATH reaches every command here but bwrap and apt-get."""
    commands = tmp_path_factory.mktemp("path-without-bwrap")
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder) or folder == os.path.dirname(sys.executable):
            continue  # the Makefile puts the kit's environment first itself
        for name in os.listdir(folder):
            target = os.path.join(folder, name)
            if name not in HIDDEN and os.access(target, os.X_OK) and not (commands / name).exists():
                (commands / name).symlink_to(target)
    return {**os.environ, "PATH": str(commands), "MAKEFLAGS": ""}


def make(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=KIT_ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_setup_finishes_and_says_grading_needs_bubblewrap_and_how_to_get_it(without_bubblewrap):
    done = make(without_bubblewrap, "setup")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"setup: bubblewrap (bwrap) is missing; grading needs it: {INSTALL}" in lines
    assert lines[-1].endswith("bubblewrap missing (no grading; the tests that need it are skipped)")


def test_demo_says_in_one_line_how_to_get_a_sandbox_or_run_without_one(without_bubblewrap):
    done = make(without_bubblewrap, "demo")
    assert done.returncode != 0
    said = [line for line in done.stdout.splitlines() if line.startswith("demo:")]
    assert said == [
        "demo: grading runs each submission in a bubblewrap sandbox and bwrap is missing: "
        f"{INSTALL}; or run the demo without one: make demo UNSAFE=1"
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_the_tests_that_need_a_sandbox_are_skipped_saying_why_and_the_others_run(without_bubblewrap):
    done = make(
        without_bubblewrap, "test", "ARGS=tests/test_warm_sandbox.py tests/test_protocol.py -q -rs -p no:cacheprovider"
    )
    assert done.returncode == 0, done.stdout[-3000:]
    # Two passes, the fast tier first: the protocol's tests pass there, the sandbox's are skipped after.
    summaries = [line for line in done.stdout.splitlines() if re.fullmatch(r"\d+ \w+(, \d+ \w+)* in [\d.]+s.*", line)]
    assert len(summaries) == 2 and " passed" in summaries[0] and " skipped" in summaries[1], summaries
    assert not any("failed" in line for line in summaries), summaries
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all(
        "tests/test_warm_sandbox.py" in line
        and "needs bubblewrap (bwrap) to run submitted code in a sandbox: apt-get install bubblewrap" in line
        for line in skipped
    ), skipped

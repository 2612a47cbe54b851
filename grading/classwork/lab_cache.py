"""The course's cache of costly results, written only from the masters' runs.

A lab may cache what every notebook would otherwise recompute (the time-series lab's trained
network). Sandboxes of submissions read the cache and never write it: a student whose answers
change the training data trains inside their own sandbox and keeps nothing. The cache is
filled by running the lab's master once in a sandbox whose cache folder is a fresh, writable
one; the grader then copies the plain files it made (never loading them) into
`records/cache/`. The same run gives the outputs of the lab's shared cells, which every
student's page shows (`grading.execution.shared_cells`). A marker per lab records which master
and release filled it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from traitlets.config import Config

from grading.course import Course
from grading.execution import shared_cells
from grading.preprocessors.execute_in_sandbox import ExecuteInSandbox
from grading.sandbox.launch import Sandbox, as_root

MAX_ENTRY_BYTES = 200_000_000
CACHED_SUFFIXES = (".npz", ".json")


def _master_digest(course: Course, lab: str) -> str:
    digest = hashlib.sha256()
    for path in sorted([course.solutions / lab / f"{lab}.ipynb", *(course.releases / lab).glob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fill_from_master(course: Course, lab: str, config: Config) -> int:
    """Run the master of `lab` in a sandbox that may write a cache; copy what it wrote. Returns the
    number of files copied (0 when the cache already holds this master's results)."""
    cache = course.cache
    marker = cache / f".{lab}.master"
    digest = _master_digest(course, lab)
    if marker.is_file() and marker.read_text() == digest and shared_cells.outputs_file(cache, lab).is_file():
        return 0
    settings = Sandbox(config=config)
    master = nbformat.read(course.solutions / lab / f"{lab}.ipynb", as_version=4)
    copied = 0
    with tempfile.TemporaryDirectory(prefix="course-cache-") as scratch:
        written = Path(scratch) / "cache"
        written.mkdir()
        if as_root() and not settings.unsafe_no_sandbox:  # the run's user; as another user, it is that user
            os.chown(written, settings.uid, settings.uid)
        ExecuteInSandbox(config=config).run(master, lab, f"the master of {lab}", cache_to=written)
        shared_cells.save(cache, lab, shared_cells.master_outputs(master))
        for current, _dirs, files in os.walk(written):
            for name in files:
                source = Path(current) / name
                info = source.lstat()
                if source.is_symlink() or not source.is_file() or info.st_size > MAX_ENTRY_BYTES:
                    continue
                if not name.endswith(CACHED_SUFFIXES) or ".partial" in name:
                    continue
                target = cache / source.relative_to(written)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                copied += 1
    cache.mkdir(parents=True, exist_ok=True)
    marker.write_text(digest)
    return copied

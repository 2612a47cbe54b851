"""Tests of data/fetch.py: copying, verifying, repairing and downloading the labs' datasets.

Each test builds a small course in tmp_path: a repository folder with its own manifest and a
shared data folder next to it, with real files. Command-line tests run a copy of the script
inside that repository, since the script finds its manifest and lab folders from its own place.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from data import fetch

REPO_ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, so the connection is refused at once
ARRAYS = {
    "points.npy": np.arange(12, dtype=np.float64).reshape(6, 2),
    "labels.npy": np.array([0, 1, 0, 0, 1, 0], dtype=np.uint8),
}
LABS = ("lab_one", "lab_two")
Web = tuple[Path, str]  # a served folder and its base URL


@dataclass
class Course:
    repo: Path  # holds data/manifest.json and a copy of data/fetch.py
    shared: Path  # the course's shared data folder, ../shared/data from the repo
    checksums: dict[str, str]  # SHA-256 of each good test file

    @property
    def manifest_path(self) -> Path:
        return self.repo / "data" / "manifest.json"

    def manifest(self) -> list[fetch.DataFile]:
        return fetch.load_manifest(self.manifest_path)

    def destinations(self) -> list[Path]:
        return [target for entry in self.manifest() for target in entry.destinations(self.repo)]

    def all_in_place(self) -> bool:
        """True if every destination holds the good copy of its file."""
        return all(sha256(target) == self.checksums[target.name] for target in self.destinations())

    def lab_files(self) -> list[Path]:
        """Every file, temporary ones included, under the repo's lab folders."""
        folders = [self.repo / folder for folder in fetch.LAB_FOLDERS]
        return [path for folder in folders for path in folder.rglob("*") if path.is_file()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(course: Course, url_base: str, **override: object) -> None:
    """A manifest with every test array for every lab, with the good files' checksums."""
    files = []
    for lab in LABS:
        for name, array in ARRAYS.items():
            entry = {
                "file": name,
                "lab": lab,
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "sha256": course.checksums[name],
                "url": f"{url_base}/{name}",
            }
            files.append({**entry, **override})
    course.manifest_path.write_text(json.dumps({"source": "test arrays", "files": files}), encoding="utf-8")


@pytest.fixture
def course(tmp_path: Path) -> Course:
    """A repository whose manifest points at unreachable URLs, and a good shared data folder."""
    shared = tmp_path / "shared" / "data"
    shared.mkdir(parents=True)
    for name, array in ARRAYS.items():
        np.save(shared / name, array)
    course = Course(tmp_path / "repo", shared, {name: sha256(shared / name) for name in ARRAYS})
    (course.repo / "data").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "data" / "fetch.py", course.repo / "data" / "fetch.py")
    write_manifest(course, UNREACHABLE)
    return course


@pytest.fixture(autouse=True)
def no_proxy_for_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    """An HTTP server on 127.0.0.1 serving an empty folder: yields (folder, base URL)."""
    folder = tmp_path / "web"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def run_script(course: Course, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "COURSE_DATA_DIR"}
    return subprocess.run(
        [sys.executable, "data/fetch.py", *args],
        cwd=course.repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_good_source_fills_both_release_folders_of_every_lab(course: Course) -> None:
    result = fetch.fetch_all(course.manifest(), course.repo, course.shared)

    expected = [
        course.repo / folder / lab / "data" / name for lab in LABS for name in ARRAYS for folder in fetch.LAB_FOLDERS
    ]
    assert sorted(result.written) == sorted(expected)
    for target in expected:
        assert target.read_bytes() == (course.shared / target.name).read_bytes()


def test_command_line_uses_the_shared_folder_next_to_the_repo_and_summarises(course: Course) -> None:
    completed = run_script(course)

    assert completed.returncode == 0, completed.stderr
    assert course.all_in_place()
    assert completed.stdout.splitlines()[-1].startswith("data: the 4 dataset files of ")


def test_rerun_leaves_valid_files_untouched(course: Course) -> None:
    fetch.fetch_all(course.manifest(), course.repo, course.shared)
    before = {target: target.stat().st_mtime_ns for target in course.destinations()}

    result = fetch.fetch_all(course.manifest(), course.repo, course.shared)

    assert result.written == [] and sorted(result.kept) == sorted(before)
    assert {target: target.stat().st_mtime_ns for target in course.destinations()} == before
    assert result.summary(course.manifest()).endswith("are in place and verified (nothing to do).")


def test_corrupted_file_in_place_is_repaired_from_the_source(course: Course) -> None:
    fetch.fetch_all(course.manifest(), course.repo, course.shared)
    damaged = course.repo / "assignments" / "lab_two" / "data" / "points.npy"
    damaged.write_bytes(damaged.read_bytes()[:-8] + b"\x00" * 8)

    result = fetch.fetch_all(course.manifest(), course.repo, course.shared)

    assert result.repaired == [damaged] and result.written == [damaged]
    assert damaged.read_bytes() == (course.shared / "points.npy").read_bytes()


def test_missing_source_file_with_unreachable_url_fails_with_one_line(course: Course) -> None:
    (course.shared / "labels.npy").unlink()

    completed = run_script(course)

    assert completed.returncode == 1
    assert len(completed.stderr.splitlines()) == 1
    assert "labels.npy" in completed.stderr and f"{UNREACHABLE}/labels.npy" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_truncated_source_file_fails_naming_it_and_writes_nothing(course: Course) -> None:
    source = course.shared / "points.npy"
    source.write_bytes(source.read_bytes()[:100])  # the manifest keeps the checksum of the full file

    completed = run_script(course)

    assert completed.returncode == 1
    assert len(completed.stderr.splitlines()) == 1
    assert "points.npy" in completed.stderr and "truncated or corrupted" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert course.lab_files() == []


def test_truncated_source_file_does_not_replace_a_damaged_copy_in_place(course: Course) -> None:
    damaged = course.repo / "solutions" / "lab_one" / "data" / "points.npy"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"damaged")
    source = course.shared / "points.npy"
    source.write_bytes(source.read_bytes()[:100])

    with pytest.raises(fetch.DataError, match="points.npy from .* truncated or corrupted"):
        fetch.fetch_all(course.manifest(), course.repo, course.shared)

    assert course.lab_files() == [damaged] and damaged.read_bytes() == b"damaged"


@pytest.mark.parametrize("override", [{"shape": [3, 4]}, {"dtype": "float32"}], ids=["shape", "dtype"])
def test_file_matching_its_checksum_but_not_its_shape_or_dtype_is_reported(
    course: Course, override: dict[str, object]
) -> None:
    write_manifest(course, UNREACHABLE, **override)

    with pytest.raises(fetch.DataError, match="points.npy from .* matches its checksum but holds an array"):
        fetch.fetch_all(course.manifest(), course.repo, course.shared)

    assert course.lab_files() == []


def test_download_option_fetches_every_file_from_an_http_server(course: Course, web: Web) -> None:
    folder, base_url = web
    for name in ARRAYS:
        shutil.copy(course.shared / name, folder / name)
    write_manifest(course, base_url)

    completed = run_script(course, "--download")

    assert completed.returncode == 0, completed.stderr
    assert course.all_in_place()
    assert sum("ok (downloaded)" in line for line in completed.stdout.splitlines()) == len(course.manifest())


def test_file_missing_from_the_source_folder_is_downloaded(course: Course, web: Web) -> None:
    folder, base_url = web
    shutil.copy(course.shared / "labels.npy", folder / "labels.npy")
    write_manifest(course, base_url)
    (course.shared / "labels.npy").unlink()

    fetch.fetch_all(course.manifest(), course.repo, course.shared)

    assert course.all_in_place()


def test_download_http_error_names_the_file_and_the_url(course: Course, web: Web) -> None:
    _, base_url = web
    write_manifest(course, base_url)

    with pytest.raises(fetch.DataError) as raised:
        fetch.fetch_all(course.manifest(), course.repo, None)

    message = str(raised.value)
    assert "points.npy" in message and f"{base_url}/points.npy" in message and "HTTP 404" in message
    assert "\n" not in message
    assert course.lab_files() == []


def test_course_data_dir_overrides_the_shared_folder(
    course: Course, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(elsewhere))

    assert fetch.resolve_source(None, course.repo) == elsewhere.resolve()


def test_missing_source_folder_is_refused_with_one_line(course: Course, tmp_path: Path) -> None:
    completed = run_script(course, "--source", str(tmp_path / "nowhere"))

    assert completed.returncode == 1
    assert completed.stderr.splitlines() == [completed.stderr.strip()] and "nowhere" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_manifest_entry_naming_a_path_instead_of_a_file_is_refused(course: Course) -> None:
    write_manifest(course, UNREACHABLE, file="../../outside.npy")

    with pytest.raises(fetch.DataError, match="not a plain name"):
        course.manifest()


def test_real_manifest_matches_the_shared_checksums_and_arrays() -> None:
    shared = REPO_ROOT / ".." / "shared" / "data"
    if not (shared / "SHA256SUMS").is_file():
        pytest.skip("the course's shared data folder ../shared/data is not here")
    lines = (shared / "SHA256SUMS").read_text().splitlines()
    sums = {name: digest for digest, name in (line.split() for line in lines if line.strip())}
    lab = [entry for entry in fetch.load_manifest(fetch.MANIFEST) if entry.lab == "anomaly_detection"]

    assert {entry.file: entry.sha256 for entry in lab} == sums
    assert [entry.file for entry in lab if fetch.array_problem(shared / entry.file, entry)] == []


def test_real_manifest_urls_end_with_their_file_names() -> None:
    manifest = fetch.load_manifest(fetch.MANIFEST)

    assert manifest and all(entry.url.startswith("https://") for entry in manifest)
    assert [entry.file for entry in manifest if not entry.url.endswith("/" + entry.file)] == []

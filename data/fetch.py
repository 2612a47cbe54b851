"""Put the labs' datasets in place and verify them against data/manifest.json.

Each manifest entry describes one file of one lab. Its verified copy goes to
solutions/<lab>/data/ and assignments/<lab>/data/ (both git-ignored). A file comes from
a local folder (--source DIR, else $COURSE_DATA_DIR, else the course's shared folder
../shared/data) or, when it is absent there or with --download, from the entry's URL.
Files already in place are verified too, so a re-run repairs a damaged copy.

Run from the repository root:  python data/fetch.py [--source DIR | --download]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST = REPO_ROOT / "data" / "manifest.json"
LAB_FOLDERS = ("solutions", "assignments")
DOWNLOAD_TIMEOUT = 30  # seconds without data before a download is given up

FOLDER_HINT = "restore it from the course's shared folder or run 'python data/fetch.py --download'"
DOWNLOAD_HINT = "run 'python data/fetch.py --download' again or pass --source DIR with a good copy"


class DataError(Exception):
    """A dataset that cannot be put in place; the message is one line telling what to do."""


@dataclass(frozen=True)
class DataFile:
    """One manifest entry: a lab's data file and what its verified copy looks like."""

    file: str
    lab: str
    shape: tuple[int, ...]
    dtype: str
    sha256: str
    url: str

    def destinations(self, repo_root: Path) -> list[Path]:
        """Where the lab's notebooks expect the file: the lab folder of each release."""
        return [repo_root / folder / self.lab / "data" / self.file for folder in LAB_FOLDERS]


@dataclass
class FetchResult:
    """What fetch_all did to each destination file."""

    written: list[Path] = field(default_factory=list)
    repaired: list[Path] = field(default_factory=list)  # also in written: replaced an invalid copy
    kept: list[Path] = field(default_factory=list)

    def summary(self, manifest: list[DataFile]) -> str:
        """One plain sentence: which datasets are ready, and what this run changed."""
        labs = sorted({entry.lab for entry in manifest})
        ready = f"data: the {len(manifest)} dataset files of {', '.join(labs)} are in place and verified"
        if not self.written:
            return ready + " (nothing to do)."
        repaired = f", {len(self.repaired)} of them replacing a damaged copy" if self.repaired else ""
        return ready + f" ({len(self.written)} copies written{repaired})."


def load_manifest(path: Path) -> list[DataFile]:
    """Read the manifest's file entries, refusing one that lacks a field or names a path."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = _one_line(exc)
        raise DataError(f"data: cannot read the file list of {path} ({reason}); fix or restore it.") from None
    manifest = []
    for number, entry in enumerate(entries, start=1):
        try:
            item = DataFile(
                file=str(entry["file"]),
                lab=str(entry["lab"]),
                shape=tuple(int(n) for n in entry["shape"]),
                dtype=str(entry["dtype"]),
                sha256=str(entry["sha256"]).lower(),
                url=str(entry["url"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            reason = _one_line(exc)
            raise DataError(f"data: entry {number} of {path} is incomplete ({reason}); fix it.") from None
        for name in (item.file, item.lab):
            if name in ("", ".", "..") or Path(name).name != name:
                raise DataError(f"data: entry {number} of {path} has {name!r}, not a plain name; fix it.")
        manifest.append(item)
    return manifest


def resolve_source(option: Path | None, repo_root: Path) -> Path | None:
    """The folder to copy files from: --source, else $COURSE_DATA_DIR, else ../shared/data if present."""
    if option is not None:
        given, how = option, "--source"
    elif os.environ.get("COURSE_DATA_DIR"):
        given, how = Path(os.environ["COURSE_DATA_DIR"]), "COURSE_DATA_DIR"
    else:
        shared = repo_root / ".." / "shared" / "data"
        return shared.resolve() if shared.is_dir() else None
    if not given.is_dir():
        raise DataError(
            f"data: the source folder {given} (from {how}) does not exist; point it at the course's"
            " shared data folder or run 'python data/fetch.py --download'."
        )
    return given.resolve()


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def array_problem(path: Path, entry: DataFile) -> str | None:
    """Why the .npy file at path does not hold the manifest's array shape and dtype, or None."""
    try:
        with path.open("rb") as stream:
            array = np.lib.format.read_array(stream, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        return f"is not a readable .npy array ({_one_line(exc)})"
    if array.shape != entry.shape or str(array.dtype) != entry.dtype:
        return (
            f"holds an array of shape {array.shape} and dtype {array.dtype}"
            f" but the manifest expects shape {entry.shape} and dtype {entry.dtype}"
        )
    return None


def is_valid(path: Path, entry: DataFile) -> bool:
    """True if path holds exactly the manifest's file (checksum, then shape and dtype)."""
    return path.is_file() and sha256_of(path) == entry.sha256 and array_problem(path, entry) is None


def fetch_all(manifest: list[DataFile], repo_root: Path, source_dir: Path | None) -> FetchResult:
    """Give every destination of every entry a verified copy; download all when source_dir is None.

    Valid files in place are kept. Stops at the first file that cannot be put in place.
    """
    result = FetchResult()
    for entry in manifest:
        targets = entry.destinations(repo_root)
        stale = [target for target in targets if not is_valid(target, entry)]
        result.kept += [target for target in targets if target not in stale]
        if not stale:
            print(f"data: {entry.file} ok (already in place)")
            continue
        damaged = [target for target in stale if target.exists()]
        origin = _place(entry, stale, source_dir)
        folders = ", ".join(str(target.parent.relative_to(repo_root)) for target in damaged)
        note = f"; replaced the invalid copy in {folders}" if damaged else ""
        print(f"data: {entry.file} ok ({origin}{note})")
        result.written += stale
        result.repaired += damaged
    return result


def _place(entry: DataFile, targets: list[Path], source_dir: Path | None) -> str:
    """Write a verified copy over each target; return where the file came from.

    Each copy is staged under a temporary name in the target's folder and renamed over the
    target only once verified, so a bad copy never replaces anything.
    """
    local = None if source_dir is None else source_dir / entry.file
    if local is not None and not local.is_file():
        local = None
    origin = str(local) if local is not None else entry.url
    first_good: Path | None = None
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{entry.file}.", suffix=".part")
        staged = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                if first_good is not None:
                    with first_good.open("rb") as stream:
                        shutil.copyfileobj(stream, out)
                elif local is not None:
                    with local.open("rb") as stream:
                        shutil.copyfileobj(stream, out)
                else:
                    _download(entry, source_dir, out)
            _verify_staged(staged, entry, origin, FOLDER_HINT if local is not None else DOWNLOAD_HINT)
            staged.chmod(0o644)
            os.replace(staged, target)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        first_good = target
    return f"copied from {local.parent}" if local is not None else "downloaded"


def _download(entry: DataFile, source_dir: Path | None, out: BinaryIO) -> None:
    """Stream entry.url into the open binary file out, turning failures into one DataError line."""
    print(f"data: {entry.file} downloading from {entry.url}", flush=True)
    try:
        with urllib.request.urlopen(entry.url, timeout=DOWNLOAD_TIMEOUT) as response:
            shutil.copyfileobj(response, out)
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        reason = _one_line(exc.reason)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = _one_line(exc) or type(exc).__name__
    else:
        return
    missing = f"is not in {source_dir} and " if source_dir is not None else ""
    raise DataError(
        f"data: {entry.file} {missing}could not be downloaded from {entry.url} ({reason}); check the"
        " network connection, or pass --source DIR with a folder holding the course's data files."
    )


def _verify_staged(staged: Path, entry: DataFile, origin: str, hint: str) -> None:
    digest = sha256_of(staged)
    if digest != entry.sha256:
        raise DataError(
            f"data: {entry.file} from {origin} has SHA-256 {digest[:12]}... but the manifest expects"
            f" {entry.sha256[:12]}...; the copy is truncated or corrupted: {hint}."
        )
    problem = array_problem(staged, entry)
    if problem is not None:
        raise DataError(
            f"data: {entry.file} from {origin} matches its checksum but {problem};"
            " the manifest entry is inconsistent: fix data/manifest.json."
        )


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code (1 with one stderr line on failure)."""
    parser = argparse.ArgumentParser(description="Put the labs' datasets in place and verify them.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="folder holding the data files (default: $COURSE_DATA_DIR, else ../shared/data if present)",
    )
    where.add_argument("--download", action="store_true", help="download missing or invalid files from their URLs")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(MANIFEST)
        source_dir = None if args.download else resolve_source(args.source, REPO_ROOT)
        result = fetch_all(manifest, REPO_ROOT, source_dir)
    except DataError as exc:
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:
        reason = _one_line(exc)
        print(f"data: {reason}; check that the folders exist, are writable and have room.", file=sys.stderr)
        return 1
    print(result.summary(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())

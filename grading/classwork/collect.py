"""Plugins of `nbgrader zip_collect` that skip a bad file with a warning instead of aborting.

nbgrader's own extractor stops the whole class's collection at the first entry it cannot
write (a name over the file system's limit) and overwrites a name a zip holds twice; its
collector stops at the second file for the same student. `nbgrader_config.py` sets these:

- SafeExtractor: copies loose files and extracts zip files (and zips inside them) entry by
  entry, skipping with one warning each any entry that is a symlink, escapes its folder
  (zip slip), has a name too long for the file system, or repeats a name already extracted.
- FirstSubmissionCollector: files the first of a student's files for a notebook (in
  nbgrader's sorted order of the extracted paths) and skips the later ones with a warning. Ids
  that differ only in case are one student. Once a roster is in the gradebook (`nbgrader db
  student import`), a file is filed under the roster's spelling of its id, and a file whose id
  no roster entry has is set aside with a warning instead of becoming a new student.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import zipfile
import zlib

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin

from grading.gradebook_url import students_in

MAX_NESTING = 5  # zips inside zips extracted; deeper ones are left as they are, with a warning
UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError)


def name_max(folder: str) -> int:
    """The longest file name, in bytes, that the file system of `folder` accepts."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def is_symlink(entry: zipfile.ZipInfo) -> bool:
    """Whether the entry's Unix mode (high 16 bits of its external attributes) marks a symlink."""
    return stat.S_ISLNK(entry.external_attr >> 16)


def unsafe_parts(name: str) -> list[str] | None:
    """The path parts of a zip entry's name, or None when it is absolute or climbs out with `..`."""
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return None
    parts = [part for part in re.split(r"[\\/]", name) if part not in ("", ".")]
    return None if ".." in parts else parts


class SafeExtractor(ExtractorPlugin):
    """Extract the downloads entry by entry, so that one bad entry costs only itself."""

    def extract(self, archive_path: str, extracted_path: str) -> None:
        """Copy each loose file and extract each zip of `archive_path` into `extracted_path`,
        keeping nbgrader's layout (a zip `x.zip` goes into a folder `x`)."""
        if not os.listdir(archive_path):
            self.log.warning("No files found in directory: %s", archive_path)
            return
        for root, _, names in os.walk(archive_path):
            extract_to = os.path.normpath(os.path.join(extracted_path, os.path.relpath(root, archive_path)))
            os.makedirs(extract_to, exist_ok=True)
            for name in sorted(names):
                source = os.path.join(root, name)
                if os.path.splitext(name)[1] in self.zip_ext:
                    self.extract_zip(source, os.path.join(extract_to, archive_stem(name)), depth=0)
                else:
                    self.copy_loose(source, os.path.join(extract_to, name))

    def copy_loose(self, source: str, target: str) -> None:
        """Copy a file that is not an archive as it is, or warn when it cannot be copied."""
        self.log.info("Copying from: %s", source)
        try:
            shutil.copyfile(source, target)
        except OSError as error:
            self.log.warning(
                "Skipped %s: it cannot be copied (%s); check the file and run again with --force", source, error
            )

    def extract_zip(self, zip_path: str, folder: str, depth: int) -> None:
        """Extract the zip at `zip_path` into `folder`, skipping each unsafe entry with a warning."""
        if not zipfile.is_zipfile(zip_path):
            self.log.warning(
                "Skipped %s: it is not a readable zip file; download it again, or unpack it "
                "by hand and put its notebooks in the archive folder",
                zip_path,
            )
            return
        self.log.info("Extracting from: %s", zip_path)
        self.log.info("  Extracting to: %s", folder)
        try:
            os.makedirs(folder, exist_ok=True)
            with zipfile.ZipFile(zip_path) as bundle:
                for entry in bundle.infolist():
                    written = self.extract_entry(bundle, entry, zip_path, folder)
                    if written and os.path.splitext(written)[1] in self.zip_ext:
                        self.extract_nested(written, depth)
        except (OSError, *UNREADABLE) as error:
            self.log.warning(
                "Stopped extracting %s: %s; download it again, or unpack it by hand and "
                "put its notebooks in the archive folder",
                zip_path,
                error,
            )

    def extract_nested(self, zip_path: str, depth: int) -> None:
        """Extract a zip found inside a zip next to itself, as nbgrader does, up to MAX_NESTING deep."""
        if depth + 1 >= MAX_NESTING:
            self.log.warning(
                "Skipped %s: zip files nested more than %d deep are not extracted; unpack it "
                "by hand and put its notebooks in the archive folder",
                zip_path,
                MAX_NESTING,
            )
            return
        folder = os.path.join(os.path.dirname(zip_path), archive_stem(os.path.basename(zip_path)))
        self.extract_zip(zip_path, folder, depth + 1)

    def extract_entry(self, bundle: zipfile.ZipFile, entry: zipfile.ZipInfo, zip_path: str, folder: str) -> str | None:
        """Write one entry under `folder` and return its path, or warn and return None."""
        if is_symlink(entry):
            return self.skip(
                entry,
                zip_path,
                "it is a symbolic link, which is never extracted",
                "ask the student for the file itself",
            )
        parts = unsafe_parts(entry.filename)
        if parts is None:
            return self.skip(
                entry,
                zip_path,
                "its path is absolute or leads out of its folder (zip slip)",
                "ask the student for a zip of the notebook alone",
            )
        if entry.is_dir() or not parts:
            return None
        limit = name_max(folder)
        if any(len(os.fsencode(part)) > limit for part in parts):
            return self.skip(
                entry,
                zip_path,
                f"a name in it is longer than {limit} bytes",
                "extract it by hand under a shorter name and put it in the archive folder",
            )
        target = os.path.join(folder, *parts)
        if os.path.lexists(target):
            return self.skip(
                entry,
                zip_path,
                "a file of that name was already extracted, and the first one is kept",
                "if this one should count, put it alone in the archive folder",
            )
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with bundle.open(entry) as source, open(target, "xb") as copy:
                shutil.copyfileobj(source, copy)
        except (OSError, *UNREADABLE) as error:
            if os.path.lexists(target):  # a partial copy: the target did not exist before
                os.remove(target)
            if isinstance(error, OSError) and error.errno == errno.ENAMETOOLONG:
                return self.skip(
                    entry,
                    zip_path,
                    "its path is too long for the file system",
                    "extract it by hand under a shorter name and put it in the archive folder",
                )
            return self.skip(
                entry,
                zip_path,
                f"it cannot be extracted ({error})",
                "download the zip again or ask the student for the file",
            )
        return target

    def skip(self, entry: zipfile.ZipInfo, zip_path: str, why: str, what_to_do: str) -> None:
        """Log the one warning line of a skipped entry: which entry, of which zip, why, what to do."""
        self.log.warning("Skipped %r in %s: %s; %s", entry.filename, zip_path, why, what_to_do)
        return None


def archive_stem(name: str) -> str:
    """The folder nbgrader extracts an archive into: its name without `.zip`, `.gz` or `.tar.gz`."""
    stem = os.path.splitext(name)[0]
    return stem[:-4] if stem.endswith(".tar") else stem


class FirstSubmissionCollector(FileNameCollectorPlugin):
    """nbgrader's file-name collector that files a student's first file for a notebook only,
    under the roster's id of the student when the gradebook has a roster."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        # (student id in lower case, file id) -> the file filed and the id it was filed under
        self.filed: dict[tuple[str, str], tuple[str, str]] = {}
        self._roster: dict[str, list[str]] | None = None

    def collect(self, submitted_file: str) -> dict | None:
        """The file's student id and file id, or None (with a warning) for a student's second copy
        or an id that is not on the roster.

        nbgrader would stop the whole collection at a duplicate that has no timestamp to compare.
        """
        info = super().collect(submitted_file)
        if not info:
            return None
        student = self.student_of(info["student_id"], submitted_file)
        if student is None:
            return None
        info["student_id"] = student
        first, first_student = self.filed.setdefault((student.casefold(), info["file_id"]), (submitted_file, student))
        if first != submitted_file:
            same = (
                ""
                if first_student == student
                else f" (as {first_student!r}: ids that differ only in case are one student)"
            )
            self.log.warning(
                "Skipped %s: student %r already has %s from %s%s; if this one should count, remove "
                "the other from the archive folder and run again with --force",
                submitted_file,
                student,
                info["file_id"],
                first,
                same,
            )
            return None
        return info

    def student_of(self, sent: str, submitted_file: str) -> str | None:
        """The id to file `sent`'s work under: itself without a roster, else the roster's spelling."""
        roster = self.roster()
        if not roster:
            return sent
        matches = roster.get(sent.casefold(), [])
        if sent in matches:
            return sent
        if len(matches) == 1:
            self.log.info("Filed %s under %r, the roster's spelling of %r", submitted_file, matches[0], sent)
            return matches[0]
        why = (
            f"the roster has several ids that differ from it only in case ({', '.join(sorted(matches))})"
            if matches
            else f"no student of the roster ({sum(map(len, roster.values()))}) has that id"
        )
        self.log.warning(
            "Skipped %s: student id %r is not on the roster: %s; add the student (nbgrader db student "
            "add %s) or rename the file, then run again",
            submitted_file,
            sent,
            why,
            sent,
        )
        return None

    def roster(self) -> dict[str, list[str]]:
        """The gradebook's students, by id in lower case (empty when there is no gradebook yet)."""
        if self._roster is None:
            self._roster = {}
            for student in sorted(students_in(self.parent.coursedir.db_url, self.parent.coursedir.course_id)):
                self._roster.setdefault(student.casefold(), []).append(student)
        return self._roster

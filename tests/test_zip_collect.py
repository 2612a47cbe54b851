"""Downloads from a learning platform filed by the real `nbgrader zip_collect` with the course's
configuration: one notebook per student named `<student_id>_<lab>.ipynb`, loose or in a zip.

The second half gives it bad downloads (a name too long for the file system, a name twice, a
student in two zips, a symlink, zip slip): each bad entry is skipped with one warning saying
what to do, and every honest student is still filed (the kit's plugins, `grading/classwork/collect.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grading.cli import copy_course
from grading.course import Course

pytestmark = pytest.mark.slow  # runs nbgrader's zip_collect on a scratch course

LAB = "anomaly_detection"
LOOSE_FILES = {student: f"{student}_{LAB}.ipynb" for student in ("jdoe", "a.smith-2", "john_doe")}
ZIPPED_STUDENT, ZIP_NAME = "kim", "kim_upload.zip"
STUDENTS = [*LOOSE_FILES, ZIPPED_STUDENT]
# Names that must not be filed: no student id, a space, an e-mail address (whose domain
# would pass for an id), another notebook, a parent-folder id, a file that is not a notebook.
UNNAMED_FILES = [
    f"{LAB}.ipynb",
    f"Jane Doe_{LAB}.ipynb",
    f"jdoe@uni.edu_{LAB}.ipynb",
    "lee_homework.ipynb",
    f".._{LAB}.ipynb",
    "notes.txt",
]


@dataclass
class Collected:
    course: Course
    sent: dict[str, bytes]  # student (or sender) -> the bytes of the notebook the platform gave
    log: str  # what nbgrader printed


def notebook_of(course: Course, student: str) -> bytes:
    """The released notebook, marked with the student's id so that every copy differs."""
    notebook = nbformat.read(course.releases / LAB / f"{LAB}.ipynb", as_version=4)
    notebook.metadata["sent_by"] = student
    return nbformat.writes(notebook).encode()


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Collected:
    course = copy_course(Course(), tmp_path_factory.mktemp("zip_collect") / "course")
    archive = course.root / "records" / "downloaded" / LAB / "archive"
    archive.mkdir(parents=True)
    sent = {student: notebook_of(course, student) for student in STUDENTS}
    for student, name in LOOSE_FILES.items():
        (archive / name).write_bytes(sent[student])
    with zipfile.ZipFile(archive / ZIP_NAME, "w") as bundle:
        bundle.writestr(f"{ZIPPED_STUDENT}_{LAB}.ipynb", sent[ZIPPED_STUDENT])
    for name in UNNAMED_FILES:
        (archive / name).write_bytes(notebook_of(course, name))

    return Collected(course, sent, run_zip_collect(course))


def run_zip_collect(course: Course) -> str:
    """Run the real `nbgrader zip_collect` on the lab in `course`; what it printed."""
    return nbgrader(course, "zip_collect", LAB)


def nbgrader(course: Course, *args: str) -> str:
    bin_dir = Path(sys.executable).parent  # nbgrader and the alembic it runs by name
    done = subprocess.run(
        [str(bin_dir / "nbgrader"), *args],
        cwd=course.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("student", STUDENTS)
def test_each_students_notebook_is_filed_unchanged_in_their_folder(collected, student):
    filed = collected.course.submission(LAB, student)
    assert filed.read_bytes() == collected.sent[student]


def test_only_the_students_named_by_their_files_get_a_submission(collected):
    assert sorted(path.name for path in collected.course.submitted.iterdir()) == sorted(STUDENTS)


@pytest.mark.parametrize("name", UNNAMED_FILES)
def test_file_not_named_for_a_student_is_skipped_with_a_warning(collected, name):
    extracted = collected.course.root / "records" / "downloaded" / LAB / "extracted" / name
    assert (
        f"[ZipCollectApp | WARNING] Skipped submission with no match information provided: {extracted}"
        in collected.log.splitlines()
    )


def test_nbgrader_counts_the_filed_and_skipped_files(collected):
    assert f"{len(STUDENTS)} files collected, {len(UNNAMED_FILES)} files skipped" in collected.log


def test_nothing_is_written_outside_the_submissions_folder(collected):
    """The `..` id would have put a notebook in records/ itself."""
    records = collected.course.root / "records"
    assert sorted(path.name for path in records.iterdir()) == ["downloaded", "submitted"]


# ---------------------------------------------------------------------------------------------
# Bad downloads: one bad entry costs only itself
# ---------------------------------------------------------------------------------------------

# Every class below also holds these honest students: one loose file, one beside the bad entries.
LOOSE_STUDENT, ZIPPED_HONEST = "ana", "ben"
HONEST = [LOOSE_STUDENT, ZIPPED_HONEST]
LONG_ID = "x" * 300  # a file name of over 255 bytes, more than ext4 and most file systems allow
SLIP_NAMES = [f"{'../' * 5}slipped_{LAB}.ipynb", f"/tmp/absolute_{LAB}.ipynb"]

Entry = tuple[str | zipfile.ZipInfo, str]  # an entry's name (or header) and who sent it


def filed_name(student: str) -> str:
    return f"{student}_{LAB}.ipynb"


def symlink_entry(name: str) -> zipfile.ZipInfo:
    """A zip header whose external attributes mark the entry as a symlink, as `zip --symlinks` writes."""
    entry = zipfile.ZipInfo(name)
    entry.create_system = 3  # Unix: the high 16 bits of the external attributes are the file's mode
    entry.external_attr = 0o120777 << 16
    return entry


def collect_class(tmp_path_factory, zips: dict[str, list[Entry]], roster: list[str] = ()) -> Collected:
    """A fresh course whose archive holds LOOSE_STUDENT's file and `zips` ({zip name: entries}),
    collected by the real `nbgrader zip_collect`, after `nbgrader db student import` of `roster` if
    given. Each entry holds a notebook marked with its sender."""
    course = copy_course(Course(), tmp_path_factory.mktemp("zip_collect") / "course")
    if roster:
        (course.root / "records").mkdir(exist_ok=True)  # where the gradebook lives, as after make setup
        (course.root / "roster.csv").write_text("id\n" + "".join(f"{student}\n" for student in roster))
        nbgrader(course, "db", "student", "import", "roster.csv")
    archive = course.root / "records" / "downloaded" / LAB / "archive"
    archive.mkdir(parents=True)
    sent = {LOOSE_STUDENT: notebook_of(course, LOOSE_STUDENT)}
    (archive / filed_name(LOOSE_STUDENT)).write_bytes(sent[LOOSE_STUDENT])
    for zip_name, entries in zips.items():
        with warnings.catch_warnings(), zipfile.ZipFile(archive / zip_name, "w") as bundle:
            warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name" is the point
            for name, sender in entries:
                sent[sender] = notebook_of(course, sender)
                bundle.writestr(name, sent[sender])
    return Collected(course, sent, run_zip_collect(course))


def warning(text: str) -> str:
    return f"[ZipCollectApp | WARNING] {text}"


def archive_of(collected: Collected) -> Path:
    return collected.course.root / "records" / "downloaded" / LAB / "archive"


def extracted_of(collected: Collected) -> Path:
    return collected.course.root / "records" / "downloaded" / LAB / "extracted"


def filed_students(collected: Collected) -> list[str]:
    return sorted(path.name for path in collected.course.submitted.iterdir())


@pytest.fixture(scope="module")
def long_name(tmp_path_factory) -> Collected:
    return collect_class(
        tmp_path_factory,
        {
            "class.zip": [
                (filed_name(LONG_ID), LONG_ID),
                (filed_name(ZIPPED_HONEST), ZIPPED_HONEST),
            ]
        },
    )


def test_name_over_255_bytes_in_a_zip_is_skipped_with_a_warning(long_name):
    assert (
        warning(
            f"Skipped {filed_name(LONG_ID)!r} in {archive_of(long_name) / 'class.zip'}: a name in it is longer than "
            "255 bytes; extract it by hand under a shorter name and put it in the archive folder"
        )
        in long_name.log.splitlines()
    )


def test_name_over_255_bytes_in_a_zip_leaves_the_honest_students_filed(long_name):
    assert filed_students(long_name) == sorted(HONEST)
    for student in HONEST:
        assert long_name.course.submission(LAB, student).read_bytes() == long_name.sent[student]


@pytest.fixture(scope="module")
def name_twice_in_a_zip(tmp_path_factory) -> Collected:
    return collect_class(
        tmp_path_factory,
        {
            "class.zip": [
                (filed_name("dana"), "dana first"),
                (filed_name(ZIPPED_HONEST), ZIPPED_HONEST),
                (filed_name("dana"), "dana second"),
            ]
        },
    )


def test_name_twice_in_a_zip_keeps_the_first_and_warns_about_the_second(name_twice_in_a_zip):
    assert name_twice_in_a_zip.course.submission(LAB, "dana").read_bytes() == name_twice_in_a_zip.sent["dana first"]
    assert (
        warning(
            f"Skipped {filed_name('dana')!r} in {archive_of(name_twice_in_a_zip) / 'class.zip'}: a file of that name "
            "was already extracted, and the first one is kept; if this one should count, put it alone in the archive "
            "folder"
        )
        in name_twice_in_a_zip.log.splitlines()
    )


def test_name_twice_in_a_zip_leaves_the_honest_students_filed(name_twice_in_a_zip):
    assert filed_students(name_twice_in_a_zip) == sorted([*HONEST, "dana"])
    for student in HONEST:
        assert name_twice_in_a_zip.course.submission(LAB, student).read_bytes() == name_twice_in_a_zip.sent[student]


@pytest.fixture(scope="module")
def student_in_two_zips(tmp_path_factory) -> Collected:
    return collect_class(
        tmp_path_factory,
        {
            "a_upload.zip": [(filed_name("eve"), "eve first")],
            "b_upload.zip": [(filed_name("eve"), "eve second"), (filed_name(ZIPPED_HONEST), ZIPPED_HONEST)],
        },
    )


def test_student_in_two_zips_keeps_the_first_and_warns_about_the_second(student_in_two_zips):
    assert student_in_two_zips.course.submission(LAB, "eve").read_bytes() == student_in_two_zips.sent["eve first"]
    extracted = extracted_of(student_in_two_zips)
    assert (
        warning(
            f"Skipped {extracted / 'b_upload' / filed_name('eve')}: student 'eve' already has {LAB}.ipynb from "
            f"{extracted / 'a_upload' / filed_name('eve')}; if this one should count, remove the other from the "
            "archive folder and run again with --force"
        )
        in student_in_two_zips.log.splitlines()
    )


def test_student_in_two_zips_leaves_the_honest_students_filed(student_in_two_zips):
    assert filed_students(student_in_two_zips) == sorted([*HONEST, "eve"])
    for student in HONEST:
        assert student_in_two_zips.course.submission(LAB, student).read_bytes() == student_in_two_zips.sent[student]


@pytest.fixture(scope="module")
def symlink_in_a_zip(tmp_path_factory) -> Collected:
    return collect_class(
        tmp_path_factory,
        {
            "class.zip": [
                (symlink_entry(filed_name("lou")), "lou"),
                (filed_name(ZIPPED_HONEST), ZIPPED_HONEST),
            ]
        },
    )


def test_symlink_in_a_zip_is_refused_with_a_warning(symlink_in_a_zip):
    assert (
        warning(
            f"Skipped {filed_name('lou')!r} in {archive_of(symlink_in_a_zip) / 'class.zip'}: it is a symbolic link, "
            "which is never extracted; ask the student for the file itself"
        )
        in symlink_in_a_zip.log.splitlines()
    )
    assert not (extracted_of(symlink_in_a_zip) / "class" / filed_name("lou")).exists()


def test_symlink_in_a_zip_leaves_the_honest_students_filed(symlink_in_a_zip):
    assert filed_students(symlink_in_a_zip) == sorted(HONEST)
    for student in HONEST:
        assert symlink_in_a_zip.course.submission(LAB, student).read_bytes() == symlink_in_a_zip.sent[student]


@pytest.fixture(scope="module")
def zip_slip(tmp_path_factory) -> Collected:
    return collect_class(
        tmp_path_factory,
        {
            "class.zip": [
                *((name, name) for name in SLIP_NAMES),
                (filed_name(ZIPPED_HONEST), ZIPPED_HONEST),
            ]
        },
    )


@pytest.mark.parametrize("name", SLIP_NAMES)
def test_zip_slip_is_refused_with_a_warning(zip_slip, name):
    assert (
        warning(
            f"Skipped {name!r} in {archive_of(zip_slip) / 'class.zip'}: its path is absolute or leads out of its "
            "folder (zip slip); ask the student for a zip of the notebook alone"
        )
        in zip_slip.log.splitlines()
    )


def test_zip_slip_writes_nothing_outside_the_extracted_folder(zip_slip):
    root = zip_slip.course.root
    assert sorted(path.name for path in root.iterdir()) == ["assignments", "nbgrader_config.py", "records", "solutions"]
    assert sorted(path.name for path in (root / "records").iterdir()) == ["downloaded", "submitted"]
    assert not Path(SLIP_NAMES[1]).exists()


def test_zip_slip_leaves_the_honest_students_filed(zip_slip):
    assert filed_students(zip_slip) == sorted(HONEST)
    for student in HONEST:
        assert zip_slip.course.submission(LAB, student).read_bytes() == zip_slip.sent[student]


@pytest.fixture(scope="module")
def ids_differing_in_case(tmp_path_factory) -> Collected:
    return collect_class(
        tmp_path_factory,
        {
            "class.zip": [
                (filed_name("Gus"), "Gus"),
                (filed_name(ZIPPED_HONEST), ZIPPED_HONEST),
                (filed_name("gus"), "gus"),
            ]
        },
    )


def test_ids_that_differ_only_in_case_are_one_student_filed_once(ids_differing_in_case):
    assert filed_students(ids_differing_in_case) == sorted([*HONEST, "Gus"])
    assert ids_differing_in_case.course.submission(LAB, "Gus").read_bytes() == ids_differing_in_case.sent["Gus"]
    extracted = extracted_of(ids_differing_in_case) / "class"
    assert (
        warning(
            f"Skipped {extracted / filed_name('gus')}: student 'gus' already has {LAB}.ipynb from "
            f"{extracted / filed_name('Gus')} (as 'Gus': ids that differ only in case are one student); if this one "
            "should count, remove the other from the archive folder and run again with --force"
        )
        in ids_differing_in_case.log.splitlines()
    )


ROSTER = [LOOSE_STUDENT, ZIPPED_HONEST, "kim"]


@pytest.fixture(scope="module")
def with_a_roster(tmp_path_factory) -> Collected:
    return collect_class(
        tmp_path_factory,
        {
            "class.zip": [
                (filed_name(ZIPPED_HONEST), ZIPPED_HONEST),
                (filed_name("KIM"), "kim"),
                (filed_name("zed"), "zed"),
            ]
        },
        roster=ROSTER,
    )


def test_with_a_roster_an_id_spelled_in_another_case_is_filed_under_the_rosters_id(with_a_roster):
    assert with_a_roster.course.submission(LAB, "kim").read_bytes() == with_a_roster.sent["kim"]


def test_with_a_roster_an_unknown_id_is_set_aside_with_a_warning_not_filed(with_a_roster):
    assert filed_students(with_a_roster) == sorted(ROSTER)
    assert (
        warning(
            f"Skipped {extracted_of(with_a_roster) / 'class' / filed_name('zed')}: student id 'zed' is not on the "
            f"roster: no student of the roster ({len(ROSTER)}) has that id; add the student (nbgrader db student add "
            "zed) or rename the file, then run again"
        )
        in with_a_roster.log.splitlines()
    )

"""Every attack of `tests/attacks.py`, graded in the first lab's class with the corpus, the known
tricks and two honest students (one graded before every attacker, one after): one question per
test, for each attack and then for the class as a whole."""

from __future__ import annotations

import functools
import html
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from attacks import (
    ATTACKS,
    DETACHED_SHM_MEMORY,
    FAMILIES,
    FORGED_EVENTS,
    FORGED_KERNEL_DEATH,
    HONEST,
    ISO_CHANNELS,
    ISO_TAKERS,
    LAB,
    MARK,
    NESTED_USER_NAMESPACE,
    XSS,
    answer_index,
    iso_channel_source,
    loopback,
    numpy_numeric_source,
    site_packages,
)
from conftest import TEST_LIMITS
from exploits import EX1, EXPLOITS

from grading import integrity
from grading.course import KIT_ROOT
from grading.preprocessors.execute_in_sandbox import NOT_RUN
from grading.sample_class import BROKEN, UNMODIFIED, corpus

CLASSMATES = sorted([entry.name for entry in corpus(LAB)] + [UNMODIFIED, BROKEN] + list(EXPLOITS) + list(HONEST))
SANDBOX_UID = 65534


def expected_score(graded_class, student: str) -> float:
    lost = sum(graded_class.points[grade_id] for grade_id in graded_class.expected_fails[student])
    return sum(graded_class.points.values()) - lost


def feedback_page(graded_class, student: str) -> Path:
    return graded_class.course.feedback / student / LAB / f"{LAB}.html"


def submitted_text(graded_class, student: str) -> str:
    """What the student handed in, as text (empty when it is not a file one can read)."""
    path = graded_class.course.submission(LAB, student)
    try:
        return path.read_bytes().decode("utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# What must never reach a student's feedback
# ---------------------------------------------------------------------------------------------


def grader_secrets(course, canary: str) -> dict[str, list[str]]:
    """Texts of the grader's that no feedback may show, by kind (none of them in the release)."""
    release_text = (course.releases / LAB / f"{LAB}.ipynb").read_text()
    hidden = (KIT_ROOT / "grading" / "verdicts" / "hidden_tests" / f"{LAB}.py").read_text()
    master = nbformat.read(course.solutions / LAB / f"{LAB}.ipynb", as_version=4)
    solution_lines = [
        line.strip()
        for cell in master.cells
        for line in cell.source.splitlines()
        if cell.metadata.get("nbgrader", {}).get("solution")
    ]
    found = {
        "hidden tests": [line.strip() for line in hidden.splitlines() if len(line.strip()) >= 30],
        "master": ["### BEGIN SOLUTION", "### END SOLUTION"] + [line for line in solution_lines if len(line) >= 20],
        "gradebook": ["SQLite format 3"],
        "classmate": course.students(LAB),
        "accounts": [],
    }
    for path in ("/etc/shadow", "/etc/passwd"):
        try:
            first = Path(path).read_text().splitlines()[0]
            found["accounts"].append(":".join(first.split(":")[:3]) + ":")
        except (OSError, IndexError):
            pass
    found = {kind: [text for text in texts if text not in release_text] for kind, texts in found.items()}
    found["canary"] = [canary]
    return found


@pytest.fixture(scope="module")
def secrets(graded_class) -> dict[str, list[str]]:
    return grader_secrets(graded_class.course, graded_class.watch.canary)


def leaks(graded_class, secrets: dict[str, list[str]], student: str) -> list[str]:
    """The secrets in the student's feedback page that the student did not write themselves."""
    page = feedback_page(graded_class, student)
    if not page.is_file():
        return []
    text = html.unescape(page.read_text(errors="replace"))
    own = submitted_text(graded_class, student)
    return [
        f"{kind}: {secret[:80]}"
        for kind, texts in secrets.items()
        for secret in texts
        if secret in text and secret not in own and secret != student
    ]


class ActiveContent(HTMLParser):
    """Markup of a page that could run or load something of the student's."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._inside: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("iframe", "frame", "object", "embed"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip()
            if XSS in value or value.lower().startswith(("javascript:", "vbscript:", "data:text/html")):
                self.found.append(f"<{tag} {name}={value[:60]!r}>")
        if tag in ("script", "style", "svg"):
            self._inside.append(tag)

    def handle_endtag(self, tag):
        if self._inside and self._inside[-1] == tag:
            self._inside.pop()

    def handle_data(self, data):
        if self._inside and XSS in data:
            self.found.append(f"<{self._inside[-1]}> holding {data.strip()[:60]!r}")


def active_content(page: Path) -> list[str]:
    parser = ActiveContent()
    parser.feed(page.read_text(errors="replace"))
    return parser.found


GRADER_STAMP = "timestamp.txt"  # written into a submission folder without one (grading.classwork.autograde_class)


def _changed_by_grading(graded_class, path: str) -> bool:
    """A change of the fingerprint that grading made. The kit's own checkout (not the graded course's
    copy, nor the environment) may be edited by other work while the class is graded: a change
    there counts when the file now holds an attack's mark. The grader's ~/.ipython and ~/.jupyter
    change whenever its user runs IPython (history): they have their own test."""
    if any(Path(path).is_relative_to(Path.home() / name) for name in (".ipython", ".jupyter")):
        return False
    if Path(path).is_relative_to(graded_class.course.root) or not Path(path).is_relative_to(KIT_ROOT):
        return True
    if Path(path).is_relative_to(KIT_ROOT / ".venv") or not Path(path).is_file():
        return True
    return MARK in Path(path).read_text(errors="replace")


def _processes() -> list[tuple[int, int, str, str]]:
    """(pid, real uid, command line, mounts) of every process but this one's ancestors and itself."""
    mine, pid = set(), os.getpid()
    while pid > 1:
        mine.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            mounts = Path(f"/proc/{entry}/mountinfo").read_text(errors="replace")
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        found.append((int(entry), uid, cmdline, mounts))
    return found


def _descends_from_me(pid: int) -> bool:
    while pid > 1:
        if pid == os.getpid():
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


# ---------------------------------------------------------------------------------------------
# Each attack
# ---------------------------------------------------------------------------------------------


class TestEachAttackOnTheAnomalyDetectionClass:
    """One question per attack, asked of its result and its feedback page."""

    @pytest.mark.parametrize("student", sorted(ATTACKS))
    def test_attack_earns_no_undeserved_point(self, graded_class, student):
        result = graded_class.results[student]
        assert set(result.failed) == set(ATTACKS[student].fails), result.notes
        assert result.score == expected_score(graded_class, student)
        assert result.max_score == sum(graded_class.points.values())

    @pytest.mark.parametrize("student", sorted(s for s, attack in ATTACKS.items() if attack.note))
    def test_attack_notes_name_what_it_hit(self, graded_class, student):
        notes = graded_class.results[student].notes
        said = ATTACKS[student].note.split("|")  # any one of the outcomes the attack's note names
        assert any(outcome in note.text for outcome in said for note in notes), notes

    @pytest.mark.parametrize("student", sorted(ATTACKS))
    def test_attack_feedback_holds_no_secret(self, graded_class, secrets, student):
        assert leaks(graded_class, secrets, student) == []

    @pytest.mark.parametrize(
        "student", sorted(s for s, attack in ATTACKS.items() if attack.family in ("html-js", "output"))
    )
    def test_attack_feedback_runs_none_of_its_markup(self, graded_class, student):
        page = feedback_page(graded_class, student)
        assert page.is_file()
        assert active_content(page) == []


# ---------------------------------------------------------------------------------------------
# The class as a whole
# ---------------------------------------------------------------------------------------------


class TestTheAnomalyDetectionClassUnderAttack:
    """The honest students, the rest of the class, the course and the machine after the attacks."""

    @pytest.mark.parametrize("student", HONEST)
    def test_honest_student_keeps_full_marks(self, graded_class, student):
        result = graded_class.results[student]
        assert (result.score, result.failed, result.notes) == (sum(graded_class.points.values()), [], [])

    @pytest.mark.parametrize("student", CLASSMATES)
    def test_classmate_of_the_attackers_keeps_the_expected_score(self, graded_class, student):
        assert graded_class.results[student].score == expected_score(graded_class, student)

    @pytest.mark.parametrize("student", HONEST)
    def test_honest_feedback_shows_no_secret_and_no_active_markup(self, graded_class, secrets, student):
        """The two checks above, on pages that must pass them: neither finds anything in an honest page."""
        assert leaks(graded_class, secrets, student) == []
        assert active_content(feedback_page(graded_class, student)) == []

    def test_no_submission_holds_the_grader_still_long_enough_to_stop_a_classmates_run(self, graded_class):
        """This process follows every run; while it stands still (a submission's check holding the
        interpreter's lock, say), the cells of the runs it follows seem to hang, and a cell that
        seems to hang longer than the wait for an interrupted kernel is stopped."""
        assert graded_class.watch.longest_stall < TEST_LIMITS["ExecuteInSandbox.responsive_wait"]

    def test_every_submission_is_byte_identical_after_grading(self, graded_class):
        watch = graded_class.watch
        changed = {}
        for student in watch.students:
            before, after = watch.submissions_before[student], watch.submissions_after[student]
            differ = sorted(
                name
                for name in before.keys() | after.keys()
                if before.get(name) != after.get(name) and not (name == GRADER_STAMP and name not in before)
            )
            if differ:
                changed[student] = differ
        assert changed == {}

    def test_every_graded_notebook_is_byte_identical_to_when_its_student_was_graded(self, graded_class):
        watch = graded_class.watch
        assert set(watch.autograded_when_graded) == set(watch.students)
        changed = [s for s in watch.students if watch.autograded_when_graded[s] != watch.autograded_after[s]]
        assert changed == []

    def test_no_feedback_page_is_written_while_the_class_is_graded(self, graded_class):
        watch = graded_class.watch
        assert integrity.changes(watch.feedback_before, watch.feedback_after_grading) == []

    def test_the_grader_files_are_unchanged(self, graded_class):
        watch = graded_class.watch
        changed = [
            path
            for path in integrity.changes(watch.fingerprint_before, watch.fingerprint_after)
            if _changed_by_grading(graded_class, path)
        ]
        assert changed == []

    def test_the_kit_bytecode_caches_hold_no_planted_code(self, graded_class):
        """The integrity fingerprint leaves out __pycache__: a planted .pyc would be loaded by the next grader.
        (A .pyc the grader itself writes for a module it imports for the first time is no change of interest.)"""
        watch = graded_class.watch
        changed = integrity.changes(watch.pycache_before, watch.pycache_after)
        assert [path for path in changed if Path(path).is_file() and MARK.encode() in Path(path).read_bytes()] == []

    def test_the_course_cache_is_unchanged(self, graded_class):
        watch = graded_class.watch
        assert watch.cache_before is not None
        assert integrity.changes(watch.cache_before, watch.cache_after) == []

    def test_the_real_ipython_has_no_new_startup_file(self, graded_class):
        watch = graded_class.watch
        assert watch.startup_after == watch.startup_before
        assert not list((Path.home() / ".ipython").glob(f"profile_*/startup/*{MARK}*"))

    def test_the_grader_ipython_and_jupyter_configuration_is_unchanged(self, graded_class):
        watch = graded_class.watch
        assert integrity.changes(watch.home_before, watch.home_after) == []

    def test_nothing_planted_is_left_in_the_course_or_the_environment(self, graded_class):
        course = graded_class.course
        places = [
            course.root,
            Path.home() / ".ipython",
            KIT_ROOT / "grading",
            KIT_ROOT / "solutions",
            KIT_ROOT / "assignments",
        ]
        found = [str(path) for place in places for path in place.rglob(f"*{MARK}*")]
        found += [str(path) for path in site_packages().glob(f"*{MARK}*")]
        holders = [
            numpy_numeric_source(),
            KIT_ROOT / "grading" / "verdicts" / "hidden_tests" / f"{LAB}.py",
            Path.home() / ".jupyter" / "nbgrader_config.py",
            course.root / "nbgrader_config.py",
            KIT_ROOT / "nbgrader_config.py",
            course.releases / LAB / "utils.py",
            course.releases / LAB / "public_tests.py",
            site_packages() / "sitecustomize.py",
        ]
        found += [str(path) for path in holders if path.is_file() and MARK in path.read_text()]
        assert found == []

    def test_the_gradebook_has_no_trigger_and_still_holds_every_score(self, graded_class):
        time.sleep(2)  # anything left behind to rewrite the gradebook later has had its chance
        course = graded_class.course
        database = sqlite3.connect(course.root / "records" / "gradebook.db")
        try:
            assert database.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() == []
        finally:
            database.close()
        from grading.classwork.autograde_class import scores

        api = course.nbgrader_api()
        now = {student: scores(api.coursedir, LAB, student)[0] for student in graded_class.results}
        assert now == {student: result.score for student, result in graded_class.results.items()}

    def test_nothing_of_the_attackers_remains_running(self, graded_class):
        root = str(graded_class.course.root)
        left = [
            f"{pid} (uid {uid}): {cmdline[:120]}"
            for pid, uid, cmdline, mounts in _processes()
            if MARK in cmdline or (uid == SANDBOX_UID and (root in mounts or _descends_from_me(pid)))
        ]
        assert left == []

    def test_the_loopback_server_saw_no_connection(self, graded_class):
        assert loopback().connections == []


# ---------------------------------------------------------------------------------------------
# What the instructor reads: the notes, wherever they are shown or kept
# ---------------------------------------------------------------------------------------------


def controls(text: str) -> list[str]:
    """Characters of `text` a terminal or a page could act on (control and format characters), but line breaks."""
    return [hex(ord(char)) for char in text if unicodedata.category(char) in ("Cc", "Cf") and char != "\n"]


@pytest.fixture(scope="module")
def report_command(graded_class) -> subprocess.CompletedProcess:
    """`python -m grading report` on the graded class, as the instructor runs it."""
    return subprocess.run(
        [sys.executable, "-m", "grading", "report", LAB, "--course", str(graded_class.course.root)],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def failed_sections(page: Path) -> list[str]:
    """The text of each grade cell a feedback page shows as failed."""
    sections = re.findall(r'<section class="graded fail".*?</section>', page.read_text(errors="replace"), re.S)
    return [html.unescape(re.sub(r"<[^>]*>", " ", section)) for section in sections]


class TestWhatTheInstructorReads:
    """Notes come from what the grader saw, and no text of a student's can act on a terminal or a page."""

    def test_the_progress_lines_of_autograde_hold_no_control_character(self, graded_class):
        assert {line: controls(line) for line in graded_class.watch.lines if controls(line)} == {}

    def test_the_report_command_prints_no_control_character(self, graded_class, report_command):
        assert report_command.returncode == 0, report_command.stderr
        assert controls(report_command.stdout) == []
        assert controls(report_command.stderr) == []
        row = next(line for line in report_command.stdout.splitlines() if line.startswith(FORGED_KERNEL_DEATH + " "))
        assert row.split()[1:3] == ["10", "20"] and "the kernel died" not in row

    def test_the_report_and_the_journal_keep_no_control_character(self, graded_class):
        reports = graded_class.course.reports
        journal = (reports / f"{LAB}.journal.jsonl").read_text()
        rows = json.loads((reports / f"{LAB}.json").read_text())
        kept = [entry["result"] for entry in map(json.loads, journal.splitlines())] + rows
        assert {row["student"] for row in rows} == set(graded_class.results)
        assert controls(journal) == [] and controls((reports / f"{LAB}.json").read_text()) == []
        assert [
            row["student"]
            for row in kept
            if controls(" ".join([note["text"] for note in row["notes"]] + row["failed"]))
        ] == []

    def test_the_class_page_holds_no_control_character(self, graded_class, report_command):
        page = (graded_class.course.reports / f"{LAB}.html").read_text()
        assert controls(page) == []

    def test_an_exception_named_like_the_grader_s_makes_no_note(self, graded_class):
        notes = graded_class.results[FORGED_KERNEL_DEATH].notes
        assert not any("the kernel died" in note.text or "20/20" in note.text for note in notes), notes

    def test_no_feedback_page_shows_a_pass_in_a_grade_cell_that_failed(self, graded_class):
        shown = [
            student
            for student in graded_class.results
            if feedback_page(graded_class, student).is_file()
            and any("All tests passed" in text for text in failed_sections(feedback_page(graded_class, student)))
        ]
        assert shown == []


# ---------------------------------------------------------------------------------------------
# The attacks themselves
# ---------------------------------------------------------------------------------------------


class TestTheAnomalyDetectionAttacks:
    """The list of attacks."""

    def test_there_are_at_least_40_attacks(self):
        assert len(ATTACKS) >= 40

    @pytest.mark.parametrize("family", FAMILIES)
    def test_every_family_has_an_attack(self, family):
        assert [student for student, attack in ATTACKS.items() if attack.family == family]

    @pytest.mark.parametrize("student", sorted(ATTACKS))
    def test_every_attack_says_what_the_student_tries(self, student):
        attack = ATTACKS[student]
        assert attack.family in FAMILIES
        assert len(attack.what.splitlines()) == 1 and attack.what.endswith(".")


# ---------------------------------------------------------------------------------------------
# Isolation: nothing one run leaves is reachable from another run, the host or the grader's channel
# ---------------------------------------------------------------------------------------------


def graded_notebook(graded_class, student: str) -> nbformat.NotebookNode:
    return nbformat.read(graded_class.course.autograded / student / LAB / f"{LAB}.ipynb", as_version=4)


def shown(cell) -> str:
    """What a cell of a graded notebook shows: its streams, errors and plain-text results."""
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            texts.append(f"{output.get('ename', '')}: {output.get('evalue', '')}")
        texts += [output.get("text", ""), str(output.get("data", {}).get("text/plain", ""))]
    return "\n".join(text for text in texts if text)


def notebook_shows(graded_class, student: str) -> str:
    return "\n".join(shown(cell) for cell in graded_notebook(graded_class, student).cells)


@functools.cache
def hidden_digit_runs(records: Path, students: tuple[str, ...], results: bool) -> set[str]:
    """The leading significant digits (7 to 10 of them, rounded as a print would) of every argument of the
    hidden cases of estimate_gaussian drawn for `students` that the lab does not publish, and with
    `results` of the right results for them (which the grader's own note on a wrong answer shows)."""
    import numpy as np

    from grading.verdicts.hidden_tests.anomaly_detection import EXERCISES, reference_estimate_gaussian
    from grading.verdicts.student_cases import course_secret, seed_for

    secret, exercise = course_secret(records), EXERCISES["test_estimate_gaussian"]
    runs = set()
    for case in (case for student in students for case in exercise.cases_for(seed_for(secret, LAB, student))):
        if case.fixed:  # the lab's own data
            continue
        arrays = (case.args[0], *reference_estimate_gaussian(case.args[0])) if results else case.args
        for value in map(float, np.concatenate([np.ravel(array) for array in arrays])):
            if len(repr(abs(value)).replace(".", "").strip("0")) < 8:  # a short decimal, like 2.0 or 5.6
                continue
            runs |= {f"{abs(value):.{digits - 1}e}".split("e")[0].replace(".", "") for digits in range(7, 11)}
    return runs


def class_digit_runs(graded_class, results: bool) -> set[str]:
    """`hidden_digit_runs` of every student of the graded class."""
    return hidden_digit_runs(graded_class.course.records, tuple(sorted(graded_class.results)), results)


def digit_runs_shown(text: str, runs: set[str]) -> list[str]:
    """The numbers written in `text` whose leading significant digits are one of `runs`."""
    numbers = [re.sub(r"\D", "", number).lstrip("0") for number in re.findall(r"\d+(?:\.\d+)?", text)]
    return [number for number in numbers if any(number[:length] in runs for length in range(7, 11))]


ISOLATION = sorted(student for student, attack in ATTACKS.items() if attack.family == "isolation")


class TestNoRunReachesAnother:
    """Suppliers store the hidden cases' right results in a channel from their verdict runs; takers look
    their arguments up there. A run also tries the host's memory, a new user namespace, the grader's
    channel and every other process."""

    @pytest.mark.parametrize("student", sorted(ISO_TAKERS))
    def test_every_taker_scores_exactly_as_the_wrong_answer_does(self, graded_class, student):
        result = graded_class.results[student]
        full = sum(graded_class.points.values())
        assert (result.score, result.failed) == (full - graded_class.points[EX1], [EX1]), result.notes

    @pytest.mark.parametrize("student", sorted(ISO_TAKERS))
    def test_no_taker_finds_a_record_of_another_run(self, graded_class, student):
        notebook = notebook_shows(graded_class, student)
        page = html.unescape(feedback_page(graded_class, student).read_text(errors="replace"))
        assert "lookup: not found" in notebook  # its notebook run did look
        for text in (notebook, page):
            assert "lookup: found" not in text
            assert re.search(r"records: [1-9]", text) is None

    @pytest.mark.parametrize("student", ISOLATION + list(HONEST))
    def test_no_feedback_page_shows_a_digit_run_of_the_hidden_arguments(self, graded_class, student):
        page = html.unescape(feedback_page(graded_class, student).read_text(errors="replace"))
        assert digit_runs_shown(page, class_digit_runs(graded_class, results=False)) == []

    @pytest.mark.parametrize("student", ISOLATION + list(HONEST))
    def test_no_printed_output_shows_a_digit_run_of_the_hidden_cases_or_their_results(self, graded_class, student):
        printed = [
            output
            for cell in graded_notebook(graded_class, student).cells
            for output in cell.get("outputs", [])
            if output.get("output_type") != "error"
        ]
        assert digit_runs_shown(shown({"outputs": printed}), class_digit_runs(graded_class, results=True)) == []

    def test_no_system_v_object_is_left_on_the_host(self, graded_class):
        watch = graded_class.watch
        assert sorted(watch.sysv_after - watch.sysv_before) == []

    def test_the_detached_segments_hold_no_memory_of_the_host_after_grading(self, graded_class):
        watch = graded_class.watch
        assert DETACHED_SHM_MEMORY in graded_class.results
        assert watch.shared_memory_after - watch.shared_memory_before < 2 << 30

    @pytest.mark.parametrize("channel", sorted(set(ISO_CHANNELS) - {"stderr"}))
    def test_no_channel_of_a_supplier_is_left_on_the_host(self, graded_class, channel):
        """The taker's own look-up, run on the host: the channel must not exist there."""
        namespace: dict = {}
        exec(iso_channel_source(channel), namespace)
        with pytest.raises(OSError):
            namespace["_iso_records"]()

    def test_no_new_user_namespace_is_granted(self, graded_class):
        notebook = notebook_shows(graded_class, NESTED_USER_NAMESPACE)
        assert "unshare -Ur:" in notebook and "unshare(CLONE_NEWUSER): refused" in notebook
        assert "allowed" not in notebook

    def test_forged_events_show_no_pass_and_the_cells_after_the_exit_are_not_run(self, graded_class):
        notebook = graded_notebook(graded_class, FORGED_EVENTS)
        start = answer_index(notebook)
        later = [cell for index, cell in enumerate(notebook.cells) if cell.cell_type == "code" and index > start]
        assert [shown(cell) for cell in later if "All tests passed" in shown(cell)] == []
        assert any(output.get("output_type") == "error" for output in later[0].outputs)  # where the run was stopped
        assert [shown(cell) for cell in later[1:] if NOT_RUN not in shown(cell)] == []
        failed = failed_sections(feedback_page(graded_class, FORGED_EVENTS))
        assert failed and not any("All tests passed" in text for text in failed)

"""Grading as an ordinary user: an instructor without root grades with the same sandbox.

The test makes a local user (`useradd`), gives it a copy of the course, and runs the README's
`python -m grading autograde` as that user: bubblewrap starts in a user namespace, each run gets
a user namespace of its own (user 1000 inside, no capabilities). Without a cgroup the user may
write, grading says in one line which guarantee is missing and the report names it; with one
delegated by an administrator (as the README shows), each run is counted as a whole.

Where this machine's Python lies in a folder other users cannot enter (a root-only home), the
test lets the user reach it in a private mount namespace, as a shared install would be reachable.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading.cli import copy_course
from grading.course import KIT_ROOT, Course
from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of, write_submission
from grading.sandbox import cgroups
from grading.sandbox.launch import python_roots

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="makes a local user: needs root"),
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("useradd") is None, reason="needs useradd to make a local user"),
]

USER = "course-grader-test"
LAB = "anomaly_detection"
STUDENTS = {"correct_loops": 20, "sample_variance": 10}
DELEGATED = "course-kit-delegated-test"


@pytest.fixture(scope="module")
def user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
        return pwd.getpwnam(USER)


def _closed_folders(paths: list[Path]) -> list[Path]:
    """The outermost folders above `paths` that other users cannot enter."""
    closed = []
    for path in paths:
        for folder in reversed(path.parents):
            if folder != Path("/") and not os.stat(folder).st_mode & 0o001:
                closed.append(folder)
                break
    return sorted(set(closed))


def as_user(user: pwd.struct_passwd, command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`command` run as `user`, with the kit and its Python reachable (see the module's docstring)."""
    needed = [*python_roots(), KIT_ROOT]
    script = []
    for number, folder in enumerate(_closed_folders(needed)):
        inside = [path for path in needed if folder in path.parents]
        for index, path in enumerate(inside):
            script.append(
                f"mkdir -p /run/hold-{number}-{index} && mount --bind {shlex.quote(str(path))} /run/hold-{number}-{index}"
            )
        script.append(f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(str(folder))}")
        for index, path in enumerate(inside):
            script.append(
                f"mkdir -p {shlex.quote(str(path))} && mount --move /run/hold-{number}-{index} {shlex.quote(str(path))}"
            )
    environment = f"HOME={shlex.quote(user.pw_dir)} PATH={shlex.quote(str(Path(sys.executable).parent))}:/usr/bin:/bin"
    script.append(
        f"exec setpriv --reuid={user.pw_uid} --regid={user.pw_gid} --init-groups env -i {environment} "
        + " ".join(shlex.quote(part) for part in command)
    )
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", " && ".join(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def users_course(user) -> Course:
    """A copy of the course in the user's home, owned by the user, with a correct and a wrong submission."""
    folder = Path(user.pw_dir) / f"course-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    course = copy_course(Course(), folder / "course")
    from grading.cli import release

    release(course, [LAB])
    entries = {entry.name: entry for entry in corpus(LAB)}
    release_notebook = released_notebook(course, LAB)
    for student in STUDENTS:
        write_submission(course, LAB, student, submission_of(entries[student], entries[BASE_ENTRY], release_notebook))
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(folder)], check=True)
    yield course
    shutil.rmtree(folder, ignore_errors=True)


def grade(user, course: Course, *options: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = as_user(
        user,
        [
            sys.executable,
            "-m",
            "grading",
            "autograde",
            LAB,
            "--course",
            str(course.root),
            "--force",
            "--workers",
            "1",
            *options,
        ],
        cwd=course.root,
    )
    report = course.reports / f"{LAB}.json"
    results = {item["student"]: item for item in json.loads(report.read_text())} if report.exists() else {}
    return done, results


def test_an_ordinary_user_grades_a_class_and_is_told_what_it_lacks_without_a_cgroup(user, users_course):
    done, results = grade(user, users_course)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert {student: result["score"] for student, result in results.items()} == STUDENTS
    warnings = [line for line in done.stdout.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == 1 and "per process only" in warnings[0], done.stdout
    assert all(
        any("per-process limits only" in note["text"] for note in result["notes"]) for result in results.values()
    )


@pytest.fixture
def delegated_cgroup(user):
    """What an administrator does once (README): a cgroup the user may manage, per controller."""
    made = []
    for hierarchy in cgroups.hierarchies():
        if hierarchy.version == 1 and hierarchy.controllers & {"memory", "pids", "cpu", "cpuacct"}:
            folder = hierarchy.mount / DELEGATED
            folder.mkdir(exist_ok=True)
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(folder)], check=True)
            made.append(folder)
    if not made:
        pytest.skip("no cgroup v1 controllers to delegate on this machine")
    yield DELEGATED
    for folder in made:
        for leaf in sorted(folder.glob("**/"), key=lambda path: -len(path.parts)):
            if leaf != folder:
                leaf.rmdir()
        folder.rmdir()


def test_with_a_delegated_cgroup_an_ordinary_user_grades_with_every_guarantee(user, users_course, delegated_cgroup):
    config = users_course.root / "nbgrader_config.py"
    original = config.read_text()
    config.write_text(original + f"\nc.Sandbox.cgroup = {delegated_cgroup!r}\n")  # as the README says
    try:
        done, results = grade(user, users_course)
    finally:
        config.write_text(original)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert {student: result["score"] for student, result in results.items()} == STUDENTS
    assert "WARNING" not in done.stdout, done.stdout
    assert not any(result["notes"] for result in results.values()), results

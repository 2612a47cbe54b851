"""`grading.hub.site`: what `make hub` lays out before JupyterHub starts: the course locked from
other accounts, each role's nbgrader extensions and the students' submit limits, and demo accounts
that never take over an account the hub did not make."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from browser.hub import readable_as
from traitlets.config import Config

from grading.course import Course
from grading.errors import CommandError
from grading.hub import site
from grading.hub.accounts import ensure_account

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="makes a local account: needs root")


@needs_root
def test_hub_site_locks_a_course_that_other_accounts_could_read(tmp_path, monkeypatch):
    account = ensure_account("kit-hub-reader")
    open_folder = Path(tempfile.mkdtemp(prefix="kit-course-", dir="/tmp"))  # pytest's own is root's only
    open_folder.chmod(0o755)
    course = Course(open_folder / "course")
    (course.solutions / "lab").mkdir(parents=True)
    master = course.solutions / "lab" / "lab.ipynb"
    master.write_text("{}")
    (course.root / "nbgrader_config.py").write_text("")
    for path in (course.root, course.solutions, master.parent):
        path.chmod(0o755)
    master.chmod(0o644)
    monkeypatch.setattr(site, "KIT_ROOT", tmp_path / "no-kit-here")
    assert readable_as(account.pw_name, master)  # as a checkout leaves it, with umask 022

    site.lock_course(course)
    assert not readable_as(account.pw_name, master)
    assert not readable_as(account.pw_name, course.root / "nbgrader_config.py")
    shutil.rmtree(open_folder)


def test_hub_site_gives_students_the_assignment_list_only_and_the_courses_attempt_limits(tmp_path):
    config = Config()
    config.CourseDirectory.course_id = "a-course"
    config.AttemptPolicy.attempts, config.AttemptPolicy.per_hour = 2, 1
    for role in site.ROLES:
        site.write_role_config(tmp_path / role, role, config, tmp_path / "exchange")
    student = json.loads((tmp_path / "student" / "jupyter_server_config.json").read_text())
    loaded = {name for name, on in student["ServerApp"]["jpserver_extensions"].items() if on}
    assert loaded == {"nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.validate_assignment"}
    hidden = json.loads((tmp_path / "student" / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(hidden)
    settings = json.loads((tmp_path / "student" / "nbgrader_config.json").read_text())
    assert settings["LimitedSubmit"] == {"attempts": 2, "per_hour": 1}
    assert settings["Exchange"]["root"] == str(tmp_path / "exchange")
    formgrader = json.loads((tmp_path / "formgrader" / "jupyter_server_config.json").read_text())
    assert formgrader["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is True
    assert not (tmp_path / "formgrader" / "nbgrader_config.json").exists()  # formgrader reads the course's


@needs_root
def test_hub_site_never_takes_over_an_account_it_did_not_make(tmp_path):
    ensure_account("kit-hub-otherinstructor")
    with pytest.raises(
        CommandError, match="an account named kit-hub-otherinstructor exists and this hub did not make it"
    ):
        site.make_accounts(tmp_path, 0, "kit-hub-other")


def test_hub_site_leaves_the_graders_environment_in_the_course_open_to_the_sandboxes(tmp_path, monkeypatch):
    course = Course(tmp_path / "course")
    (course.root / ".venv" / "bin").mkdir(parents=True)
    (course.solutions).mkdir()
    monkeypatch.setattr(site, "python_roots", lambda: [course.root / ".venv", Path("/usr")])
    locked = site.instructors_only(course)
    assert course.solutions in locked and course.root in locked
    assert course.root / ".venv" not in locked

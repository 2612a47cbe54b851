"""The grader's own files are checked before and after every command."""

from __future__ import annotations

import shutil

import pytest

from grading import integrity
from grading.course import Course


@pytest.fixture
def course(tmp_path, repo_root) -> Course:
    root = tmp_path / "course"
    (root / "records").mkdir(parents=True)
    shutil.copy(repo_root / "nbgrader_config.py", root)
    shutil.copytree(
        repo_root / "solutions", root / "solutions", symlinks=True, ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    return Course(root)


def test_a_change_while_a_command_runs_stops_it(course):
    with pytest.raises(integrity.IntegrityError, match="changed while it ran .*nbgrader_config.py"):
        with integrity.unchanged(course, "autograde"):
            with open(course.root / "nbgrader_config.py", "a") as config:
                config.write("\nc.Autograde.autograde_preprocessors = []\n")


def test_a_change_between_commands_is_named_by_the_next_command(course):
    with integrity.unchanged(course, "autograde"):
        pass
    (course.root / "solutions" / "planted.py").write_text("print('hello')")
    said: list[str] = []
    with integrity.unchanged(course, "export", warn=said.append):
        pass
    assert len(said) == 1 and "since the last grading command" in said[0] and "planted.py" in said[0]
    with integrity.unchanged(course, "export", warn=said.append):
        pass
    assert len(said) == 1


def test_an_unchanged_course_passes(course):
    for command in ("autograde", "feedback", "export"):
        with integrity.unchanged(course, command):
            pass


def test_jupyterlabs_own_settings_are_not_the_graders_files_but_jupyters_configuration_is(
    course, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    (home / ".jupyter").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    before = integrity.fingerprint(course)
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "themes.jupyterlab-settings").write_text('{"theme": "JupyterLab Dark"}')
    (home / ".jupyter" / "migrated").write_text("2026-12-02")
    assert integrity.changes(before, integrity.fingerprint(course)) == []
    (home / ".jupyter" / "nbgrader_config.py").write_text("c.ClearSolutions.code_stub = {}\n")
    assert integrity.changes(before, integrity.fingerprint(course)) != []


def test_a_file_rewritten_deep_in_the_environment_is_named_by_its_folder_four_levels_down(tmp_path):
    environment = tmp_path / "env"
    deep = environment / "lib" / "python3.11" / "site-packages" / "numpy" / "linalg" / "tests"
    deep.mkdir(parents=True)
    module = deep / "test_linalg.py"
    module.write_text("x = 1\n")
    (deep / "__pycache__").mkdir()
    before = integrity._summary(environment)
    (deep / "__pycache__" / "test_linalg.cpython-311.pyc").write_bytes(b"bytecode")
    assert integrity.changes(before, integrity._summary(environment)) == []
    module.write_text("x = 2\n")  # same size, a new time
    assert integrity.changes(before, integrity._summary(environment)) == [
        str(deep.parent.parent)
    ]  # .../site-packages/numpy

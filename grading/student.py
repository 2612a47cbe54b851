"""`make student LAB=<lab>`: a student's own copy of a lab, opened in JupyterLab with the student's tools only.

    python -m grading.student LAB [--work-dir DIR] [JUPYTER LAB OPTIONS...]

1. The lab's release, `assignments/<lab>/` (the notebook, `utils.py`, `public_tests.py`, `data/`), is
   copied to the student's working folder, `~/course-work/<lab>/` (or `--work-dir DIR`/<lab>, or
   `$COURSE_WORK_DIR/<lab>`). Only what is missing there is copied: a student's notebook, or any
   other file already there, is never overwritten, and the command says which files it kept.
   The committed release is never opened, so saving never touches the course's files.
2. JupyterLab starts in that folder, with a Jupyter configuration folder of its own,
   `<work root>/.jupyter/` (JUPYTER_CONFIG_DIR), refreshed at every start from the kit's
   `student/jupyter_config/`: nbgrader's instructor tools are off (the Create Assignment sidebar,
   Formgrader and the Course List, in the page and on the server), the student's stay (the
   notebook's Validate button and the Assignment List). JupyterLab writes the student's settings
   and workspaces there too, never into the course.
3. Nothing of the grader's environment reaches the student's kernel: no COURSE_KIT_* variables
   (COURSE_KIT_CACHE_DIR would point the time-series lab at the grader's cache) and no MPLBACKEND
   (the Makefile's Agg would hide the figures); its IPython folder (IPYTHONDIR: history, start-up
   files) is `<work root>/.ipython/`, not the instructor's `~/.ipython`, which the grader
   fingerprints. Started outside the course, nbgrader finds no `nbgrader_config.py` of the
   instructor's.

The tests (tests/browser) start the same environment with `prepare` and `jupyter_command`.
"""

from __future__ import annotations

import argparse
import filecmp
import fnmatch
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grading.course import KIT_ROOT, Course
from grading.errors import StudentError

CONFIG_TEMPLATE = KIT_ROOT / "student" / "jupyter_config"
WORK_ROOT_VARIABLE = "COURSE_WORK_DIR"
DEFAULT_WORK_ROOT = Path("~/course-work")
CONFIG_FOLDER = ".jupyter"  # in the work root: the student environment's JUPYTER_CONFIG_DIR
IPYTHON_FOLDER = ".ipython"  # in the work root: its kernels' IPYTHONDIR (history, start-up files)
# Files of a lab's folder that are not part of its release.
NOT_RELEASED = (".ipynb_checkpoints", "__pycache__", ".autoencoder_cache", "*.pyc")
# The grader's variables, never passed on to the student's server and kernels.
DROPPED_PREFIXES = ("COURSE_KIT_",)
# JupyterLab keeps settings and workspaces in JUPYTER_CONFIG_DIR unless these say otherwise.
DROPPED_VARIABLES = ("MPLBACKEND", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")


@dataclass
class Workspace:
    """A student's copy of one lab, and the Jupyter configuration folder it opens with."""

    lab: str
    release: Path
    folder: Path
    config_dir: Path
    copied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    kept_differing: list[str] = field(default_factory=list)

    @property
    def notebook(self) -> Path:
        return self.folder / f"{self.lab}.ipynb"

    @property
    def ipython_dir(self) -> Path:
        return self.config_dir.parent / IPYTHON_FOLDER


def work_root(work_dir: str | os.PathLike | None = None) -> Path:
    """`work_dir`, else $COURSE_WORK_DIR, else ~/course-work; refused inside the course's tracked files."""
    chosen = work_dir or os.environ.get(WORK_ROOT_VARIABLE) or DEFAULT_WORK_ROOT
    root = Path(chosen).expanduser().resolve()
    kit = KIT_ROOT.resolve()
    if (root == kit or kit in root.parents) and not (root == kit / "build" or kit / "build" in root.parents):
        raise StudentError(
            f"the working folder {root} is inside the course kit ({kit}); choose one outside it, "
            f"e.g. {DEFAULT_WORK_ROOT} (or one under {kit / 'build'})"
        )
    return root


def _released_files(release: Path) -> list[Path]:
    found = []
    for current, dirs, files in os.walk(release):
        dirs[:] = sorted(d for d in dirs if not any(fnmatch.fnmatch(d, pattern) for pattern in NOT_RELEASED))
        for name in sorted(files):
            if not any(fnmatch.fnmatch(name, pattern) for pattern in NOT_RELEASED):
                found.append(Path(current, name).relative_to(release))
    return found


def prepare(lab: str, work_dir: str | os.PathLike | None = None, course: Course | None = None) -> Workspace:
    """Copy what is missing of the lab's release into the student's folder, refresh the Jupyter
    configuration folder from the kit's template, and say what was done in the returned Workspace."""
    course = course or Course()
    release = course.releases / lab
    labs = (
        sorted(folder.name for folder in course.releases.iterdir() if (folder / f"{folder.name}.ipynb").is_file())
        if course.releases.is_dir()
        else []
    )
    if lab not in labs:
        raise StudentError(f"no lab '{lab}' in {course.releases}: choose one of {', '.join(labs) or '(none)'}")
    root = work_root(work_dir)
    workspace = Workspace(lab, release, root / lab, root / CONFIG_FOLDER)
    files = _released_files(release)
    missing = [name for name in _datasets(course, lab) if not (release / "data" / name).is_file()]
    if missing:
        raise StudentError(
            f"{release / 'data'} lacks {', '.join(missing)}: run `make setup` first (it fetches the datasets)"
        )
    for relative in files:
        source, target = release / relative, workspace.folder / relative
        if target.exists() or target.is_symlink():
            workspace.kept.append(str(relative))
            if relative.suffix != ".ipynb" and target.is_file() and not filecmp.cmp(source, target, shallow=False):
                workspace.kept_differing.append(str(relative))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.suffix == ".ipynb":
            _copy_for_this_kernel(source, target)
        else:
            shutil.copy2(source, target)
        workspace.copied.append(str(relative))
    _refresh_config(workspace.config_dir)
    return workspace


def _copy_for_this_kernel(source: Path, target: Path) -> None:
    """Copy a notebook with the language details this environment's kernel reports: JupyterLab
    writes them into the notebook when the kernel starts, and would otherwise show the notebook
    as modified the moment it opens. Only the notebook's metadata differs from the release."""
    from ipykernel.ipkernel import IPythonKernel

    notebook = json.loads(source.read_text(encoding="utf-8"))
    notebook.setdefault("metadata", {})["language_info"] = dict(IPythonKernel.language_info)
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    shutil.copystat(source, target)


def _datasets(course: Course, lab: str) -> list[str]:
    """The lab's dataset files named in data/manifest.json (`make setup` puts them in the release)."""
    manifest = course.root / "data" / "manifest.json"
    if not manifest.is_file():
        return []
    return [entry["file"] for entry in json.loads(manifest.read_text()).get("files", []) if entry.get("lab") == lab]


def _refresh_config(config_dir: Path) -> None:
    """The kit's files of the student configuration, written over their copies; anything else
    JupyterLab keeps there (the student's settings, workspaces) is left alone."""
    for relative in _released_files(CONFIG_TEMPLATE):
        target = config_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CONFIG_TEMPLATE / relative, target)


def student_environment(workspace: Workspace, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the student's Jupyter server and kernels: `base` (default: this
    process's) without the grader's variables, with the student configuration and the kit's
    Python environment first on PATH."""
    base = dict(os.environ if base is None else base)
    env = {
        name: value
        for name, value in base.items()
        if name not in DROPPED_VARIABLES and not name.startswith(DROPPED_PREFIXES)
    }
    env["JUPYTER_CONFIG_DIR"] = str(workspace.config_dir)
    env["IPYTHONDIR"] = str(workspace.ipython_dir)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        [bin_dir, *(part for part in env.get("PATH", "").split(os.pathsep) if part != bin_dir)]
    )
    return env


def jupyter_command(workspace: Workspace, extra_args: list[str] = ()) -> list[str]:
    """`jupyter lab <lab>.ipynb`, to run in the student's folder (its root) with `student_environment`."""
    command = [sys.executable, "-m", "jupyterlab", workspace.notebook.name]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers often run everything as root, where Jupyter refuses to start without this.
        command.append("--ServerApp.allow_root=True")
    return [*command, *extra_args]


def describe(workspace: Workspace) -> list[str]:
    """What `prepare` did, in lines for the student."""
    lines = [f"student: your copy of {workspace.lab} is {workspace.folder}"]
    if workspace.copied:
        lines.append(f"student: copied from {workspace.release}: {_summary(workspace.copied)}")
    if workspace.kept:
        lines.append(f"student: kept what was already there, not overwritten: {_summary(workspace.kept)}")
        if workspace.notebook.name in workspace.kept:
            lines.append(f"student: to start again from the release, move {workspace.notebook} away and run this again")
    if workspace.kept_differing:
        lines.append(
            f"student: these differ from the current release (delete them to get its version): "
            f"{', '.join(workspace.kept_differing)}"
        )
    lines.append(f"student: starting JupyterLab with the student's tools (JUPYTER_CONFIG_DIR={workspace.config_dir})")
    return lines


def _summary(paths: list[str]) -> str:
    top = []
    for path in paths:
        first = Path(path).parts[0] + ("/" if len(Path(path).parts) > 1 else "")
        if first not in top:
            top.append(first)
    return f"{', '.join(top)} ({len(paths)} file{'s' if len(paths) != 1 else ''})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.student",
        description=__doc__.split("\n\n")[0],
        epilog="Other options are passed on to `jupyter lab`, e.g. --no-browser --port=8890.",
    )
    parser.add_argument("lab", help="the lab to work on, a folder of assignments/")
    parser.add_argument(
        "--work-dir", help=f"where the labs are copied (default: ${WORK_ROOT_VARIABLE} or {DEFAULT_WORK_ROOT})"
    )
    args, jupyter_args = parser.parse_known_args(argv)
    try:
        workspace = prepare(args.lab, args.work_dir)
    except StudentError as error:
        print(f"student: {error}", file=sys.stderr)
        return 1
    print("\n".join(describe(workspace)), flush=True)
    os.chdir(workspace.folder)
    command = jupyter_command(workspace, jupyter_args)
    os.execve(command[0], command, student_environment(workspace))
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())

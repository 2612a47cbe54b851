"""The course's JupyterHub on this machine: `make hub` (`python -m grading hub`), as root.

`start_hub` reads as its steps:

1. `check_can_host`: root (each student's server runs as that student's account), Debian's
   python for the students' environment, and the proxy from npm (`make hub` installs it).
2. `lay_out_site`: the hub's folder (`/srv/<course id>` unless `--site` says otherwise):
   - `env/`, the students' Python environment: the grader's own packages at the same versions,
     less the kit itself (nothing of the course is installed in it), built from a python every
     account can run;
   - `exchange/`, nbgrader's exchange, open to every account as nbgrader documents;
   - `config/<role>/`, the Jupyter settings of each role's servers (`JUPYTER_CONFIG_DIR`):
     students get nbgrader's Assignment List only, the instructor the course list, whose link
     opens formgrader; the formgrader service gets formgrader only;
   - `state/`, root's alone: the hub's database, its cookie secret, the demo accounts' passwords.
3. `lock_course`: the course's folder becomes unreadable to other accounts (its masters, hidden
   tests, gradebook, submissions and feedback), whatever their umask made it.
4. `make_accounts`: an instructor and `--students` demo students, as real local accounts with
   random passwords; an existing account the hub did not make is never touched.
5. `release_labs`: every lab not yet in the exchange is released there (nbgrader's release_assignment).
6. The hub starts (`jupyterhub` with the kit's `grading/hub/jupyterhub_config.py`, which reads
   `state/hub.json`), with two services: formgrader in the course, and the grading service
   (`python -m grading serve`), which grades each submission as it comes in.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from grading.attempts import AttemptPolicy
from grading.course import KIT_ROOT, Course, put_environment_on_path
from grading.errors import CommandError
from grading.hub.accounts import ensure_account
from grading.sandbox.launch import python_roots

CONFIG = Path(__file__).with_name("jupyterhub_config.py")
PROXY = KIT_ROOT / ".hub-node" / "node_modules" / ".bin" / "configurable-http-proxy"
INSTRUCTOR = "instructor"
# Packages of the grader's environment that a student's server does not need.
GRADER_ONLY = {"pytest", "playwright", "ruff", "psycopg", "psycopg-binary", "copydetect", "distributed", "dask"}
# Packages whose versions decide a lab's numbers, figures or notebook format: the students'
# environment has the grader's versions of these; the rest at the versions its python allows
# (a system python may be older than the grader's, which some current releases refuse).
SAME_VERSIONS = {
    "numpy", "scipy", "scikit-learn", "matplotlib", "ipympl", "ipykernel", "ipython", "nbformat", "nbclient",
    "nbgrader", "jupyterlab", "jupyter-server", "jupyterhub", "pillow", "threadpoolctl", "joblib",
}  # fmt: skip
ROLES = {
    # role: (server extensions on, lab extensions off)
    "student": (
        {"assignment_list": True, "validate_assignment": True, "course_list": False, "formgrader": False},
        ["formgrader", "course-list", "create-assignment"],
    ),
    "instructor": (
        {"assignment_list": False, "validate_assignment": True, "course_list": True, "formgrader": False},
        ["formgrader", "assignment-list", "create-assignment"],
    ),
    "formgrader": (
        {"assignment_list": False, "validate_assignment": True, "course_list": False, "formgrader": True},
        ["assignment-list", "course-list"],
    ),
}


def check_can_host() -> Path:
    """The python the students' environment is built from; one line of error when this machine
    cannot host the hub."""
    if os.geteuid() != 0:
        raise CommandError("the hub runs each student's server as their own account: start it as root (sudo make hub)")
    if not PROXY.is_file():
        raise CommandError(
            f"the hub's proxy is missing at {PROXY}: make hub installs it (npm install configurable-http-proxy)"
        )
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path("/usr/bin") / version, Path("/usr/local/bin") / version):
        if candidate.is_file() and reachable_by_all(candidate.resolve()):
            return candidate
    raise CommandError(
        f"no {version} that every account can run (in /usr/bin or /usr/local/bin): apt-get install {version}"
    )


def reachable_by_all(path: Path) -> bool:
    """Whether any account can reach `path`: every folder above it can be entered by others."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents] if p.is_dir()) and bool(
        path.stat().st_mode & stat.S_IROTH
    )


def lay_out_site(course: Course, site: Path, python: Path, config) -> dict[str, Path]:
    folders = {name: site / name for name in ("env", "exchange", "config", "state")}
    site.mkdir(parents=True, exist_ok=True)
    site.chmod(0o755)
    if not reachable_by_all(site):
        raise CommandError(f"the hub's folder {site} must be reachable by every account: choose --site elsewhere")
    folders["state"].mkdir(exist_ok=True)
    folders["state"].chmod(0o700)
    folders["exchange"].mkdir(exist_ok=True)
    # Every account writes here (nbgrader's docs say 0777); the sticky bit keeps one account from
    # renaming or removing what another made, the course's folder included, which root makes now.
    folders["exchange"].chmod(0o1777)
    (folders["exchange"] / config.CourseDirectory.course_id).mkdir(mode=0o755, exist_ok=True)
    for role in ROLES:
        write_role_config(folders["config"] / role, role, config, folders["exchange"])
    build_students_environment(folders["env"], python)
    return folders


def write_role_config(folder: Path, role: str, config, exchange: Path) -> None:
    """The Jupyter settings of one role's servers: which of nbgrader's extensions they load, and
    for students, the course, its exchange and a submit that keeps to the course's attempts."""
    server, lab_off = ROLES[role]
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    extensions = {f"nbgrader.server_extensions.{name}": on for name, on in server.items()}
    (folder / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": extensions}}))
    disabled = {f"@jupyter/nbgrader:{name}": True for name in lab_off}
    disabled["@jupyterlab/apputils-extension:announcements"] = True  # no news pop-up over the lab
    (folder / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
    if role != "formgrader":  # formgrader reads the course's own configuration, in the course
        policy = AttemptPolicy(config=config)
        settings = {
            "CourseDirectory": {"course_id": config.CourseDirectory.course_id},
            "Exchange": {"root": str(exchange)},
            "ExchangeFactory": {"submit": "course_limited_submit.LimitedSubmit"},
            "LimitedSubmit": {"attempts": policy.attempts, "per_hour": policy.per_hour},
        }
        (folder / "nbgrader_config.json").write_text(json.dumps(settings, indent=1))
    # Jupyter writes `migrated` in its configuration folder once a home has ~/.ipython, and a server
    # that cannot (this folder is root's) fails to start: the file is there already.
    (folder / "migrated").touch()
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def build_students_environment(env: Path, python: Path) -> None:
    """The grader's packages (the versions that decide a lab's results the same), less the kit and
    the grader's own tools, and the hub's submit (`limited_submit.py`) as a module of its own."""
    uv = Path(sys.executable).with_name("uv")
    wanted = []
    for line in run(
        [str(uv), "pip", "freeze", "--python", sys.executable], "listing the grader's packages"
    ).splitlines():
        name = line.split("==")[0].lower()
        if line and not line.startswith("-e ") and name not in GRADER_ONLY:
            wanted.append(line if name in SAME_VERSIONS else name)
    requirements = env / "requirements.txt"
    if not requirements.is_file() or requirements.read_text() != "\n".join(wanted):
        print(f"hub: building the students' environment in {env} (the grader's packages)", flush=True)
        run([str(uv), "venv", "--quiet", "--allow-existing", "--python", str(python), str(env)], "creating it")
        wanted_file = env / "requirements.in"
        wanted_file.write_text("\n".join(wanted))
        run(
            [str(uv), "pip", "install", "--quiet", "--python", str(env / "bin" / "python"), "-r", str(wanted_file)],
            "installing it",
        )
        open_to_all(env)
        requirements.write_text("\n".join(wanted))
    site_packages = next((env / "lib").glob("python3*/site-packages"))
    module = site_packages / "course_limited_submit.py"
    shutil.copyfile(Path(__file__).with_name("limited_submit.py"), module)
    module.chmod(0o644)


def open_to_all(env: Path) -> None:
    """Every account may read the environment and run its programs."""
    for path in [env, *env.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() or mode & stat.S_IXUSR else 0))


def instructors_only(course: Course) -> list[Path]:
    """What no other account may read: the whole course, and the kit's own masters, records,
    hidden tests and corpus (the kit may be installed apart from the course). The grader's Python
    environment is left as it is, wherever it lives: each sandbox runs from it, as its own user."""
    kit = KIT_ROOT / "grading"
    kit_parts = [KIT_ROOT / "solutions", KIT_ROOT / "records", kit / "verdicts" / "hidden_tests", kit / "corpus"]
    environment = python_roots()
    return [
        path
        for path in [course.root, *course.root.iterdir(), *(part for part in kit_parts if part.exists())]
        if path == course.root or not any(root.is_relative_to(path.resolve()) for root in environment)
    ]


def lock_course(course: Course) -> None:
    """Take every permission of other accounts from what is the instructors' only. The students'
    servers run from the site's environment, and the hub's services as root: none needs them."""
    for path in instructors_only(course):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o007)


def make_accounts(state: Path, students: int, prefix: str) -> dict[str, str]:
    """name -> password of the demo accounts: made once, listed in state/accounts.json."""
    listed = state / "accounts.json"
    accounts: dict[str, str] = json.loads(listed.read_text()) if listed.is_file() else {}
    for name in [prefix + INSTRUCTOR, *(f"{prefix}student{i}" for i in range(1, students + 1))]:
        if name in accounts:
            continue
        if name in {account.pw_name for account in pwd.getpwall()}:
            raise CommandError(
                f"an account named {name} exists and this hub did not make it: remove it, or use --students 0"
            )
        accounts[name] = secrets.token_urlsafe(9)
        ensure_account(name, accounts[name])
        listed.write_text(json.dumps(accounts, indent=1))
        listed.chmod(0o600)
    return accounts


def release_labs(course: Course, exchange: Path, course_id: str) -> None:
    """Release to the exchange every lab not there yet."""
    nbgrader = Path(sys.executable).with_name("nbgrader")
    for lab in course.labs():
        if (exchange / course_id / "outbound" / lab).is_dir():
            continue
        run(
            [str(nbgrader), "release_assignment", lab, f"--Exchange.root={exchange}"],
            f"releasing {lab} to the exchange",
            cwd=course.root,
        )
        print(f"hub: released {lab} to the exchange", flush=True)


def run(command: list[str], doing: str, cwd: Path | None = None) -> str:
    """The command's output; one line of error, its last, when it fails. The environment's bin is on
    PATH (nbgrader runs `alembic` by name)."""
    put_environment_on_path()
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    except FileNotFoundError:
        raise CommandError(f"{doing}: {command[0]} is missing (make setup installs the kit's tools)") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise CommandError(f"{doing} failed: {said[-1] if said else f'exit status {done.returncode}'}")
    return done.stdout


def start_hub(course: Course, port: int, site: Path | None, students: int, prefix: str = "") -> NoReturn:
    python = check_can_host()
    api = course.nbgrader_api(register_students=False)
    course_id = api.coursedir.course_id
    site = (site or Path("/srv") / course_id).resolve()
    folders = lay_out_site(course, site, python, api.config)
    lock_course(course)
    accounts = make_accounts(folders["state"], students, prefix)
    release_labs(course, folders["exchange"], course_id)
    settings = {
        "course": str(course.root),
        "course_id": course_id,
        "site": str(site),
        "port": port,
        "kit_python": sys.executable,
        "proxy": str(PROXY),
        "instructors": [prefix + INSTRUCTOR],
        "students": sorted(name for name in accounts if name != prefix + INSTRUCTOR),
    }
    (folders["state"] / "hub.json").write_text(json.dumps(settings, indent=1))
    print(f"hub: http://127.0.0.1:{port}", flush=True)
    for name, password in accounts.items():
        print(
            f"hub: {'instructor' if name == prefix + INSTRUCTOR else 'student'} {name}, password {password}", flush=True
        )
    print(f"hub: the passwords are kept in {folders['state'] / 'accounts.json'}; Ctrl-C stops the hub", flush=True)
    # JupyterHub stops servers and services with SIGINT first: one inherited as ignored (a hub started
    # from a background shell) would make every stop wait for its timeout before SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.chdir(folders["state"])
    os.environ["COURSE_HUB_SETTINGS"] = str(folders["state"] / "hub.json")
    put_environment_on_path()  # the services find the kit's commands, and nbgrader `alembic`
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)])

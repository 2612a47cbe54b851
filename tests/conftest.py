"""Fixtures and helpers shared by the test suite, one section per concern."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from grading.classwork.autograde_class import autograde_class
from grading.classwork.lab_cache import fill_from_master
from grading.cli import copy_course, export, feedback, release
from grading.course import Course
from grading.hub.site import PROXY
from grading.reporting.results import StudentResult
from grading.sample_class import released_notebook, write_sample_class, write_submission
from grading.sandbox.launch import INSTALL_BWRAP

REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# Tiers: what a test needs of the machine (its marker), and one rule that skips it, saying what is
# missing, where the machine lacks it. `make test-fast` runs the tests that need none of them.
# ---------------------------------------------------------------------------------------------

NO_SANDBOX = f"needs bubblewrap (bwrap) to run submitted code in a sandbox: {INSTALL_BWRAP}"
# A test that asks for one of these grades a class, so it needs a sandbox whatever its module.
SANDBOX_FIXTURES = {"graded_classes", "graded_class", "course_template"}


def _missing_browser() -> str | None:
    if shutil.which("chromium") is None:
        return "needs Debian's chromium to drive JupyterLab: apt-get install chromium (.ci/run installs it)"
    if importlib.util.find_spec("playwright") is None:
        return "needs the playwright package: pip install -e '.[test]' (make setup installs it)"
    return None


def _missing_postgres() -> str | None:
    from postgres_server import binaries

    return None if binaries() else "needs PostgreSQL's server: apt-get install postgresql (.ci/run installs it)"


def _missing_dask() -> str | None:
    return None if importlib.util.find_spec("distributed") else "needs Dask's distributed: pip install -e ."


def _missing_hub() -> str | None:
    if os.geteuid() != 0:
        return "needs root: the hub runs each student's server as a local account it creates"
    if shutil.which("npm") is None and not PROXY.is_file():
        return "needs npm for the hub's proxy (configurable-http-proxy): apt-get install npm"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not any(Path(folder, version).is_file() for folder in ("/usr/bin", "/usr/local/bin")):
        return f"needs a {version} every account can run, for the students' servers: apt-get install {version}"
    return None


NEEDS = {  # marker -> what the machine lacks for it (None: nothing)
    "sandbox": lambda: None if shutil.which("bwrap") else NO_SANDBOX,
    "browser": _missing_browser,
    "postgres": _missing_postgres,
    "cluster": _missing_dask,
    "hub": _missing_hub,
}


def needs(item, marker: str) -> bool:
    if marker == "sandbox" and SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return item.get_closest_marker(marker) is not None


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(config, items):
    missing = {marker: why for marker, lacks in NEEDS.items() if (why := lacks())}
    for item in items:
        if needs(item, "sandbox") and not item.get_closest_marker("sandbox"):
            item.add_marker(pytest.mark.sandbox)  # it grades a class through a fixture
        reason = next((why for marker, why in missing.items() if needs(item, marker)), None)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------------------------------------
# Repository
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The root of the course kit's checkout."""
    return REPO_ROOT


# ---------------------------------------------------------------------------------------------
# Lab modules (the utils.py and public_tests.py that a lab's notebook imports)
# ---------------------------------------------------------------------------------------------

LAB_MODULE_NAMES = ("utils", "public_tests", "selfcheck")


def _forget_lab_modules() -> None:
    for name in LAB_MODULE_NAMES:
        sys.modules.pop(name, None)


def import_lab_module(lab: str, name: str) -> ModuleType:
    """Import solutions/<lab>/<name>.py as the lab's notebook does, with its folder first on sys.path.

    The lab modules' names are the same in every lab, so they are dropped from sys.modules
    before and after: each call gives a fresh module, and labs do not see each other's.
    """
    folder = REPO_ROOT / "solutions" / lab
    if not (folder / f"{name}.py").is_file():
        raise FileNotFoundError(f"{folder / name}.py not found: is {lab!r} a lab folder of solutions/?")
    _forget_lab_modules()
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
        _forget_lab_modules()


@pytest.fixture
def anomaly_lab() -> SimpleNamespace:
    """Fresh imports of the anomaly-detection lab's `utils` and `public_tests`."""
    return SimpleNamespace(
        utils=import_lab_module("anomaly_detection", "utils"),
        public_tests=import_lab_module("anomaly_detection", "public_tests"),
    )


# ---------------------------------------------------------------------------------------------
# A scratch course and a whole class autograded in it (real nbgrader, real gradebook)
# ---------------------------------------------------------------------------------------------

# Short limits keep the deliberately stuck submissions quick; real classes use the defaults.
# A run that uses its memory up is killed when it gets there. Memory this machine has not touched
# lately may fill as slowly as 250 MB/s (a virtual machine backs it on first touch): 1 GiB is
# reached in about 4 s at worst, inside the short cell limit, and is three times what an honest
# run of either lab uses (about 300 MiB).
TEST_LIMITS = {
    "ExecuteInSandbox.timeout": 5,
    "VerifyAnswers.timeout": 15,
    "ExecuteInSandbox.responsive_wait": 3,
    "Sandbox.memory_mb": 1024,
}


@dataclass
class GradedClass:
    course: Course
    points: dict[str, float]
    expected_fails: dict[str, frozenset[str]]
    results: dict[str, StudentResult]
    watch: object = None  # the first lab's: the course before, during and after grading (tests/attacks.py)


@pytest.fixture(scope="session")
def kit_course(tmp_path_factory) -> Course:
    """A copy of the kit's course with its release rebuilt from the master by nbgrader."""
    course = copy_course(Course(), tmp_path_factory.mktemp("kit") / "course")
    release(course, [])
    return course


# The second lab trains a network in its notebook: the first correct submission trains it
# (later ones find it in the course's cache) and so do answers that change the training data.
# Every other lab is graded with the short limits.
SLOW_LABS = {"timeseries_autoencoder": {"ExecuteInSandbox.timeout": 30}}


def lab_limits(lab: str) -> dict[str, object]:
    return {**TEST_LIMITS, **SLOW_LABS.get(lab, {})}


@pytest.fixture(scope="session")
def graded_provenance(course_template, tmp_path_factory):
    """A copy of the course in which a right answer, one that keeps the last best epsilon, and two
    that divide the variance by m - 1 (one also flags p <= epsilon) were graded: the course, and
    each student's provenance record."""
    from grading.classwork.autograde_class import autograde_class
    from grading.classwork.provenance import Provenance
    from grading.cli import copy_course
    from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of, write_submission

    lab = "anomaly_detection"
    course = copy_course(course_template, tmp_path_factory.mktemp("provenance") / "course")
    entries = {entry.name: entry for entry in corpus(lab)}
    for name in ("correct_vectorised", "last_best_epsilon", "sample_variance", "both_wrong"):
        write_submission(
            course, lab, name, submission_of(entries[name], entries[BASE_ENTRY], released_notebook(course, lab))
        )
    autograde_class(course, lab, progress=lambda line: None, **lab_limits(lab))
    return course, Provenance(course, lab).latest()


@pytest.fixture(scope="session")
def course_template(kit_course) -> Course:
    """The kit's course with every lab's cache filled from its master, once a session: a test that
    grades a copy of it (`copy_course(course_template, ...)`) runs no master again."""
    for lab in kit_course.labs():
        fill_from_master(kit_course, lab, kit_course.nbgrader_api(**lab_limits(lab)).config)
    return kit_course


def grade_sample_class(course: Course, lab: str) -> GradedClass:
    """The lab's corpus, the unmodified release and a broken file (and, for the first lab, every
    known trick, every attack and two honest students graded before and after them), autograded,
    with feedback and the grades exported."""
    from attacks import ATTACKS, HONEST, ClassWatch, honest_submission, write_attack
    from exploits import EXPLOITS

    expected = write_sample_class(course, lab)
    release_notebook = released_notebook(course, lab)
    watch = None
    if lab == "anomaly_detection":
        for student, (build, fails) in EXPLOITS.items():
            write_submission(course, lab, student, build(release_notebook))
            expected[student] = frozenset(fails)
        for student, attack in ATTACKS.items():
            write_attack(course, lab, student, attack, release_notebook)
            expected[student] = attack.fails
        for student in HONEST:
            write_submission(course, lab, student, honest_submission(release_notebook))
            expected[student] = frozenset()
        watch = ClassWatch(course, lab)
    results = autograde_class(course, lab, progress=watch.progress if watch else print, **lab_limits(lab))
    if watch:
        watch.graded()
    feedback(course, lab)
    export(course)
    if watch:
        watch.finished()
    points = {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["points"]
        for cell in release_notebook.cells
        if cell.metadata["nbgrader"].get("grade")
    }
    return GradedClass(course, points, expected, {result.student: result for result in results}, watch)


@pytest.fixture(scope="session")
def graded_classes(kit_course):
    """graded_classes(lab): that lab's sample class, autograded the first time it is asked for."""
    done: dict[str, GradedClass] = {}

    def graded(lab: str) -> GradedClass:
        if lab not in done:
            done[lab] = grade_sample_class(kit_course, lab)
        return done[lab]

    return graded


@pytest.fixture(scope="session")
def graded_class(graded_classes) -> GradedClass:
    """The first lab's class, with every known trick."""
    return graded_classes("anomaly_detection")


# ---------------------------------------------------------------------------------------------
# The course's Dask cluster over TLS, on loopback (one per session: starting it costs seconds)
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_cluster_certificates(folder: Path) -> str:
    """`python -m grading cluster-certs --dir folder`, as an instructor runs it: what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "grading", "cluster-certs", "--dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def printed_command(printed: str, program: str, replace: dict[str, list[str]]) -> list[str]:
    """The `dask <program>` command that cluster-certs printed, its placeholders replaced."""
    for line in printed.splitlines():
        words = shlex.split(line) if line.startswith("  ") else []  # the commands are the indented lines
        if len(words) > 1 and words[0].endswith("/dask") and words[1] == program:
            return [new for word in words for new in replace.get(word, [word])]
    raise AssertionError(f"cluster-certs printed no `dask {program}` command:\n{printed}")


class TlsCluster:
    """A `dask scheduler` and one-thread `dask worker` processes on 127.0.0.1, started with the
    commands that `python -m grading cluster-certs` printed (its TLS options and certificates)."""

    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        self.certificates = self.folder / "certificates"
        printed = make_cluster_certificates(self.certificates)
        port = str(free_port())
        self.address = f"tls://127.0.0.1:{port}"
        self.scheduler_command = printed_command(printed, "scheduler", {"0.0.0.0": ["127.0.0.1"], "8786": [port]})
        self.worker_command = printed_command(
            printed, "worker", {"tls://SCHEDULER:8786": [self.address], "--nworkers": ["--no-nanny"], "$(nproc)": []}
        )
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self._client = None

    def start(self, workers: int) -> None:
        self.launch(self.scheduler_command, "scheduler")
        self.workers = [self.start_worker(f"worker-{number}") for number in range(1, workers + 1)]
        self.wait_for_workers()

    def launch(self, command: list[str], name: str) -> subprocess.Popen:
        """Start `command` in the cluster's folder, its output in `name`.log; stopped with the cluster."""
        with open(self.folder / f"{name}.log", "a") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder)
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def start_worker(self, name: str, *extra: str, identity: Path | None = None) -> subprocess.Popen:
        """A `dask worker` as cluster-certs printed it; with `identity`, the worker certificate and key
        of that folder instead of the course's (the course's authority still trusted)."""
        own = {str(self.certificates / "worker.pem"), str(self.certificates / "worker-key.pem")}
        command = [
            str(identity / Path(word).name) if identity and word in own else word for word in self.worker_command
        ]
        return self.launch([*command, "--name", name, "--local-directory", str(self.folder / name), *extra], name)

    def client(self):
        """The course's own client (the coordinator's certificate), kept for the session."""
        if self._client is None:
            from distributed import Client

            from grading.execution.cluster_security import coordinator_security

            self._client = Client(self.address, security=coordinator_security(self.certificates), timeout=60)
        return self._client

    def worker_names(self) -> list[str]:
        return sorted(info["name"] for info in self.client().scheduler_info(n_workers=-1)["workers"].values())

    def wait_for_workers(self) -> None:
        self.client().wait_for_workers(len(self.workers), timeout=120)

    def revive(self) -> None:
        """Start again the workers a test killed."""
        for number, worker in enumerate(self.workers, start=1):
            if worker.poll() is not None:
                self.workers[number - 1] = self.start_worker(f"worker-{number}")
        self.wait_for_workers()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        stop_processes(process for process in reversed(self.processes) if process.poll() is None)


def stop_processes(processes) -> None:
    """Terminate each process, killing those that do not end within 20 seconds."""
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def tls_cluster_of_session(tmp_path_factory):
    pytest.importorskip("distributed")
    cluster = TlsCluster(tmp_path_factory.mktemp("dask-tls"))
    try:
        cluster.start(workers=2)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def tls_cluster(tls_cluster_of_session) -> TlsCluster:
    """The session's TLS cluster (`dask scheduler` and two `dask worker` processes), every worker alive."""
    tls_cluster_of_session.revive()
    return tls_cluster_of_session

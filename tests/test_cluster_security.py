"""The course's Dask cluster admits only the course: nobody without a certificate of the course's
authority can submit code to it or join it as a worker, and grading refuses a cluster without TLS
unless the instructor says otherwise, and then says so in every student's notes.

The cluster is real (`tls_cluster` in conftest.py: `dask scheduler` and two `dask worker`
processes on 127.0.0.1, started with the commands and certificates of `python -m grading
cluster-certs`); the outsiders are real clients and workers, with no certificate or with one of
another authority made by the same command.
"""

from __future__ import annotations

import json
import socket
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port, make_cluster_certificates, stop_processes

from grading.cli import copy_course
from grading.course import Course, put_environment_on_path
from grading.reporting.results import INSECURE_CLUSTER_NOTE
from grading.sample_class import BASE_ENTRY, corpus, released_notebook, submission_of, write_submission

LAB = "anomaly_detection"
ENTRIES = ("correct_vectorised",)
PYTHON = sys.executable

pytestmark = [pytest.mark.sandbox, pytest.mark.cluster]


def fresh_course(template: Course, root: Path, entries: tuple[str, ...] = ENTRIES) -> Course:
    course = copy_course(template, root)
    notebook = released_notebook(course, LAB)
    known = {entry.name: entry for entry in corpus(LAB)}
    for name in entries:
        write_submission(course, LAB, name, submission_of(known[name], known[BASE_ENTRY], notebook))
    return course


def kit(course: Course, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    put_environment_on_path()
    return subprocess.run(
        [PYTHON, "-m", "grading", "autograde", LAB, "--course", str(course.root), "--timeout", "5", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def graded(course: Course, *args: str) -> str:
    done = kit(course, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if not line.startswith("autograde: note:")]


@pytest.fixture(scope="module")
def other_authority(tmp_path_factory) -> Path:
    """Certificates of another authority, made by the same command: what an outsider can make."""
    folder = tmp_path_factory.mktemp("outsider") / "certificates"
    make_cluster_certificates(folder)
    return folder


@pytest.fixture(scope="module")
def bare_course(tmp_path_factory) -> Course:
    """A course without submissions: enough for the refusals, which come before any grading."""
    return copy_course(Course(), tmp_path_factory.mktemp("bare") / "course")


def intrude(marker: str) -> str:
    """What an outsider would run on a worker (as root): here, only leave a mark."""
    Path(marker).write_text("an outsider's code ran here")
    return "ran"


def outsider_runs_code(address: str, security, marker: Path) -> BaseException | None:
    """Connect as an outsider and submit `intrude`; the exception that stopped it, None if it ran."""
    from distributed import Client

    try:
        with Client(address, security=security, timeout=10) as client:
            client.submit(intrude, str(marker), pure=False).result(timeout=30)
    except Exception as error:  # noqa: BLE001 - any refusal will do; that it ran is the failure
        return error
    return None


# ---------------------------------------------------------------------------------------------
# Outsiders
# ---------------------------------------------------------------------------------------------


def hangs_up_without_certificate(host: str, port: int, ca: Path) -> bool:
    """Whether the scheduler ends a TLS connection that trusts `ca` but shows no certificate."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    try:
        with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw) as tls:
            tls.sendall(b"\0" * 8)
            return tls.recv(1) == b""
    except (ssl.SSLError, ConnectionError):
        return True


def handshakes_refused(cluster) -> int:
    return cluster.log("scheduler").count("TLS handshake failed")


def test_a_client_without_a_certificate_cannot_connect_nor_run_code(tls_cluster, tmp_path):
    host, port = tls_cluster.address.removeprefix("tls://").rsplit(":", 1)
    marker = tmp_path / "intruded"
    refused = outsider_runs_code(f"tcp://{host}:{port}", None, marker)  # plain TCP to the TLS port
    assert isinstance(refused, OSError), refused
    assert hangs_up_without_certificate(host, int(port), tls_cluster.certificates / "ca.pem")
    assert not marker.exists()


@pytest.mark.parametrize("trusted", ["the course's authority", "its own authority"])
def test_a_client_with_a_certificate_of_another_authority_cannot_connect_nor_run_code(
    tls_cluster, other_authority, tmp_path, trusted
):
    from distributed.security import Security

    ca = tls_cluster.certificates / "ca.pem" if trusted == "the course's authority" else other_authority / "ca.pem"
    security = Security(
        tls_ca_file=str(ca),
        tls_client_cert=str(other_authority / "coordinator.pem"),
        tls_client_key=str(other_authority / "coordinator-key.pem"),
        require_encryption=True,
    )
    marker = tmp_path / "intruded"
    before = handshakes_refused(tls_cluster)
    assert outsider_runs_code(tls_cluster.address, security, marker) is not None
    assert not marker.exists()
    assert refusal_logged(tls_cluster, before)


def refusal_logged(cluster, before: int, seconds: float = 10) -> bool:
    """Whether the scheduler logs one more refused handshake within `seconds` (its log lags)."""
    deadline = time.monotonic() + seconds
    while handshakes_refused(cluster) <= before:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.parametrize("name", ["rogue-without-certificate", "rogue-of-another-authority"])
def test_a_worker_without_the_courses_certificate_cannot_join(tls_cluster, other_authority, name):
    before = tls_cluster.worker_names()
    if name == "rogue-without-certificate":
        plain = tls_cluster.address.replace("tls://", "tcp://")
        rogue = tls_cluster.launch(
            [
                tls_cluster.worker_command[0],
                "worker",
                plain,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--name",
                name,
                "--death-timeout",
                "10",
            ],
            name,
        )
    else:  # the course's authority trusted, the worker's own certificate from another
        rogue = tls_cluster.start_worker(name, "--death-timeout", "10", identity=other_authority)
    assert rogue.wait(timeout=90) != 0  # it gave up: no scheduler would have it
    assert tls_cluster.worker_names() == before
    assert "Registered to" not in tls_cluster.log(name)


# ---------------------------------------------------------------------------------------------
# The coordinator's refusals
# ---------------------------------------------------------------------------------------------


def test_a_scheduler_without_tls_is_refused_in_one_line(bare_course):
    address = f"tcp://127.0.0.1:{free_port()}"
    done = kit(bare_course, "--scheduler", address)
    assert done.returncode == 1
    assert error_lines(done) == [
        f"grading: refusing the scheduler {address}: without TLS anyone who reaches it can run code on its workers"
        " and change grades; make the course's certificates with `python -m grading cluster-certs` and use"
        " --scheduler tls://HOST:PORT (--insecure-cluster: only to try on one machine)"
    ]


def test_a_missing_certificate_is_named_in_one_line_with_the_command_that_makes_it(bare_course, tmp_path):
    empty = tmp_path / "certificates"
    done = kit(bare_course, "--scheduler", f"tls://127.0.0.1:{free_port()}", "--dir", str(empty))
    assert done.returncode == 1
    assert error_lines(done) == [
        f"grading: {empty}/ca.pem is missing: make the cluster's certificates with"
        f" `python -m grading cluster-certs --dir {empty}`"
    ]


def test_cluster_certs_keeps_keys_private_and_replaces_them_only_when_forced(tmp_path):
    folder = tmp_path / "certificates"
    printed = make_cluster_certificates(folder)
    assert "--protocol tls" in printed and "--no-dashboard" in printed and "tls://SCHEDULER:8786" in printed
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    keys = sorted(path.name for path in folder.glob("*-key.pem"))
    assert keys == ["coordinator-key.pem", "scheduler-key.pem", "worker-key.pem"]
    assert {stat.S_IMODE((folder / key).stat().st_mode) for key in keys} == {0o600}
    assert not any("PRIVATE KEY" in path.read_text() for path in folder.glob("*.pem") if path.name not in keys)
    authority = (folder / "ca.pem").read_bytes()
    command = [PYTHON, "-m", "grading", "cluster-certs", "--dir", str(folder)]
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    assert again.stderr.splitlines() == [
        f"grading: {folder}/ca.pem exists: pass --force to replace every certificate"
        " of the cluster (then copy the new files to every machine)"
    ]
    assert (folder / "ca.pem").read_bytes() == authority
    assert subprocess.run([*command, "--force"], capture_output=True, timeout=120).returncode == 0
    assert (folder / "ca.pem").read_bytes() != authority


# ---------------------------------------------------------------------------------------------
# Grading on the cluster
# ---------------------------------------------------------------------------------------------

# That a class graded on the TLS cluster gets the per-cell scores of nbgrader's own serial autograde
# (and of local workers), with every answer from a worker of the cluster, is shown by
# tests/test_parallel_grading.py on the same cluster (one of whose workers is killed mid-class).


@pytest.fixture
def plain_cluster(tmp_path):
    """A `dask scheduler` and a `dask worker` without TLS on 127.0.0.1, as an instructor might try first."""
    dask = str(Path(PYTHON).parent / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    with open(tmp_path / "cluster.log", "w") as log:
        processes = [
            subprocess.Popen(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        ]
        processes.append(
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp_path / "worker"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        )
    try:
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        stop_processes(reversed(processes))


def test_an_insecure_cluster_is_named_in_a_warning_and_in_every_students_notes(
    plain_cluster, course_template, tmp_path
):
    course = fresh_course(course_template, tmp_path / "course", entries=("correct_vectorised",))
    output = graded(course, "--scheduler", plain_cluster, "--insecure-cluster")
    assert f"WARNING: {INSECURE_CLUSTER_NOTE}" in output
    assert "without authentication)" in output  # where the class runs
    report = json.loads((course.reports / f"{LAB}.json").read_text())
    assert [entry["notes"] for entry in report] == [[INSECURE_CLUSTER_NOTE.stored()]]
    assert report[0]["score"] == report[0]["max_score"]

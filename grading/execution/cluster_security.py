"""A Dask cluster only the course can use: a certificate authority of the course's own, and
certificates for the scheduler, the workers and the coordinator (the machine that grades).

A Dask scheduler runs whatever its clients submit on its workers, which run as root for the
sandboxes: a scheduler that anyone can reach lets anyone read the hidden tests, write into the
course, join a worker of their own and send back any grade. Over TLS, Dask requires a
certificate of the given authority from both ends of every connection (client, scheduler,
worker) and encrypts it, so only the machines holding the course's files can submit work, join
as a worker or see the students' work. The authority's own key is never written to disk: no
certificate can be added later, and `cluster-certs --force` replaces them all.
"""

from __future__ import annotations

import datetime
import os
import shlex
import stat
import sys
from pathlib import Path

from grading.course import Course
from grading.errors import CertificateError

ROLES = {  # role -> (who holds it, the TLS sides it takes: server and/or client)
    "scheduler": ("the scheduler's machine", ("server", "client")),
    "worker": ("each worker machine", ("server", "client")),
    "coordinator": ("the machine that grades", ("client",)),
}
CA_FILE = "ca.pem"
VALID_DAYS = 825
MAKE_COMMAND = "python -m grading cluster-certs"


def default_folder(course: Course) -> Path:
    return course.records / "cluster"


def cert_file(folder: Path, role: str) -> Path:
    return folder / f"{role}.pem"


def key_file(folder: Path, role: str) -> Path:
    return folder / f"{role}-key.pem"


def files_of(folder: Path, role: str) -> list[Path]:
    """What a machine of `role` needs: the authority's certificate, its own certificate and key."""
    return [folder / CA_FILE, cert_file(folder, role), key_file(folder, role)]


def _name(common_name: str):
    from cryptography.x509 import Name, NameAttribute
    from cryptography.x509.oid import NameOID

    return Name(
        [
            NameAttribute(NameOID.ORGANIZATION_NAME, "course grading cluster"),
            NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(subject: str, key, issuer: str, issuer_key, is_ca: bool, sides: tuple[str, ...] = ()):
    """A certificate of `key`'s public half, signed by `issuer_key`, valid from now for VALID_DAYS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not is_ca:
        usages = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([usages[side] for side in sides]), critical=False
        ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a new file created with `mode` (never readable by others, even for a moment)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def make_certificates(folder: Path, force: bool = False) -> list[Path]:
    """A new course authority and a certificate and key per role in `folder` (0700; keys 0600);
    the files written. Existing files are replaced only with `force`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    wanted = [folder / CA_FILE] + [path for role in ROLES for path in files_of(folder, role)[1:]]
    existing = [path for path in wanted if path.exists() or path.is_symlink()]
    if existing and not force:
        raise CertificateError(
            f"{existing[0]} exists: pass --force to replace every certificate of the cluster"
            " (then copy the new files to every machine)"
        )
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = f"course grading CA {datetime.date.today().isoformat()}"
    pem = serialization.Encoding.PEM
    _write(folder / CA_FILE, _certificate(ca_name, ca_key, ca_name, ca_key, is_ca=True).public_bytes(pem), 0o644)
    for role, (_, sides) in ROLES.items():
        key = ec.generate_private_key(ec.SECP256R1())
        _write(
            key_file(folder, role),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            0o600,
        )
        _write(
            cert_file(folder, role),
            _certificate(f"course {role}", key, ca_name, ca_key, False, sides).public_bytes(pem),
            0o644,
        )
    return wanted


def tls_options(folder: Path, role: str) -> list[str]:
    """The options of `dask scheduler` and `dask worker` that make a machine of `role` speak TLS only."""
    ca, cert, key = files_of(folder, role)
    return ["--protocol", "tls", "--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]


def dask_commands(folder: Path, named: bool = False) -> str:
    """The lines that say which files each machine needs and the exact commands to start it;
    `named`: the folder is not the course's default, and grading must be told where it is."""
    dask = shlex.quote(str(Path(sys.executable).parent / "dask"))

    def tls(role: str) -> str:
        return shlex.join(tls_options(folder, role))

    def needs(role: str) -> str:
        return f"{ROLES[role][0]} needs {', '.join(path.name for path in files_of(folder, role))}"

    return "\n".join(
        [
            f"{needs('scheduler')}:",
            f"  {dask} scheduler --host 0.0.0.0 --port 8786 --no-dashboard {tls('scheduler')}",
            f"{needs('worker')} (run as root, one worker per core):",
            f"  {dask} worker tls://SCHEDULER:8786 --nthreads 1 --nworkers $(nproc) --no-dashboard {tls('worker')}",
            f"{needs('coordinator')} (they stay here):",
            "  python -m grading autograde LAB --scheduler tls://SCHEDULER:8786"
            + (f" --dir {shlex.quote(str(folder))}" if named else ""),
            f"Copy each machine's files into {folder} on it (mode 0700, keys 0600, owned by the user that runs Dask),"
            " and nowhere else: a key lets its holder into the cluster.",
        ]
    )


def _usable(path: Path, key: bool) -> None:
    """`path` is a file this process can read, and, for a key, readable by its owner only."""
    if not path.is_file():
        raise CertificateError(
            f"{path} is missing: make the cluster's certificates with `{MAKE_COMMAND} --dir {path.parent}`"
        )
    if key and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise CertificateError(f"{path} is readable by other users: chmod 600 {path}")


def coordinator_security(folder: Path):
    """Dask's TLS settings for the coordinator: the course's authority, the coordinator's
    certificate and key, encryption required on every connection."""
    from distributed.security import Security

    ca, cert, key = files_of(folder, "coordinator")
    for path in (ca, cert, key):
        _usable(path, key=path == key)
    return Security(tls_ca_file=str(ca), tls_client_cert=str(cert), tls_client_key=str(key), require_encryption=True)

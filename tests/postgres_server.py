"""A throwaway PostgreSQL server for the tests: Debian's binaries, a data folder in a temporary
folder, password logins on a free loopback port, stopped and removed at the end.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user that
Debian's package creates (or as `nobody`), and owns its folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER, PASSWORD = "grader", "test-only-secret"


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<version>/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _server_account() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("no unprivileged account to run PostgreSQL as (neither postgres nor nobody exists)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port() -> int:
    """A loopback port that nothing listens on (just freed by the OS)."""
    return _free_port()


class PostgresServer:
    """`start()` a server of its own; `database(name)` gives the URL of a new, empty database."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.account = _server_account()
        self.folder = Path(tempfile.mkdtemp(prefix="course-postgres-"))
        self.data = self.folder / "data"
        self.port = _free_port()

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        """A PostgreSQL program, run as the server's account in the server's folder."""
        as_account = (
            {} if os.geteuid() != 0 else {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        )
        done = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            **as_account,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    def start(self) -> PostgresServer:
        os.chown(self.folder, self.account.pw_uid, self.account.pw_gid)
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD + "\n")
        os.chown(password_file, self.account.pw_uid, self.account.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            USER,
            "--pwfile",
            str(password_file),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--no-instructions",
        )
        password_file.unlink()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.folder / "server.log"),
            "--options",
            options,
            "--wait",
            "start",
        )
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "--pgdata", str(self.data), "--mode", "fast", "--wait", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        """A SQLAlchemy URL for `database` with the psycopg (version 3) driver."""
        return f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """Create an empty database `name` and return its URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

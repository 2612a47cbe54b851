"""The hub's people as real local accounts: each student's server runs as that student.

`ensure_account` makes an account with `useradd` (a home of its own, readable by no one else) and
sets its password with `chpasswd`, so that JupyterHub's PAM authenticator logs it in as any real
account. It is idempotent: an existing account keeps its home and gets the password given.
"""

from __future__ import annotations

import pwd
import re
import subprocess
from pathlib import Path

from grading.errors import CommandError

NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def ensure_account(name: str, password: str | None = None) -> pwd.struct_passwd:
    """The account `name` (created if missing), with `password` set when given."""
    if not NAME.fullmatch(name):
        raise CommandError(f"{name!r} cannot be an account name: lower-case letters, digits, '_' and '-', 32 at most")
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "--create-home", "--shell", "/bin/bash", name], f"creating the account {name}")
        account = pwd.getpwnam(name)
    Path(account.pw_dir).chmod(0o700)
    if password is not None:
        run(["chpasswd"], f"setting the password of {name}", stdin=f"{name}:{password}\n")
    return account


def run(command: list[str], doing: str, stdin: str | None = None) -> None:
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True)
    except FileNotFoundError:
        raise CommandError(f"{doing}: {command[0]} is missing (Debian's passwd package has it)") from None
    if done.returncode != 0:
        raise CommandError(f"{doing} failed (run this as root): {done.stderr.strip() or done.stdout.strip()}")

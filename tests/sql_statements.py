"""The SQL statements every SQLAlchemy engine runs within a block, for tests that count or read them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def statements_run() -> Iterator[list[str]]:
    """The SQL of each statement run inside the block, in order."""
    ran: list[str] = []

    def keep(connection, cursor, statement, *rest) -> None:
        ran.append(statement)

    event.listen(Engine, "before_cursor_execute", keep)
    try:
        yield ran
    finally:
        event.remove(Engine, "before_cursor_execute", keep)

"""The course's gradebook database: which one it is, and opening it so that several graders can share it.

`nbgrader_config.py` names it (`c.CourseDirectory.db_url`); the environment variable
COURSE_GRADEBOOK_URL, when set, overrides the file, so that a grader's shell can point at a
database without editing the course or writing a password into it. SQLite (records/gradebook.db,
the default) serves one grader at a time; a PostgreSQL database serves several at once.

nbgrader creates a gradebook's tables, its course row and each student's row the first time it
needs them, by looking first and inserting after: two graders doing so at the same moment collide
on PostgreSQL (a duplicate-key error, and nbgrader's autograde then fails that student). The kit's
commands therefore open a server gradebook first through `open_gradebook`, which creates the
tables, the course and the rows of the students with a submission one grader at a time, under a
PostgreSQL advisory lock; nbgrader then finds them all and inserts none of them itself.

nbgrader also makes a database engine of its own whenever it opens the gradebook, about eight
times per student graded: each connects again and compiles every query again (SQLAlchemy keeps
compiled queries per engine). While a class is graded, `one_engine_per_database` has them share
one engine per URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from grading.errors import GradebookUnavailable

ENV_VAR = "COURSE_GRADEBOOK_URL"
EXAMPLE = "postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE"
CONNECT_TIMEOUT = 10  # seconds to wait for a database server before saying it cannot be reached
_LOCK_KEY = 0x6E62_6772_6164_6572  # "nbgrader" in ASCII: the kit's advisory lock in the gradebook's database


def configured_url(file_setting: str) -> str:
    """The gradebook URL in effect: COURSE_GRADEBOOK_URL if set and not empty, else the file's."""
    return os.environ.get(ENV_VAR, "").strip() or file_setting


def shown(url: str) -> str:
    """`url` with its password replaced by ***, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can read: hide whatever stands where a password would
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _where_set() -> str:
    return (
        f"the environment variable {ENV_VAR}"
        if os.environ.get(ENV_VAR, "").strip()
        else "c.CourseDirectory.db_url in nbgrader_config.py"
    )


def _first_line(error: BaseException, url: str) -> str:
    """The driver's own reason, on one line, without the password."""
    from sqlalchemy.engine import make_url

    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    text = reason[0].strip() if reason else type(error).__name__
    try:
        password = make_url(url).password
    except Exception:
        password = None
    return text.replace(str(password), "***") if password else text


def _engine(url: str):
    """A SQLAlchemy engine for `url`, or a one-line error for a URL it cannot use."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        server = parsed.get_backend_name() == "postgresql"
        return create_engine(parsed, **({"connect_args": {"connect_timeout": CONNECT_TIMEOUT}} if server else {}))
    except ImportError as error:
        raise GradebookUnavailable(
            f"the gradebook {shown(url)} needs a database driver that is not installed ({error}): install the kit"
            f" again (pip install -e .) or the driver alone (pip install 'psycopg[binary]' for PostgreSQL)"
        ) from None
    except Exception as error:
        raise GradebookUnavailable(
            f"the gradebook URL {shown(url)} is not valid ({_first_line(error, url)}): fix {_where_set()};"
            f" for PostgreSQL it reads {EXAMPLE}"
        ) from None


def open_gradebook(url: str, course_id: str, students: Iterable[str] = ()) -> None:
    """Check that the gradebook at `url` opens, and create its tables, its course and the rows of
    `students` if missing: on a PostgreSQL server one grader at a time (see the module's docstring)."""
    from sqlalchemy import text

    engine = _engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            if students:
                _create_missing(url, course_id, students)
    except Exception as error:
        advice = (
            f"check that its folder exists and can be written, or fix {_where_set()}"
            if engine.dialect.name == "sqlite"
            else "check that its server is running and reachable from here, and the user, password and database"
            f" name in {_where_set()}"
        )
        reason = _first_line(error, url)
        raise GradebookUnavailable(f"cannot open the gradebook {shown(url)} ({reason}): {advice}") from None
    finally:
        engine.dispose()  # closing the connection released the lock


def students_in(url: str, course_id: str) -> list[str]:
    """The ids of the students in the gradebook at `url`; none, without creating it, where a SQLite
    gradebook's file does not exist yet."""
    from nbgrader.api import Gradebook
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and os.path.isfile(parsed.database)):
        return []
    with Gradebook(url, course_id) as gradebook:
        return [student.id for student in gradebook.students]


def _create_missing(url: str, course_id: str, students: Iterable[str]) -> None:
    """The rows of `students` not in the gradebook yet. A student on no roster is named by their id
    (formgrader would show "None, None"); importing a roster later replaces it with their name."""
    from nbgrader.api import Gradebook

    with Gradebook(url, course_id) as gradebook:  # creates the tables and the course row if missing
        known = {student.id for student in gradebook.students}
        for student in sorted(set(students) - known):
            gradebook.add_student(student, last_name=student, first_name="")


class _TablesThere:
    """What nbgrader's Gradebook is told when it inspects a database whose tables this block has seen made."""

    def get_table_names(self) -> list[str]:
        from nbgrader.api import Base

        return sorted(Base.metadata.tables)


@contextmanager
def one_engine_per_database() -> Iterator[None]:
    """Within the block, every gradebook nbgrader opens on the same URL shares one engine (a third
    of the time nbgrader's gradebook took per student), and checks its tables once: nbgrader
    inspects the database and asks for each of its tables whenever it opens the gradebook (about
    130 catalogue queries per student, most of a PostgreSQL gradebook's time). A gradebook closed
    gives its connection back to the engine's pool, where the next one takes it: nbgrader's
    `close` disposes of the engine, so each of the five or so gradebooks a student's autograde
    opens connected again (to PostgreSQL, a new session; to SQLite, its schema read again). The
    engines are disposed of at the block's end.

    For the coordinator, which alone opens gradebooks in its process while it grades (nobody drops
    a gradebook's tables meanwhile): nbgrader's `create_engine`, `inspect`, its tables'
    `create_all` and `Gradebook.close` are replaced for the block's duration."""
    import nbgrader.api

    made: dict[tuple, object] = {}
    ready: set[int] = set()  # engines whose tables have been checked (and made if missing)
    create_engine, inspect, metadata = nbgrader.api.create_engine, nbgrader.api.inspect, nbgrader.api.Base.metadata
    create_all, close = metadata.create_all, nbgrader.api.Gradebook.close

    def shared(url, **options):
        key = (str(url), tuple(sorted(options.items())))
        if key not in made:
            made[key] = create_engine(url, **options)
        return made[key]

    def inspect_once(subject):
        return _TablesThere() if id(subject) in ready else inspect(subject)

    def create_all_once(bind=None, **options):
        if id(bind) not in ready:
            create_all(bind=bind, **options)
            ready.add(id(bind))

    def close_session(gradebook) -> None:
        gradebook.db.remove()  # the connection goes back to the shared engine's pool

    nbgrader.api.create_engine, nbgrader.api.inspect, metadata.create_all = shared, inspect_once, create_all_once
    nbgrader.api.Gradebook.close = close_session
    try:
        yield
    finally:
        nbgrader.api.create_engine, nbgrader.api.inspect = create_engine, inspect
        del metadata.create_all
        nbgrader.api.Gradebook.close = close
        for engine in made.values():
            engine.dispose()

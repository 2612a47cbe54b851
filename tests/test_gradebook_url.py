"""The course's gradebook as the kit opens it (SQLite here; a PostgreSQL server's in
`tests/test_postgres_gradebook.py`)."""

from __future__ import annotations

from sql_statements import statements_run  # beside this file

from grading.course import put_environment_on_path
from grading.gradebook_url import one_engine_per_database, open_gradebook, students_in

COURSE_ID = "course-kit-test"


def test_a_student_on_no_roster_is_named_by_their_id_until_a_roster_names_them(tmp_path):
    """Formgrader shows a student without names as "None, None"."""
    from nbgrader.api import Gradebook

    put_environment_on_path()
    url = f"sqlite:///{tmp_path}/gradebook.db"
    with Gradebook(url, COURSE_ID) as gradebook:
        gradebook.add_student("ada", first_name="Ada", last_name="Lovelace")
    open_gradebook(url, COURSE_ID, ["ada", "bo"])
    with Gradebook(url, COURSE_ID) as gradebook:
        named = {student.id: (student.last_name, student.first_name) for student in gradebook.students}
        assert named == {"ada": ("Lovelace", "Ada"), "bo": ("bo", "")}
        gradebook.update_or_create_student("bo", first_name="Bo", last_name="Yang")  # the roster's import
        assert gradebook.find_student("bo").last_name == "Yang"


def test_asking_for_the_students_of_a_missing_sqlite_gradebook_creates_none(tmp_path):
    put_environment_on_path()
    url = f"sqlite:///{tmp_path}/gradebook.db"
    assert students_in(url, COURSE_ID) == []
    assert not (tmp_path / "gradebook.db").exists()
    open_gradebook(url, COURSE_ID, ["ada", "bo"])
    assert sorted(students_in(url, COURSE_ID)) == ["ada", "bo"]


def test_within_a_grading_nbgraders_gradebooks_share_one_engine_per_database_and_write_through_it(tmp_path):
    from nbgrader.api import Gradebook

    put_environment_on_path()
    first, second = f"sqlite:///{tmp_path}/first.db", f"sqlite:///{tmp_path}/second.db"
    with one_engine_per_database():
        with Gradebook(first, COURSE_ID) as one, Gradebook(first, COURSE_ID) as again:
            assert one.engine is again.engine
            one.add_student("ada")
        with Gradebook(second, COURSE_ID) as other:
            assert other.engine is not one.engine
        shared = one.engine
    with Gradebook(first, COURSE_ID) as after, Gradebook(first, COURSE_ID) as after_again:
        assert after.engine is not after_again.engine and after.engine is not shared
        assert [student.id for student in after.students] == ["ada"]
    assert shared.pool.checkedout() == 0


def test_within_a_grading_a_closed_gradebook_gives_its_connection_to_the_next_and_nbgraders_close_comes_back(tmp_path):
    from nbgrader.api import Gradebook
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    put_environment_on_path()
    url, close = f"sqlite:///{tmp_path}/gradebook.db", Gradebook.close
    open_gradebook(url, COURSE_ID, ["ada"])
    connected: list[object] = []

    def count(connection, record) -> None:
        connected.append(connection)

    event.listen(Pool, "connect", count)
    try:
        with one_engine_per_database():
            for _ in range(4):
                with Gradebook(url, COURSE_ID) as gradebook:
                    assert [student.id for student in gradebook.students] == ["ada"]
        within = len(connected)
        for _ in range(2):
            with Gradebook(url, COURSE_ID) as gradebook:
                assert [student.id for student in gradebook.students] == ["ada"]
    finally:
        event.remove(Pool, "connect", count)
    assert within == 1
    assert len(connected) == within + 2  # nbgrader's own: a connection per gradebook, disposed at its close
    assert Gradebook.close is close


def checks_tables(ran: list[str]) -> bool:
    return any("PRAGMA" in statement or "sqlite_master" in statement for statement in ran)


def test_within_a_grading_a_gradebooks_tables_are_checked_once_and_a_new_one_is_made_as_nbgrader_makes_it(tmp_path):
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    put_environment_on_path()
    url = f"sqlite:///{tmp_path}/gradebook.db"
    with one_engine_per_database():
        with Gradebook(url, COURSE_ID) as first:  # a new database: its tables made, alembic's version stamped
            first.add_student("ada")
        with statements_run() as within, Gradebook(url, COURSE_ID) as again:
            assert [student.id for student in again.students] == ["ada"]
    with statements_run() as outside, Gradebook(url, COURSE_ID) as after:
        assert [student.id for student in after.students] == ["ada"]
        assert after.db.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert not checks_tables(within)
    assert checks_tables(outside)  # nbgrader's own opening checks every table

"""On SQLite, a statement that cannot change anything runs without BEGIN; the first one that may write sends it."""

from __future__ import annotations

import sqlite3
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from app_models import Author, add_rename_view
from flask import Flask

import erlen_db
from erlen.testing import MakeApp
from erlen_db import lone_reads


class _Traced(t.NamedTuple):
    """A test app and the SQL its driver connections ran since they were checked out."""

    app: Flask
    sql: list[str]

    def control(self) -> list[str]:
        """The first word of each statement of :attr:`sql`: BEGIN, SELECT, INSERT..."""
        return [statement.split()[0].upper() for statement in self.sql]


def _make(make_app: MakeApp, url: str, *, lone: bool | None = None) -> _Traced:
    """An app on ``url`` with author 1 ("ada") committed, whose driver reports every statement it runs.

    :param make_app: the app factory.
    :param url: an SQLite URL.
    :param lone: ``DB_LONE_READS``; its default when ``None``.
    """
    config: dict[str, t.Any] = {"DB_URL": url, "PROPAGATE_EXCEPTIONS": False}
    if lone is not None:
        config["DB_LONE_READS"] = lone
    app = make_app(["db"], config)
    database = erlen_db.database_of(app)
    database.create_all()
    with database.session_scope() as session:
        session.add(Author(name="ada"))
    sql: list[str] = []

    # The driver's own trace: what SQLite was asked to run, whichever layer sent it.
    @sa.event.listens_for(database.engine, "checkout")
    def trace(dbapi_connection: t.Any, record: t.Any, proxy: t.Any) -> None:
        dbapi_connection.set_trace_callback(sql.append)

    @app.get("/authors/<int:id>")
    def read(id: int) -> str:
        return erlen_db.get_or_404(Author, id).name

    @app.get("/core/<int:id>")
    def core_read(id: int) -> str:
        name = erlen_db.get_connection().scalar(sa.select(Author.name).where(Author.id == id))
        return str(name)

    add_rename_view(app)

    return _Traced(app, sql)


@pytest.fixture
def file_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lone.sqlite3'}"


@pytest.fixture
def traced(make_app: MakeApp, file_url: str) -> Iterator[_Traced]:
    made = _make(make_app, file_url)
    yield made
    erlen_db.database_of(made.app).dispose()


def _names(app: Flask) -> list[str]:
    """The authors' names, read on a connection of the app's engine."""
    with erlen_db.database_of(app).engine.connect() as connection:
        return list(connection.scalars(sa.select(Author.name).order_by(Author.id)))


def test_lone_reads_are_installed_on_sqlite_by_default(traced: _Traced) -> None:
    assert lone_reads.is_installed(erlen_db.database_of(traced.app).engine)


@pytest.mark.parametrize("path", ["/authors/1", "/core/1"])
def test_a_request_that_only_reads_sends_neither_begin_nor_rollback(traced: _Traced, path: str) -> None:
    answer = traced.app.test_client().get(path)
    assert answer.text == "ada"
    assert traced.control() == ["SELECT"]


def test_a_read_in_an_in_memory_database_sends_neither_begin_nor_rollback(make_app: MakeApp) -> None:
    made = _make(make_app, "sqlite://")
    try:
        assert made.app.test_client().get("/authors/1").text == "ada"
        assert made.control() == ["SELECT"]
    finally:
        erlen_db.database_of(made.app).dispose()


@pytest.mark.parametrize("path", ["/authors/1", "/core/1"])
def test_with_lone_reads_off_a_read_begins_and_rolls_back_a_transaction(
    make_app: MakeApp, file_url: str, path: str
) -> None:
    made = _make(make_app, file_url, lone=False)
    try:
        assert not lone_reads.is_installed(erlen_db.database_of(made.app).engine)
        assert made.app.test_client().get(path).text == "ada"
        assert made.control() == ["BEGIN", "SELECT", "ROLLBACK"]
    finally:
        erlen_db.database_of(made.app).dispose()


def test_a_read_then_a_write_commits_in_the_transaction_begun_before_the_write(traced: _Traced) -> None:
    assert traced.app.test_client().post("/authors/1/grace").text == "grace"
    assert traced.control() == ["SELECT", "BEGIN", "UPDATE", "COMMIT"]
    assert _names(traced.app) == ["grace"]


def test_a_read_then_a_write_is_rolled_back_when_the_request_fails(traced: _Traced) -> None:
    assert traced.app.test_client().post("/authors/1/fail").status_code == 500
    assert traced.control() == ["SELECT", "BEGIN", "UPDATE", "ROLLBACK"]
    assert _names(traced.app) == ["ada"]


def test_a_session_savepoint_rolled_back_keeps_the_outer_work(traced: _Traced) -> None:
    with traced.app.app_context():
        session = erlen_db.session
        session.scalars(sa.select(Author)).all()
        session.add(Author(name="outer"))
        session.flush()
        with session.begin_nested() as savepoint:
            session.add(Author(name="inner"))
            session.flush()
            savepoint.rollback()
        session.commit()
    assert traced.control() == ["SELECT", "BEGIN", "INSERT", "SAVEPOINT", "INSERT", "ROLLBACK", "COMMIT"]
    assert _names(traced.app) == ["ada", "outer"]


def test_a_savepoint_first_begins_the_transaction_and_the_outer_rollback_undoes_it_all(traced: _Traced) -> None:
    with traced.app.app_context():
        connection = erlen_db.get_connection()
        connection.execute(sa.select(Author.name)).all()
        with connection.begin_nested():
            connection.execute(sa.insert(Author).values(name="inner"))
        connection.execute(sa.insert(Author).values(name="outer"))
        connection.rollback()
    assert traced.control() == ["SELECT", "BEGIN", "SAVEPOINT", "INSERT", "RELEASE", "INSERT", "ROLLBACK"]
    assert _names(traced.app) == ["ada"]


def test_a_connection_returned_with_its_begin_owed_begins_before_its_next_write(traced: _Traced) -> None:
    engine = erlen_db.database_of(traced.app).engine
    engine.dispose()  # one pooled connection: the next checkout gets the one returned
    with engine.connect() as connection:
        connection.execute(sa.select(Author.name)).all()
        driver = connection.connection.dbapi_connection
    # Returned to the pool in the middle of SQLAlchemy's transaction, which the driver never began.
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection is driver
        connection.execute(sa.insert(Author).values(name="grace"))
        assert driver is not None and t.cast(sqlite3.Connection, driver).in_transaction
        connection.rollback()
    assert traced.control() == ["SELECT", "BEGIN", "INSERT", "ROLLBACK"]
    assert _names(traced.app) == ["ada"]


def test_executemany_and_raw_sql_begin_the_transaction(traced: _Traced) -> None:
    engine = erlen_db.database_of(traced.app).engine
    with engine.connect() as connection:
        connection.execute(sa.insert(Author), [{"name": "grace"}, {"name": "alan"}])
        connection.rollback()
        connection.exec_driver_sql("SELECT name FROM author").all()
        connection.rollback()
        connection.execute(sa.text("SELECT name FROM author")).all()
        connection.rollback()
    assert traced.control() == [
        *("BEGIN", "INSERT", "INSERT", "ROLLBACK"),
        *("BEGIN", "SELECT", "ROLLBACK"),
        *("BEGIN", "SELECT", "ROLLBACK"),
    ]
    assert _names(traced.app) == ["ada"]


def _read_then_write_after_another_commit(app: Flask, database_path: Path) -> None:
    """Read, let another connection commit, then write and commit, on a connection of ``app``'s engine."""
    with erlen_db.database_of(app).engine.connect() as connection:
        connection.execute(sa.select(Author.name)).all()
        other = sqlite3.connect(database_path, isolation_level=None)
        try:
            other.execute("INSERT INTO author (name) VALUES ('other')")
        finally:
            other.close()
        connection.execute(sa.update(Author).where(Author.name == "ada").values(name="grace"))
        connection.commit()


def test_a_write_after_a_read_and_another_connections_commit_succeeds(traced: _Traced, tmp_path: Path) -> None:
    _read_then_write_after_another_commit(traced.app, tmp_path / "lone.sqlite3")
    assert _names(traced.app) == ["grace", "other"]


def test_with_lone_reads_off_the_read_snapshot_is_stale_and_the_write_fails_at_once(
    make_app: MakeApp, file_url: str, tmp_path: Path
) -> None:
    made = _make(make_app, file_url, lone=False)
    try:
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            _read_then_write_after_another_commit(made.app, tmp_path / "lone.sqlite3")
    finally:
        erlen_db.database_of(made.app).dispose()


def test_reads_before_the_first_write_see_the_latest_commit(traced: _Traced) -> None:
    database = erlen_db.database_of(traced.app)
    with traced.app.app_context():
        session = erlen_db.session
        assert session.scalars(sa.select(Author.name)).all() == ["ada"]
        with database.session_scope() as other:
            other.add(Author(name="later"))
        assert session.scalars(sa.select(Author.name).order_by(Author.id)).all() == ["ada", "later"]
        session.add(Author(name="mine"))
        session.commit()
    assert _names(traced.app) == ["ada", "later", "mine"]

"""On SQLite, the AUTOCOMMIT isolation level commits each statement as it runs, as SQLAlchemy promises.

erlen-db sends ``BEGIN`` itself (so that SAVEPOINTs work, and deferred to the first write with lone
reads): it used to send it under ``AUTOCOMMIT`` too, and a write that the code rightly left uncommitted
was rolled back when its connection went back to the pool.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from app_models import Author
from flask import Flask

import erlen_db
from erlen.testing import MakeApp
from erlen_db.database import install_sqlite_pragmas

LONE_READS = pytest.mark.parametrize("lone", [True, False], ids=["lone-reads", "lone-reads-off"])


class _Traced(t.NamedTuple):
    app: Flask
    #: The SQL the driver connections ran, whichever layer sent it.
    sql: list[str]


def _make(make_app: MakeApp, tmp_path: Path, *, lone: bool, engine_options: dict[str, t.Any]) -> _Traced:
    app = make_app(
        ["db"],
        {
            "DB_URL": f"sqlite:///{tmp_path / 'autocommit.sqlite3'}",
            "DB_LONE_READS": lone,
            "DB_ENGINE_OPTIONS": engine_options,
            "PROPAGATE_EXCEPTIONS": False,
        },
    )
    database = erlen_db.database_of(app)
    database.create_all()
    sql: list[str] = []

    @sa.event.listens_for(database.engine, "checkout")
    def trace(dbapi_connection: t.Any, record: t.Any, proxy: t.Any) -> None:
        dbapi_connection.set_trace_callback(sql.append)

    return _Traced(app, sql)


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        erlen_db.database_of(app).dispose()


def _names(app: Flask) -> list[str]:
    with erlen_db.database_of(app).engine.connect() as connection:
        return list(connection.scalars(sa.select(Author.name).order_by(Author.id)))


def _first_words(sql: list[str]) -> list[str]:
    return [statement.split()[0].upper() for statement in sql]


@LONE_READS
def test_under_the_engines_autocommit_a_write_left_uncommitted_is_saved_and_no_begin_is_sent(
    make_app: MakeApp, tmp_path: Path, apps: list[Flask], lone: bool
) -> None:
    traced = _make(make_app, tmp_path, lone=lone, engine_options={"isolation_level": "AUTOCOMMIT"})
    apps.append(traced.app)

    @traced.app.post("/authors")
    def add() -> str:
        session = erlen_db.get_session()
        session.add(Author(name="ada"))
        session.flush()  # no commit: under AUTOCOMMIT the INSERT is saved as it runs
        return "added"

    assert traced.app.test_client().post("/authors").status_code == 200
    assert "BEGIN" not in _first_words(traced.sql)
    assert _names(traced.app) == ["ada"]


@LONE_READS
def test_a_connection_with_autocommit_of_its_own_saves_each_statement_and_goes_back_to_transactions(
    make_app: MakeApp, tmp_path: Path, apps: list[Flask], lone: bool
) -> None:
    traced = _make(make_app, tmp_path, lone=lone, engine_options={})
    apps.append(traced.app)
    engine = erlen_db.database_of(traced.app).engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.insert(Author).values(name="ada"))
        # Left without commit(): the connection's close would roll back a transaction.
    assert "BEGIN" not in _first_words(traced.sql)
    assert _names(traced.app) == ["ada"]

    # Back in the pool, the connection is under the engine's level again: a failed request undoes its write.
    @traced.app.post("/authors")
    def add_then_fail() -> str:
        session = erlen_db.get_session()
        session.add(Author(name="grace"))
        session.flush()
        raise RuntimeError("the view fails after its write")

    del traced.sql[:]
    assert traced.app.test_client().post("/authors").status_code == 500
    assert _first_words(traced.sql)[:2] == ["BEGIN", "INSERT"]
    assert _names(traced.app) == ["ada"]


@LONE_READS
def test_under_the_default_level_a_write_left_uncommitted_is_rolled_back(
    make_app: MakeApp, tmp_path: Path, apps: list[Flask], lone: bool
) -> None:
    traced = _make(make_app, tmp_path, lone=lone, engine_options={})
    apps.append(traced.app)

    @traced.app.post("/authors")
    def add() -> str:
        session = erlen_db.get_session()
        session.add(Author(name="ada"))
        session.flush()
        return "flushed, not committed"

    assert traced.app.test_client().post("/authors").status_code == 200
    assert _first_words(traced.sql)[:2] == ["BEGIN", "INSERT"]
    assert _names(traced.app) == []


@LONE_READS
def test_a_driver_made_to_autocommit_by_connect_args_still_gets_transactions(
    make_app: MakeApp, tmp_path: Path, apps: list[Flask], lone: bool
) -> None:
    # isolation_level=None is what SQLAlchemy's documentation has pysqlite users set so that SAVEPOINTs work;
    # erlen-db, which takes the driver's autocommit for SQLAlchemy's AUTOCOMMIT, must not take it for that.
    traced = _make(make_app, tmp_path, lone=lone, engine_options={"connect_args": {"isolation_level": None}})
    apps.append(traced.app)

    @traced.app.post("/authors")
    def add_then_fail() -> str:
        session = erlen_db.get_session()
        session.add(Author(name="ada"))
        session.flush()
        raise RuntimeError("the view fails after its write")

    assert traced.app.test_client().post("/authors").status_code == 500
    assert _first_words(traced.sql)[:2] == ["BEGIN", "INSERT"]
    assert _names(traced.app) == []


@LONE_READS
def test_the_engines_autocommit_wins_over_connect_args(
    make_app: MakeApp, tmp_path: Path, apps: list[Flask], lone: bool
) -> None:
    traced = _make(
        make_app,
        tmp_path,
        lone=lone,
        engine_options={"isolation_level": "AUTOCOMMIT", "connect_args": {"isolation_level": "IMMEDIATE"}},
    )
    apps.append(traced.app)
    with erlen_db.database_of(traced.app).engine.connect() as connection:
        connection.execute(sa.insert(Author).values(name="ada"))
    assert "BEGIN" not in _first_words(traced.sql)
    assert _names(traced.app) == ["ada"]


@LONE_READS
def test_under_autocommit_a_savepoint_rolled_back_leaves_no_transaction_open(
    make_app: MakeApp, tmp_path: Path, apps: list[Flask], lone: bool
) -> None:
    # SQLite's first SAVEPOINT outside a transaction begins one, and ROLLBACK TO keeps it open: what followed
    # ran in it, and the pool's rollback undid it.
    traced = _make(make_app, tmp_path, lone=lone, engine_options={"isolation_level": "AUTOCOMMIT"})
    apps.append(traced.app)
    with erlen_db.database_of(traced.app).engine.connect() as connection:
        with pytest.raises(RuntimeError), connection.begin_nested():
            connection.execute(sa.insert(Author).values(name="undone"))
            raise RuntimeError("the savepoint's block fails")
        assert not connection.connection.driver_connection.in_transaction  # type: ignore[union-attr]
        connection.execute(sa.insert(Author).values(name="ada"))
        with connection.begin_nested():  # an outer savepoint released: committed as it is released
            with pytest.raises(RuntimeError), connection.begin_nested():  # an inner one rolled back
                connection.execute(sa.insert(Author).values(name="undone too"))
                raise RuntimeError("the inner savepoint's block fails")
            connection.execute(sa.insert(Author).values(name="grace"))
        assert not connection.connection.driver_connection.in_transaction  # type: ignore[union-attr]
    assert _names(traced.app) == ["ada", "grace"]


@LONE_READS
def test_in_memory_every_statement_path_commits_under_autocommit_and_not_otherwise(
    make_app: MakeApp, apps: list[Flask], lone: bool
) -> None:
    # One connection holds the database: what AUTOCOMMIT saved must survive its return to the pool, and the
    # same connection must then be back to transactions on every path (compiled, raw SQL, executemany).
    app = make_app(["db"], {"DB_URL": "sqlite://", "DB_LONE_READS": lone})
    apps.append(app)
    database = erlen_db.database_of(app)
    database.create_all()
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.insert(Author).values(name="ada"))
        connection.exec_driver_sql("INSERT INTO author (name) VALUES ('bob')")
        connection.execute(sa.insert(Author), [{"name": "cy"}, {"name": "di"}])
    with database.engine.connect() as connection:
        connection.execute(sa.insert(Author).values(name="ed"))
        connection.exec_driver_sql("INSERT INTO author (name) VALUES ('flo')")
        connection.execute(sa.insert(Author), [{"name": "gus"}, {"name": "hal"}])
        connection.commit()
        connection.execute(sa.insert(Author).values(name="undone"))
        connection.exec_driver_sql("INSERT INTO author (name) VALUES ('undone too')")
        connection.execute(sa.insert(Author), [{"name": "undone 3"}, {"name": "undone 4"}])
    assert _names(app) == ["ada", "bob", "cy", "di", "ed", "flo", "gus", "hal"]


@LONE_READS
@pytest.mark.parametrize("level", ["SERIALIZABLE", "READ UNCOMMITTED", "AUTOCOMMIT"])
def test_after_a_level_of_its_own_or_an_invalidation_a_pooled_connection_has_transactions(
    make_app: MakeApp, tmp_path: Path, apps: list[Flask], lone: bool, level: str
) -> None:
    traced = _make(make_app, tmp_path, lone=lone, engine_options={"pool_size": 1, "max_overflow": 0})
    apps.append(traced.app)
    engine = erlen_db.database_of(traced.app).engine
    with engine.connect().execution_options(isolation_level=level) as connection:
        connection.execute(sa.select(Author.name)).all()
        connection.execute(sa.insert(Author).values(name="ada"))
        with connection.begin_nested():
            connection.execute(sa.insert(Author).values(name="bob"))
        if level != "AUTOCOMMIT":
            connection.commit()
    for invalidate in (True, False):
        with engine.connect() as connection:  # the same pooled connection, then a new one
            connection.execute(sa.insert(Author).values(name="undone"))
            if invalidate:
                connection.invalidate()
    assert _names(traced.app) == ["ada", "bob"]


def test_pragmas_installed_twice_release_a_savepoint_rolled_back_once(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'twice.sqlite3'}", isolation_level="AUTOCOMMIT")
    install_sqlite_pragmas(engine, 1000)
    install_sqlite_pragmas(engine, 1000)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            with pytest.raises(RuntimeError), connection.begin_nested():
                connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                raise RuntimeError("the savepoint's block fails")
            assert not connection.connection.driver_connection.in_transaction  # type: ignore[union-attr]
            connection.exec_driver_sql("INSERT INTO t VALUES (2)")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT x FROM t").scalars().all() == [2]
    finally:
        engine.dispose()

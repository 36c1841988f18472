"""On PostgreSQL, erlen_db.get's read by primary key as a request's first statement runs without BEGIN and ROLLBACK."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from app_models import Author, add_rename_view
from backends import terminate_backend
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import erlen_db
from erlen.testing import MakeApp
from erlen_db import lone_reads

#: How many times a connection runs a statement before psycopg prepares it, and once more.
PREPARED_AFTER = 6


class _GhostBase(DeclarativeBase):
    pass


class Ghost(_GhostBase):
    """A plain model whose table is never created: reading it fails on the server."""

    __tablename__ = "lone_reads_ghost"

    id: Mapped[int] = mapped_column(primary_key=True)


def _driver_state() -> dict[str, t.Any]:
    """Whether the app context's psycopg connection is in a transaction, and in autocommit."""
    driver = erlen_db.get_connection().connection.driver_connection
    assert driver is not None
    from psycopg import pq

    return {"status": pq.TransactionStatus(driver.pgconn.transaction_status).name, "autocommit": driver.autocommit}


def _make(
    make_app: MakeApp, url: str, engine_options: dict[str, t.Any] | None = None, lone_reads: bool | None = None
) -> Flask:
    config: dict[str, t.Any] = {"DB_URL": url, "PROPAGATE_EXCEPTIONS": False}
    if engine_options is not None:
        config["DB_ENGINE_OPTIONS"] = engine_options
    if lone_reads is not None:
        config["DB_LONE_READS"] = lone_reads
    app = make_app(["db"], config)
    database = erlen_db.database_of(app)
    database.create_all()
    with database.session_scope() as session:
        session.add(Author(name="ada"))  # id 1: the first of its sequence

    @app.get("/authors/<int:id>")
    def read(id: int) -> dict[str, t.Any]:
        author = erlen_db.get_or_404(Author, id)
        after_read = _driver_state()
        erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author))
        return {"name": author.name, "after_read": after_read, "after_next": _driver_state()}

    add_rename_view(app)

    @app.get("/ghost")
    def ghost() -> dict[str, t.Any]:
        try:
            erlen_db.get(Ghost, 1)
        except sa.exc.ProgrammingError:
            pass
        else:
            raise AssertionError("the ghost table exists")
        after_error = _driver_state()
        erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author))
        return {"after_error": after_error, "after_next": _driver_state()}

    @app.get("/lost/<int:id>")
    def lost(id: int) -> str:
        pid = erlen_db.get_connection().connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
        terminate_backend(url, pid)
        return erlen_db.get_or_404(Author, id).name

    return app


@pytest.fixture
def app(make_app: MakeApp, postgres_schema_url: str) -> Iterator[Flask]:
    app = _make(make_app, postgres_schema_url)
    yield app
    erlen_db.database_of(app).dispose()


def test_a_first_read_by_key_runs_alone_and_the_next_statement_begins_the_transaction(app: Flask) -> None:
    answer = app.test_client().get("/authors/1").json
    assert answer == {
        "name": "ada",
        "after_read": {"status": "IDLE", "autocommit": False},  # no BEGIN was sent, autocommit is off again
        "after_next": {"status": "INTRANS", "autocommit": False},
    }


def test_a_missing_row_is_still_a_404(app: Flask) -> None:
    assert app.test_client().get("/authors/2").status_code == 404


def test_a_write_after_the_read_commits(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/authors/1/grace").text == "grace"
    assert client.get("/authors/1").json["name"] == "grace"  # type: ignore[index]


def test_a_write_after_the_read_is_rolled_back_when_the_request_fails(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/authors/1/fail").status_code == 500
    assert client.get("/authors/1").json["name"] == "ada"  # type: ignore[index]


def test_a_read_that_fails_on_the_server_leaves_the_connection_in_transactions(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/ghost").json == {
        "after_error": {"status": "IDLE", "autocommit": False},
        "after_next": {"status": "INTRANS", "autocommit": False},
    }
    assert client.get("/authors/1").json["after_next"] == {"status": "INTRANS", "autocommit": False}  # type: ignore[index]


def test_a_connection_lost_during_the_read_answers_503_and_the_pool_replaces_it(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/lost/1").status_code == 503
    assert erlen_db.database_of(app).engine.pool.checkedout() == 0
    answer = client.get("/authors/1").json
    assert answer["name"] == "ada"  # type: ignore[index]
    assert answer["after_read"] == {"status": "IDLE", "autocommit": False}  # type: ignore[index]


@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
def test_under_a_stricter_isolation_level_the_read_is_the_transactions_first_statement(
    make_app: MakeApp, postgres_schema_url: str, level: str
) -> None:
    # There the first statement fixes the snapshot every later statement of the request sees.
    app = _make(make_app, postgres_schema_url, {"isolation_level": level})
    try:
        answer = app.test_client().get("/authors/1").json
    finally:
        erlen_db.database_of(app).dispose()
    assert answer["after_read"] == {"status": "INTRANS", "autocommit": False}  # type: ignore[index]


# -- every statement that cannot change anything (lone_reads.install, which the plugin applies to psycopg engines)


def _status() -> str:
    from psycopg import pq

    driver = erlen_db.get_connection().connection.driver_connection
    assert driver is not None and driver.autocommit is False
    return pq.TransactionStatus(driver.pgconn.transaction_status).name


#: Statements run first in a request, and whether each may run alone (outside a transaction).
PROBES: dict[str, tuple[t.Callable[[], t.Any], bool]] = {
    "orm select": (lambda: erlen_db.session.scalars(sa.select(Author).order_by(Author.id)).all(), True),
    "core select with a where": (
        lambda: erlen_db.session.execute(sa.select(Author.__table__).where(Author.name == "ada")).all(),
        True,
    ),
    "a function": (lambda: erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author)), False),
    "for update": (lambda: erlen_db.session.scalars(sa.select(Author).with_for_update()).all(), False),
    "text": (lambda: erlen_db.session.execute(sa.text("SELECT name FROM author")).all(), False),
    "literal column": (
        lambda: erlen_db.session.execute(sa.select(sa.literal_column("random()"), Author.name)).all(),
        False,
    ),
    "prefix": (lambda: erlen_db.session.execute(sa.select(Author.name).prefix_with("DISTINCT")).all(), False),
    "an insert": (lambda: erlen_db.session.execute(sa.insert(Author).values(name="grace")), False),
    "server-side cursor": (
        lambda: list(erlen_db.session.execute(sa.select(Author.name), execution_options={"yield_per": 1})),
        False,
    ),
}


@pytest.fixture
def installed_app(make_app: MakeApp, postgres_schema_url: str) -> Iterator[Flask]:
    app = _make(make_app, postgres_schema_url)
    database = erlen_db.database_of(app)
    assert lone_reads.is_installed(database.engine)  # by the plugin, with prepared_statements

    @app.get("/probe/<name>")
    def probe(name: str) -> dict[str, t.Any]:
        PROBES[name][0]()
        return {"status": _status()}

    @app.post("/list-then-write/<name>")
    def list_then_write(name: str) -> dict[str, t.Any]:
        names = erlen_db.session.scalars(sa.select(Author.name).order_by(Author.id)).all()
        after_list = _status()
        erlen_db.session.add(Author(name=name))
        erlen_db.session.flush()
        if name == "fail":
            raise RuntimeError("the request fails after its write")
        erlen_db.session.commit()
        return {"names": names, "after_list": after_list}

    yield app
    database.dispose()


@pytest.mark.parametrize("name", list(PROBES))
def test_only_statements_that_change_nothing_run_alone(installed_app: Flask, name: str) -> None:
    answer = installed_app.test_client().get(f"/probe/{name}")
    assert answer.status_code == 200, answer.text
    assert answer.json == {"status": "IDLE" if PROBES[name][1] else "INTRANS"}


def test_a_write_after_a_lone_read_commits_or_rolls_back_with_the_request(installed_app: Flask) -> None:
    client = installed_app.test_client()
    assert client.post("/list-then-write/fail").status_code == 500
    assert client.post("/list-then-write/grace").json == {"names": ["ada"], "after_list": "IDLE"}
    assert client.post("/list-then-write/alan").json["names"] == ["ada", "grace"]  # type: ignore[index]


def test_a_connection_lost_during_a_lone_statement_answers_503_and_the_pool_replaces_it(
    installed_app: Flask, postgres_schema_url: str
) -> None:
    @installed_app.get("/lost-list")
    def lost_list() -> str:
        pid = erlen_db.get_connection().connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
        terminate_backend(postgres_schema_url, pid)
        return ",".join(erlen_db.session.scalars(sa.select(Author.name)))

    client = installed_app.test_client()
    assert client.get("/lost-list").status_code == 503
    assert client.get("/probe/orm select").json == {"status": "IDLE"}


def test_under_repeatable_read_nothing_runs_alone(make_app: MakeApp, postgres_schema_url: str) -> None:
    app = _make(make_app, postgres_schema_url, {"isolation_level": "REPEATABLE READ"})

    @app.get("/list")
    def listed() -> str:
        erlen_db.session.scalars(sa.select(Author)).all()
        return _status()

    try:
        assert app.test_client().get("/list").text == "INTRANS"
    finally:
        erlen_db.database_of(app).dispose()


@pytest.fixture
def app_without_lone_reads(make_app: MakeApp, postgres_schema_url: str) -> Iterator[Flask]:
    app = _make(make_app, postgres_schema_url, lone_reads=False)

    @app.get("/probe/<name>")
    def probe(name: str) -> dict[str, t.Any]:
        PROBES[name][0]()
        return {"status": _status()}

    yield app
    erlen_db.database_of(app).dispose()


def test_with_lone_reads_off_a_first_read_by_key_begins_the_transaction(app_without_lone_reads: Flask) -> None:
    engine = erlen_db.database_of(app_without_lone_reads).engine
    assert not lone_reads.is_installed(engine)
    answer = app_without_lone_reads.test_client().get("/authors/1").json
    assert answer == {
        "name": "ada",
        "after_read": {"status": "INTRANS", "autocommit": False},  # BEGIN was sent before the read
        "after_next": {"status": "INTRANS", "autocommit": False},
    }


@pytest.mark.parametrize("name", [name for name, (_, alone) in PROBES.items() if alone])
def test_with_lone_reads_off_every_first_select_runs_in_the_transaction(
    app_without_lone_reads: Flask, name: str
) -> None:
    answer = app_without_lone_reads.test_client().get(f"/probe/{name}")
    assert answer.status_code == 200, answer.text
    assert answer.json == {"status": "INTRANS"}


def test_with_lone_reads_off_prepared_statements_are_still_kept(app_without_lone_reads: Flask) -> None:
    # The switch turns off the lone reads only: psycopg's prepared statements still survive a request's rollback.
    rollback = erlen_db.database_of(app_without_lone_reads).engine.dialect.do_rollback
    assert rollback.__module__ == "erlen_db.prepared_statements"


def test_installing_twice_wraps_the_driver_once(installed_app: Flask) -> None:
    engine = erlen_db.database_of(installed_app).engine
    installed = engine.dialect.do_execute
    lone_reads.install(engine)
    assert engine.dialect.do_execute is installed


def test_a_read_by_key_prepared_before_a_schema_change_fails_once_then_is_prepared_afresh(
    app: Flask, postgres_schema_url: str
) -> None:
    client = app.test_client()
    for _ in range(PREPARED_AFTER):
        assert client.get("/authors/1").status_code == 200
    other = sa.create_engine(postgres_schema_url, poolclass=sa.NullPool)
    with other.begin() as connection:
        connection.execute(sa.text("ALTER TABLE author ALTER COLUMN name TYPE varchar(200)"))
    other.dispose()
    # The lone read has no transaction whose rollback would forget the stale statement: it is forgotten anyway.
    statuses = [client.get("/authors/1").status_code for _ in range(2)]
    assert statuses in ([500, 200], [200, 200])
    for _ in range(PREPARED_AFTER):
        assert client.get("/authors/1").status_code == 200

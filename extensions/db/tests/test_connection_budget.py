"""``erlen check --deploy`` compares the connections the app's processes may open with what PostgreSQL accepts."""

from __future__ import annotations

import socket
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

import erlen
import erlen_db
from erlen.checks import CheckMessage, run_checks
from erlen.testing import MakeApp
from erlen_db.connection_budget import ADMIN_HEADROOM, WORKERS_VARIABLE, connections_per_process


@pytest.fixture
def server_accepts(postgres_engine: sa.Engine) -> int:
    """What the test server lets a role without a connection limit open: SHOW max_connections, less the reserved."""
    with postgres_engine.connect() as connection:
        max_connections = int(connection.execute(sa.text("SHOW max_connections")).scalar_one())
        reserved = int(connection.execute(sa.text("SHOW superuser_reserved_connections")).scalar_one())
        extra = connection.execute(sa.text("SELECT current_setting('reserved_connections', true)")).scalar()
    return max_connections - reserved - int(extra or 0)


@pytest.fixture
def budget_app(make_app: MakeApp, postgres_schema_url: str) -> Iterator[t.Callable[..., Flask]]:
    """A factory of apps with ``db`` on the test PostgreSQL server; their engines are disposed afterwards."""
    made: list[Flask] = []

    def make(config: dict[str, t.Any] | None = None) -> Flask:
        app = make_app(["db"], {"DB_URL": postgres_schema_url, **(config or {})})
        made.append(app)
        return app

    yield make
    for app in made:
        erlen_db.database_of(app).dispose()


@pytest.fixture(autouse=True)
def no_web_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests set the variable themselves: none from the shell."""
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)


def _budget(app: Flask, deploy: bool = True) -> list[CheckMessage]:
    return [m for m in run_checks(app, deploy=deploy) if m.id in {"db.W002", "db.W003", "db.I002", "db.I003"}]


def test_too_many_workers_for_max_connections_is_a_warning(
    budget_app: t.Callable[..., Flask], server_accepts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_process = 3 + 2
    workers = server_accepts // per_process  # with the mail worker and the headroom, just too many
    monkeypatch.setenv(WORKERS_VARIABLE, str(workers))
    app = budget_app({"DB_ENGINE_OPTIONS": {"pool_size": 3, "max_overflow": 2}})
    (message,) = _budget(app)
    needed = (workers + 1) * per_process + ADMIN_HEADROOM
    assert needed > server_accepts
    assert message.id == "db.W002" and message.level.name == "WARNING", message
    assert f"may open {needed} connections" in message.message, message
    assert f"({workers} web worker(s) + 1 other process(es)) x 5" in message.message, message
    assert f"the server accepts {server_accepts} (max_connections" in message.message, message
    assert "WEB_CONCURRENCY" in message.hint and "max_overflow" in message.hint
    assert _budget(app, deploy=False) == []  # a production check only


def test_workers_within_max_connections_pass(
    budget_app: t.Callable[..., Flask], server_accepts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, "2")
    app = budget_app({"DB_ENGINE_OPTIONS": {"pool_size": 2, "max_overflow": 1}})
    assert server_accepts >= (2 + 1) * 3 + ADMIN_HEADROOM
    assert _budget(app) == []


def test_the_setting_wins_over_the_variable_and_counts_the_other_processes(
    budget_app: t.Callable[..., Flask], server_accepts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    app = budget_app({"DB_WEB_WORKERS": server_accepts, "DB_OTHER_PROCESSES": 2})
    (message,) = _budget(app)
    # SQLAlchemy's default pool: pool_size 5 and max_overflow 10.
    assert f"({server_accepts} web worker(s) + 2 other process(es)) x 15" in message.message, message


def test_a_connection_limit_of_the_database_is_the_tighter_limit(
    budget_app: t.Callable[..., Flask], postgres_engine: sa.Engine, server_accepts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"erlen_budget_{uuid.uuid4().hex[:12]}"
    needed = (2 + 1) * (3 + 2) + ADMIN_HEADROOM
    assert needed <= server_accepts  # the server alone would accept them
    with postgres_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}" CONNECTION LIMIT {needed - 1}'))
    try:
        monkeypatch.setenv(WORKERS_VARIABLE, "2")
        url = postgres_engine.url.set(database=name).render_as_string(hide_password=False)
        app = budget_app({"DB_URL": url, "DB_ENGINE_OPTIONS": {"pool_size": 3, "max_overflow": 2}})
        (message,) = _budget(app)
        erlen_db.database_of(app).dispose()
    finally:
        with postgres_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    assert message.id == "db.W002" and f"may open {needed} connections" in message.message, message
    assert f"accepts {needed - 1} (the CONNECTION LIMIT of the database '{name}')" in message.message, message


def test_without_a_worker_count_nothing_is_compared(budget_app: t.Callable[..., Flask]) -> None:
    (message,) = _budget(budget_app())
    assert message.id == "db.I002" and "WEB_CONCURRENCY" in message.hint


@pytest.mark.parametrize("value", ["four", "0"])
def test_a_web_concurrency_that_is_no_number_is_a_warning(
    budget_app: t.Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, value)
    (message,) = _budget(budget_app())
    assert message.id == "db.W003" and f"WEB_CONCURRENCY is {value!r}" in message.message


def test_a_pool_without_bound_is_a_warning(budget_app: t.Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, "2")
    (message,) = _budget(budget_app({"DB_ENGINE_OPTIONS": {"max_overflow": -1}}))
    assert message.id == "db.W002" and "no upper bound" in message.message


@pytest.mark.parametrize(
    ("options", "connections"),
    [({}, 15), ({"pool_size": 2, "max_overflow": 0}, 2), ({"poolclass": sa.pool.NullPool}, None)],
)
def test_connections_per_process(
    budget_app: t.Callable[..., Flask], options: dict[str, t.Any], connections: int | None
) -> None:
    app = budget_app()
    database = erlen_db.Database(app, erlen_db.database_of(app).url, options)
    try:
        assert connections_per_process(database) == connections
    finally:
        database.dispose()


def test_an_unreachable_server_is_said_and_the_count_given(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, "4")
    with socket.socket() as sock:  # a port nothing listens on: the connection is refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make_app(["db"], {"DB_URL": f"postgresql://nobody:secret@127.0.0.1:{port}/none"})
    try:
        (message,) = _budget(app)
    finally:
        erlen_db.database_of(app).dispose()
    assert message.id == "db.I003" and "cannot be reached" in message.message, message
    assert f"may open up to {(4 + 1) * 15 + ADMIN_HEADROOM} connections" in message.message
    assert "secret" not in str(message)


def test_sqlite_is_not_counted(make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, "1000")
    app = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}"})
    assert _budget(app) == []
    erlen_db.database_of(app).dispose()


def test_the_settings_are_checked_at_startup(make_app: MakeApp, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    with pytest.raises(erlen.SettingError, match=r"DB_WEB_WORKERS.*must be at least 1"):
        make_app(["db"], {"DB_URL": url, "DB_WEB_WORKERS": 0})
    with pytest.raises(erlen.SettingError, match=r"DB_OTHER_PROCESSES.*must be at least 0"):
        make_app(["db"], {"DB_URL": url, "DB_OTHER_PROCESSES": -1})

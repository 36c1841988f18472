"""The testing kit of ``erlen-db``, a pytest plugin loaded once erlen-db is installed.

Fixtures (all use the core's ``app`` fixture; set ``erlen_plugins`` and
``erlen_config`` to choose the app):

``db_session``
    Runs the test inside a transaction that is rolled back at its end, on
    SQLite and PostgreSQL alike. The app's tables are created inside it.
    Every session of the app during the test (in requests and app contexts)
    joins that transaction through a SAVEPOINT, so code that calls
    ``commit()`` only releases its SAVEPOINT and nothing persists.
    The fixture's value is a session for preparing data. At the end the
    engine's pooled connections are closed.
``count_queries``
    ``with count_queries() as counter: ...`` counts the statements the app's
    engine runs in the block.
``max_queries``
    ``with max_queries(2): client.get("/posts")`` fails, listing the
    statements, when the block runs more than two: catches N+1 queries.
``database_url``
    Parametrizes a test over an empty SQLite file and an empty PostgreSQL
    schema of its own (dropped afterwards), so a plugin's tests run on both.
    ``ERLEN_TEST_DATABASES=sqlite`` (or ``postgresql``) keeps one of the two
    (:func:`databases_under_test`); Erlen's CI runs each package's tests on
    SQLite alone at the lowest versions, and on PostgreSQL with every package.
``postgres_schema_url``, ``postgres_engine``
    The PostgreSQL parts alone. The server is ``ERLEN_TEST_POSTGRES_URL``
    (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); without
    one the tests skip, or fail under ``ERLEN_REQUIRE_SERVICES=1``.
``make_db_app``
    A factory of apps with the ``db`` plugin on ``database_url`` (so the test
    runs on both databases), built with the core's ``make_app``:
    ``make_db_app(["mail"], {"MAIL_DEFAULT_SENDER": ...})`` enables ``db`` then
    ``mail``. ``url=`` puts one app on another database, ``create_all=True``
    creates its tables. The engines of every app it made are disposed at the
    end of the test. Plugins' test suites wrap it to add their own plugins
    and settings.
``postgres_server``
    A PostgreSQL server of the test's own (a :class:`PostgresServer`), for
    tests that stop, kill or restart the database: ``postgres_server.url``,
    ``.stop()``, ``.start_again()``, ``.restart()``, ``.kill()``, ``.pid``.
    It listens on a free loopback port and is stopped and deleted after the
    test. Never stop the shared server of ``ERLEN_TEST_POSTGRES_URL``.
    Without PostgreSQL's server programs the test skips (or fails under
    ``ERLEN_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import os
import typing as t
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from erlen.testing import MakeApp, service_unavailable

from .database import database_of
from .isolation import rolled_back
from .postgres_server import PostgresServer
from .queries import QueryCounter
from .queries import count_queries as _count_queries
from .queries import max_queries as _max_queries
from .urls import redact as redact_url

#: The PostgreSQL server of the tests unless ``ERLEN_TEST_POSTGRES_URL`` names another.
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


#: The databases ``database_url`` parametrizes tests over, unless ``ERLEN_TEST_DATABASES`` keeps fewer.
DATABASES = ("sqlite", "postgresql")


def databases_under_test() -> list[str]:
    """The databases of ``database_url``: those ``ERLEN_TEST_DATABASES`` names (comma-separated), else both.

    :raises pytest.UsageError: the variable names a database that is neither ``sqlite`` nor ``postgresql``.
    """
    named = [name.strip() for name in os.environ.get("ERLEN_TEST_DATABASES", "").split(",") if name.strip()]
    unknown = [name for name in named if name not in DATABASES]
    if unknown:
        raise pytest.UsageError(
            f"ERLEN_TEST_DATABASES names {', '.join(unknown)}: name sqlite, postgresql or both (comma-separated)"
        )
    return [name for name in DATABASES if name in named] or list(DATABASES)


def postgres_url() -> str:
    """The URL of the PostgreSQL server the tests use."""
    return os.environ.get("ERLEN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """An engine of the test PostgreSQL server; skips (or fails under ERLEN_REQUIRE_SERVICES=1) without one."""
    engine = sa.create_engine(postgres_url(), connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not reachable"
        engine.dispose()
        reason = str(exc).splitlines()[0] if str(exc) else ""
        service_unavailable(
            f"PostgreSQL not reachable at {redact_url(postgres_url())} ({type(exc).__name__}: {reason}); "
            "set ERLEN_TEST_POSTGRES_URL"
        )
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema_url(postgres_engine: sa.Engine) -> Iterator[str]:
    """The URL of a fresh PostgreSQL schema of its own, dropped after the test."""
    schema = f"erlen_test_{uuid.uuid4().hex[:12]}"
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=databases_under_test())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: an SQLite file, or a fresh PostgreSQL schema (see :func:`databases_under_test`)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return t.cast(str, request.getfixturevalue("postgres_schema_url"))


class MakeDbApp(t.Protocol):
    """The type of the ``make_db_app`` fixture's factory."""

    def __call__(
        self,
        plugins: Iterable[str] = (),
        config: Mapping[str, t.Any] | None = None,
        *,
        url: str | None = None,
        create_all: bool = False,
        **make_app_options: t.Any,
    ) -> Flask: ...


@pytest.fixture
def make_db_app(make_app: MakeApp, database_url: str) -> MakeDbApp:
    """A factory of apps with ``db`` on ``database_url``, closed (engines disposed) by ``make_app`` afterwards.

    The factory's parameters:

    ``plugins``
        The plugins to enable after ``db``, in order.
    ``config``
        Settings applied over ``DB_URL``.
    ``url``
        The ``DB_URL`` of this app instead of ``database_url``.
    ``create_all``
        Create the tables of the app's models before returning it.
    ``make_app_options``
        Passed on to ``make_app``: ``import_name``, ``environ``, or Flask's options.
    """

    def make(
        plugins: Iterable[str] = (),
        config: Mapping[str, t.Any] | None = None,
        *,
        url: str | None = None,
        create_all: bool = False,
        **make_app_options: t.Any,
    ) -> Flask:
        settings = {"DB_URL": database_url if url is None else url, **(config or {})}
        app = make_app(["db", *plugins], settings, **make_app_options)
        if create_all:
            database_of(app).create_all()
        return app

    return make


@pytest.fixture
def postgres_server(tmp_path: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, stopped and deleted afterwards; see the module documentation."""
    with PostgresServer.start(tmp_path) as server:
        yield server


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session inside a test transaction that is rolled back afterwards; see the module documentation."""
    try:
        with rolled_back(app) as session:
            yield session
    finally:
        database_of(app).dispose()


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], AbstractContextManager[QueryCounter]]:
    """A factory of query-counting blocks on ``app``'s engine."""
    return lambda: _count_queries(app)


@pytest.fixture
def max_queries(app: Flask) -> Callable[[int], AbstractContextManager[QueryCounter]]:
    """A factory of blocks that fail when they run more than the given number of queries."""
    return lambda limit: _max_queries(limit, app)


__all__: list[str] = [
    "DATABASES",
    "MakeDbApp",
    "PostgresServer",
    "count_queries",
    "databases_under_test",
    "db_session",
    "make_db_app",
    "max_queries",
    "postgres_server",
]

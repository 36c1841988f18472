from __future__ import annotations

import os
import typing as t
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping

import pytest
import sqlalchemy as sa
from flask import Flask

import erlen_db
from erlen.testing import MakeApp

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

DbApp = Callable[..., Flask]


def postgres_url() -> str:
    return os.environ.get("ERLEN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _unreachable(reason: str) -> t.NoReturn:
    where = erlen_db.redact_url(postgres_url())
    message = f"PostgreSQL not reachable at {where} ({reason}); set ERLEN_TEST_POSTGRES_URL"
    if os.environ.get("ERLEN_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (ERLEN_REQUIRE_SERVICES=1: services are required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """An engine of the test PostgreSQL server; skips (or fails under ERLEN_REQUIRE_SERVICES=1) without one."""
    engine = sa.create_engine(postgres_url(), connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not reachable"
        engine.dispose()
        _unreachable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema_url(postgres_engine: sa.Engine) -> Iterator[str]:
    """The URL of a fresh PostgreSQL schema of its own, dropped after the test."""
    schema = f"erlen_db_test_{uuid.uuid4().hex[:12]}"
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: t.Any) -> str:
    """The URL of an empty database: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return t.cast(str, request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def db_app(make_app: MakeApp, database_url: str) -> Iterator[DbApp]:
    """A factory of apps with the ``db`` plugin on ``database_url``; their engines are disposed afterwards."""
    made: list[Flask] = []

    def make(plugins: Iterable[str] = (), config: Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> Flask:
        settings = {"DB_URL": database_url, **(config or {})}
        app = make_app(["db", *plugins], settings, **kwargs)
        made.append(app)
        return app

    yield make
    for app in made:
        erlen_db.database_of(app).dispose()


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["db"]


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url}


@pytest.fixture
def dispose_app(app: Flask) -> Iterator[Flask]:
    yield app
    erlen_db.database_of(app).dispose()

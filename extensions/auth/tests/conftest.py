from __future__ import annotations

import os
import typing as t
import uuid
from collections.abc import Callable, Iterator, Mapping

import pytest
import sqlalchemy as sa
from flask import Flask

import erlen_db
from erlen.testing import MakeApp
from erlen_auth.testing import FAST_HASHING

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("ERLEN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def services_required() -> bool:
    return os.environ.get("ERLEN_REQUIRE_SERVICES") == "1"


def unavailable(message: str) -> t.NoReturn:
    if services_required():
        pytest.fail(message + " (ERLEN_REQUIRE_SERVICES=1: services are required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url(), connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        where = erlen_db.redact_url(postgres_url())
        unavailable(f"PostgreSQL not reachable at {where} ({type(exc).__name__}); set ERLEN_TEST_POSTGRES_URL")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema_url(postgres_engine: sa.Engine) -> Iterator[str]:
    schema = f"erlen_auth_test_{uuid.uuid4().hex[:12]}"
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: t.Any) -> str:
    """An empty database: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return t.cast(str, request.getfixturevalue("postgres_schema_url"))


def mail_available() -> bool:
    try:
        import erlen_mail  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["db", "forms", "auth"]


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING}


AuthApp = Callable[..., Flask]


@pytest.fixture
def auth_app(make_app: MakeApp, database_url: str) -> Iterator[AuthApp]:
    """A factory of apps with db, forms and auth (and more plugins) on ``database_url``, with fast hashing."""
    made: list[Flask] = []

    def make(plugins: t.Iterable[str] = (), config: Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> Flask:
        app = make_app(
            ["db", "forms", *plugins, "auth"], {"DB_URL": database_url, **FAST_HASHING, **(config or {})}, **kwargs
        )
        made.append(app)
        return app

    yield make
    for app in made:
        erlen_db.database_of(app).dispose()


@pytest.fixture
def db_session_for() -> Iterator[Callable[[Flask], t.Any]]:
    """Wrap apps made in the test in a rolled-back transaction, as ``db_session`` does for ``app``."""
    import contextlib

    stack = contextlib.ExitStack()

    def enter(app: Flask) -> t.Any:
        return stack.enter_context(erlen_db.rolled_back(app))

    with stack:
        yield enter

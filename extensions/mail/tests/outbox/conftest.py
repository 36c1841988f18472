"""Fixtures of the outbox tests: an app with db and mail on SQLite or PostgreSQL, an SMTP server, a clock.

erlen-db and SQLAlchemy are imported inside the fixtures: the test modules
skip themselves when erlen-db is not installed (the tests-mail session).
"""

from __future__ import annotations

import os
import typing as t
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from outbox_support import SENDER, Clock, OutboxApp

from erlen.testing import MakeApp
from erlen_mail.testing import SMTPTestServer

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("ERLEN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _unreachable(reason: str) -> t.NoReturn:
    import erlen_db

    where = erlen_db.redact_url(postgres_url())
    message = f"PostgreSQL not reachable at {where} ({reason}); set ERLEN_TEST_POSTGRES_URL"
    if os.environ.get("ERLEN_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (ERLEN_REQUIRE_SERVICES=1: services are required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[t.Any]:
    """An engine of the test PostgreSQL server; skips (or fails under ERLEN_REQUIRE_SERVICES=1) without one."""
    import sqlalchemy as sa

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
def postgres_schema_url(postgres_engine: t.Any) -> Iterator[str]:
    """The URL of a fresh PostgreSQL schema of its own, dropped after the test."""
    import sqlalchemy as sa

    schema = f"erlen_mail_test_{uuid.uuid4().hex[:12]}"
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
        return f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    return t.cast(str, request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_outbox_app(make_app: MakeApp, database_url: str, smtp_server: SMTPTestServer) -> Iterator[OutboxApp]:
    """Apps with db and mail on ``database_url``, sending to ``smtp_server``; the first one creates the table."""
    import erlen_db

    made: list[Flask] = []

    def make(config: dict[str, t.Any] | None = None, plugins: tuple[str, ...] = ("db", "mail")) -> Flask:
        settings = {
            "DB_URL": database_url,
            "MAIL_DEFAULT_SENDER": SENDER,
            "MAIL_OUTBOX_BACKOFF_SECONDS": 10.0,
            "MAIL_OUTBOX_LEASE_SECONDS": 60.0,
            "MAIL_SMTP_TIMEOUT": 5.0,
            **smtp_server.config(),
            **(config or {}),
        }
        app = make_app(list(plugins), settings)
        if not made and "migrate" not in plugins:
            erlen_db.database_of(app).create_all()
        made.append(app)
        return app

    yield make
    for app in made:
        erlen_db.database_of(app).dispose()


@pytest.fixture
def outbox_app(make_outbox_app: OutboxApp) -> Flask:
    return make_outbox_app()

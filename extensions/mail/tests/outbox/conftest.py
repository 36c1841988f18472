"""Fixtures of the outbox tests: an app with db and mail on SQLite or PostgreSQL, an SMTP server, a clock.

erlen-db and SQLAlchemy are imported inside the fixtures: the test modules
skip themselves when erlen-db is not installed (the tests-mail session).
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask
from outbox_support import SENDER, Clock, OutboxApp

from erlen.testing import MakeApp
from erlen_mail.testing import SMTPTestServer


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

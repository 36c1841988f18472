"""Fixtures of the outbox tests: an app with db and mail on SQLite or PostgreSQL, an SMTP server, a clock.

The apps come from erlen-db's ``make_db_app`` fixture; erlen-db is imported
only for type checking: the test modules skip themselves when erlen-db is not
installed (the tests-mail session).
"""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from outbox_support import SENDER, Clock, OutboxApp

from erlen_mail.testing import SMTPTestServer

if t.TYPE_CHECKING:
    from erlen_db.testing import MakeDbApp


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_outbox_app(make_db_app: MakeDbApp, smtp_server: SMTPTestServer) -> OutboxApp:
    """Apps with db and mail on ``database_url``, sending to ``smtp_server``; the first one creates the table."""
    made: list[Flask] = []

    def make(config: dict[str, t.Any] | None = None, plugins: tuple[str, ...] = ("mail",)) -> Flask:
        settings = {
            "MAIL_DEFAULT_SENDER": SENDER,
            "MAIL_OUTBOX_BACKOFF_SECONDS": 10.0,
            "MAIL_OUTBOX_LEASE_SECONDS": 60.0,
            "MAIL_SMTP_TIMEOUT": 5.0,
            **smtp_server.config(),
            **(config or {}),
        }
        app = make_db_app(plugins, settings, create_all=not made and "migrate" not in plugins)
        made.append(app)
        return app

    return make


@pytest.fixture
def outbox_app(make_outbox_app: OutboxApp) -> Flask:
    return make_outbox_app()

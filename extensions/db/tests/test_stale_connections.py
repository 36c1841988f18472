"""Pooled PostgreSQL connections the server closed are replaced before use, without a round trip per request."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from app_models import Author
from backends import pooled_backend_pid, terminate_backend
from flask import Flask

import erlen_db
from erlen.testing import MakeApp


@pytest.fixture
def pinged(make_app: MakeApp, postgres_schema_url: str) -> Iterator[tuple[Flask, list[object]]]:
    """An app on PostgreSQL whose dialect records each ping it sends."""
    app = make_app(["db"], {"DB_URL": postgres_schema_url})
    database = erlen_db.database_of(app)
    database.create_all()
    pings: list[object] = []
    do_ping = database.engine.dialect.do_ping

    def counted(dbapi_connection: t.Any) -> bool:
        pings.append(dbapi_connection)
        return do_ping(dbapi_connection)

    database.engine.dialect.do_ping = counted  # type: ignore[method-assign]

    @app.get("/count")
    def count() -> str:
        return str(erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author)))

    yield app, pings
    database.dispose()


def test_a_live_pooled_connection_is_used_without_a_ping(pinged: tuple[Flask, list[object]]) -> None:
    app, pings = pinged
    client = app.test_client()
    for _ in range(5):
        assert client.get("/count").text == "0"
    assert pings == []


def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(
    pinged: tuple[Flask, list[object]], postgres_schema_url: str
) -> None:
    app, pings = pinged
    client = app.test_client()
    assert client.get("/count").text == "0"
    before = pooled_backend_pid(app)
    terminate_backend(postgres_schema_url, before)
    # The server's goodbye waits on the idle socket: the checkout pings, the ping fails, the pool reconnects.
    response = client.get("/count")
    assert (response.status_code, response.text) == (200, "0")
    assert len(pings) == 1
    assert pooled_backend_pid(app) != before
    assert client.get("/count").text == "0"
    assert len(pings) == 1  # the new connection is not pinged again

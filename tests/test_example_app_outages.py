"""The example app on a PostgreSQL server of its own that goes away: 503 pages, never 500s, no lost writes."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, Response
from flask.testing import FlaskClient

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")

import notes_app

import erlen_db
from erlen_auth.testing import FAST_HASHING, login_as, make_user
from erlen_db.testing import PostgresServer
from erlen_forms.testing import csrf_client_for


@pytest.fixture
def app(tmp_path: Path, postgres_server: PostgresServer) -> Iterator[Flask]:
    environ = {
        "ERLEN_DB_URL": postgres_server.url + "?connect_timeout=2",
        "ERLEN_MAIL_FILE_PATH": str(tmp_path / "mail"),
        **{f"ERLEN_{key}": str(value) for key, value in FAST_HASHING.items()},
    }
    app = notes_app.create_app(environ, instance_path=str(tmp_path / "instance"))
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    yield app
    erlen_db.database_of(app).dispose()


def logged_in(app: Flask) -> FlaskClient:
    client = login_as(csrf_client_for(app), make_user(app, "ada@example.com"))
    assert client.get("/notes/").status_code == 200
    return client


def note_titles(app: Flask) -> list[str]:
    with app.app_context():
        return list(erlen_db.session.scalars(sa.text("SELECT title FROM notes_note ORDER BY id")))


def test_a_logged_in_user_gets_503_pages_while_the_database_is_stopped(
    app: Flask, postgres_server: PostgresServer
) -> None:
    client = logged_in(app)
    postgres_server.stop()
    for response in (
        client.get("/notes/"),
        client.get("/notes/new"),
        client.post("/notes/new", data={"title": "Engines", "body": "Algebra."}),
        client.get("/profiles/me"),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
    assert client.get("/no-such-page").status_code == 404
    postgres_server.start_again()
    assert client.get("/notes/").status_code == 200


def test_a_note_saved_before_the_connection_drops_is_answered_as_saved(
    app: Flask, postgres_server: PostgresServer
) -> None:
    @app.after_request
    def drop_the_connection(response: Response) -> Response:
        # The note is committed and the admins notified; the server now ends the request's connection.
        if response.status_code == 302 and "/notes/" in response.headers.get("Location", ""):
            pid = t.cast(int, erlen_db.session.scalar(sa.text("SELECT pg_backend_pid()")))
            other = sa.create_engine(postgres_server.url, poolclass=sa.NullPool)
            with other.begin() as connection:
                connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.dispose()
        return response

    client = logged_in(app)
    response = client.post("/notes/new", data={"title": "Engines", "body": "They weave algebra."})
    assert response.status_code == 302, response.text
    assert note_titles(app) == ["Engines"]
    assert client.get(response.headers["Location"]).status_code == 200

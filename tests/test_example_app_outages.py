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

from example_apps import example_app

import erlen_db
from erlen_auth.testing import login_as, make_user
from erlen_db.testing import PostgresServer
from erlen_forms.testing import csrf_client_for


@pytest.fixture
def app(tmp_path: Path, postgres_server: PostgresServer) -> Iterator[Flask]:
    # TESTING off: the outage must reach the app's own 503 handling, as in production.
    app = example_app(tmp_path, database_url=postgres_server.url + "?connect_timeout=2", testing=False)
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
                # With a timeout it returns once the backend has exited, its goodbye sent (PostgreSQL 14+).
                connection.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
            other.dispose()
        return response

    client = logged_in(app)
    response = client.post("/notes/new", data={"title": "Engines", "body": "They weave algebra."})
    assert response.status_code == 302, response.text
    assert note_titles(app) == ["Engines"]
    assert client.get(response.headers["Location"]).status_code == 200


def statements_and_connections(app: Flask) -> tuple[list[str], t.Callable[[], None]]:
    """A list that collects every connection attempt and statement on the app's engine, and a function ending that."""
    engine = erlen_db.database_of(app).engine
    seen: list[str] = []

    def on_connect(*args: t.Any) -> None:
        seen.append("connect")

    def on_statement(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "do_connect", on_connect)
    sa.event.listen(engine, "before_cursor_execute", on_statement)

    def stop() -> None:
        sa.event.remove(engine, "do_connect", on_connect)
        sa.event.remove(engine, "before_cursor_execute", on_statement)

    return seen, stop


def assert_neutral_header(page: str) -> None:
    """The app's header offers neither a "Log in" link nor the account menu (nor names anyone)."""
    header = page[page.index('<header class="erlen-header">') : page.index("</header>")]
    assert "Log in" not in header and "/auth/login" not in header, header
    assert "erlen-account-menu" not in page and "ada@example.com" not in page and "Log out" not in page, page


def test_a_logged_in_users_500_and_503_pages_claim_no_one_and_touch_no_database(
    app: Flask, postgres_server: PostgresServer
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an unhandled error is the 500 page

    @app.get("/greets-then-fails")
    def greets_then_fails() -> str:
        from erlen_auth import current_user

        app.logger.info("Hello %s", current_user.email)  # the user is loaded, then the view fails
        raise RuntimeError("boom")

    client = logged_in(app)
    erlen_db.database_of(app).dispose()  # no pooled connection: the next request connects

    seen, stop = statements_and_connections(app)
    try:
        failed = client.get("/greets-then-fails")
    finally:
        stop()
    assert failed.status_code == 500 and "Something went wrong" in failed.text
    assert_neutral_header(failed.text)  # the rollback expired the user: reloading it is not the page's to do
    assert len([s for s in seen if s != "connect"]) == 1  # the user's load; the page asked for nothing

    postgres_server.stop()
    seen, stop = statements_and_connections(app)
    try:
        unavailable = client.get("/notes/")
    finally:
        stop()
    assert unavailable.status_code == 503 and "Service unavailable" in unavailable.text
    assert_neutral_header(unavailable.text)
    assert seen == ["connect"]  # the user's load found the server down; the page tried nothing more
    postgres_server.start_again()
    assert "ada@example.com" in client.get("/notes/").text

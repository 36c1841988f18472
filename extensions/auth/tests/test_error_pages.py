"""Error pages of logged-in users never touch the database: a database outage is a 503, never a 500."""

from __future__ import annotations

import sqlite3
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, abort, current_app, render_template
from flask.testing import FlaskClient

import erlen_db
from erlen.testing import MakeApp
from erlen_auth.testing import FAST_HASHING, login_as, make_user
from erlen_db.testing import PostgresServer
from erlen_forms.testing import csrf_client_for

#: A layout as apps write them: the navigation names the logged-in user.
LAYOUT = """<nav>{% if current_user.is_authenticated %}Logged in as {{ current_user.email }}{% else %}Log in{% endif %}
</nav>{% block content %}{% endblock %}"""


def write_templates(root: Path) -> None:
    """The app's own 404, 500 and 503 pages, each extending the layout that shows ``current_user``."""
    templates = root / "templates"
    (templates / "erlen_db").mkdir(parents=True)
    (templates / "layout.html").write_text(LAYOUT)
    for name in ("404.html", "500.html", "erlen_db/503.html"):
        code = Path(name).stem
        (templates / name).write_text(f'{{% extends "layout.html" %}}{{% block content %}}Error {code}{{% endblock %}}')


def make_outage_app(make_app: MakeApp, url: str, root: Path, config: dict[str, t.Any] | None = None) -> Flask:
    """An app with auth on ``url``, its own error pages, and views that read and write."""
    write_templates(root)
    settings = {"DB_URL": url, **FAST_HASHING, **(config or {})}
    app = make_app(["db", "forms", "auth"], settings, root_path=str(root))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an unhandled error is a 500 page

    @app.get("/whoami")
    def whoami() -> str:
        from erlen_auth import current_user

        return str(current_user.email)

    @app.get("/count")
    def count() -> str:
        from erlen_auth import User

        return str(erlen_db.session.scalar(sa.select(sa.func.count()).select_from(User)))

    @app.post("/write")
    def write() -> str:
        from erlen_auth import Role

        erlen_db.session.add(Role(name="written"))
        erlen_db.session.commit()
        return "written"

    @app.get("/greet-then-count")
    def greet_then_count() -> str:
        from erlen_auth import current_user

        name = str(current_user.email)
        current_app.config["BETWEEN_USER_AND_QUERY"]()
        return name + str(erlen_db.session.scalar(sa.text("SELECT 1")))

    @app.get("/fails-after-outage")
    def fails_after_outage() -> str:
        try:
            erlen_db.session.scalar(sa.text("SELECT 1"))
        except sa.exc.OperationalError:
            pass  # the view swallows the outage, then fails otherwise
        raise RuntimeError("boom")

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        return render_template("404.html"), 404

    @app.errorhandler(500)
    def server_error(exc: Exception) -> tuple[str, int]:
        return render_template("500.html"), 500

    erlen_db.database_of(app).create_all()
    return app


@pytest.fixture
def outage_app(make_app: MakeApp, postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Flask]:
    app = make_outage_app(make_app, postgres_server.url + "?connect_timeout=2", tmp_path)
    yield app
    erlen_db.database_of(app).dispose()


@pytest.fixture
def logged_in(outage_app: Flask) -> FlaskClient:
    user = make_user(outage_app, "ada@example.com")
    client = login_as(csrf_client_for(outage_app), user)
    assert client.get("/whoami").text == "ada@example.com"
    erlen_db.database_of(outage_app).dispose()  # no pooled connection: the next request connects
    return client


@contextmanager
def database_attempts(app: Flask) -> Iterator[list[str]]:
    """Every statement run and every connection attempted on the app's engine in the block."""
    engine = erlen_db.database_of(app).engine
    attempts: list[str] = []

    def on_connect(*args: t.Any) -> None:
        attempts.append("connect")

    def on_statement(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        attempts.append(statement)

    sa.event.listen(engine, "do_connect", on_connect)
    sa.event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield attempts
    finally:
        sa.event.remove(engine, "do_connect", on_connect)
        sa.event.remove(engine, "before_cursor_execute", on_statement)


def assert_neutral_header(page: str) -> None:
    """The page is Erlen's error page, and its header offers neither a "Log in" link nor an account menu."""
    assert "erlen.css" in page and '<header class="erlen-header">' in page, page
    header = page[page.index('<header class="erlen-header">') : page.index("</header>")]
    assert "Log in" not in header and "/auth/login" not in header, header
    assert "ada@example.com" not in page and "erlen-account-menu" not in page and "Log out" not in page, page


def assert_503(response: t.Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert "Error 503" in response.text


def test_a_logged_in_user_gets_the_503_page_while_postgresql_is_stopped(
    outage_app: Flask, logged_in: FlaskClient, postgres_server: PostgresServer
) -> None:
    postgres_server.stop()
    for path in ("/whoami", "/count"):
        response = logged_in.get(path)
        assert_503(response)
        assert "Log in" in response.text  # the user cannot be loaded: the page shows no one signed in
    assert_503(logged_in.post("/write"))
    postgres_server.start_again()
    assert logged_in.get("/whoami").text == "ada@example.com"


def test_the_503_page_tries_the_database_once_and_runs_no_query_after(
    outage_app: Flask, logged_in: FlaskClient, postgres_server: PostgresServer
) -> None:
    postgres_server.stop()
    with database_attempts(outage_app) as attempts:
        assert_503(logged_in.get("/count"))
    # The view's own query found the server down; the page, its layout and the user loader tried nothing more.
    assert attempts == ["connect"]


def test_a_user_loaded_before_the_outage_still_shows_on_the_503_page(
    outage_app: Flask, logged_in: FlaskClient, postgres_server: PostgresServer
) -> None:
    # The database goes away between the user's load and the view's query.
    outage_app.config["BETWEEN_USER_AND_QUERY"] = postgres_server.stop
    with database_attempts(outage_app) as attempts:
        response = logged_in.get("/greet-then-count")
    assert_503(response)
    assert "Logged in as ada@example.com" in response.text
    assert attempts.count("connect") == 1  # the user's load; the failed SELECT used the same pooled connection


def test_a_404_for_a_logged_in_user_while_postgresql_is_stopped(
    outage_app: Flask, logged_in: FlaskClient, postgres_server: PostgresServer
) -> None:
    postgres_server.stop()
    response = logged_in.get("/no-such-page")
    assert response.status_code == 404, response.text
    assert "Error 404" in response.text
    assert "Log in" in response.text
    with database_attempts(outage_app) as attempts:
        assert logged_in.get("/no-such-page").status_code == 404
    assert attempts == ["connect"]  # one try for the layout's current_user, which fails fast


def test_a_404_for_a_logged_in_user_shows_the_user_while_the_database_is_up(
    outage_app: Flask, logged_in: FlaskClient
) -> None:
    response = logged_in.get("/no-such-page")
    assert response.status_code == 404
    assert "Logged in as ada@example.com" in response.text


def test_a_500_page_after_the_database_failed_runs_no_query(
    outage_app: Flask, logged_in: FlaskClient, postgres_server: PostgresServer
) -> None:
    postgres_server.stop()
    with database_attempts(outage_app) as attempts:
        response = logged_in.get("/fails-after-outage")
    assert response.status_code == 500
    assert "Error 500" in response.text
    assert "Log in" in response.text
    assert attempts == ["connect"]


@contextmanager
def write_locked(app: Flask) -> Iterator[None]:
    """Hold SQLite's write lock from another connection, as a long write of another process would."""
    path = erlen_db.database_of(app).url.database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_logged_in_write_to_a_locked_sqlite_file_gets_the_503_page_with_no_further_query(
    make_app: MakeApp, tmp_path: Path
) -> None:
    app = make_outage_app(make_app, f"sqlite:///{tmp_path / 'app.sqlite3'}", tmp_path, {"DB_SQLITE_BUSY_TIMEOUT": 0})
    client = login_as(csrf_client_for(app), make_user(app, "ada@example.com"))
    with write_locked(app), database_attempts(app) as attempts:
        response = client.post("/write")
    assert_503(response)
    # The INSERT met the lock; the 503 page did not load the user (reads would work, but an error page reads nothing).
    assert [a for a in attempts if a != "connect"] == [a for a in attempts if "INSERT" in a]
    assert "Log in" in response.text
    erlen_db.database_of(app).dispose()


# Erlen's own error pages (no handler of the app's): they never touch the database, whatever its state.


@pytest.fixture
def pages_app(make_app: MakeApp, postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Flask]:
    """An app with auth on PostgreSQL and no error page of its own: Erlen's pages answer."""
    settings = {"DB_URL": postgres_server.url + "?connect_timeout=2", "SITE_NAME": "Shop", **FAST_HASHING}
    app = make_app(["db", "forms", "auth"], settings, root_path=str(tmp_path))
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/whoami")
    def whoami() -> str:
        from erlen_auth import current_user

        return str(current_user.email)

    @app.get("/fails")
    def fails() -> str:
        raise RuntimeError("boom")

    @app.get("/greet-then/<int:status>")
    def greet_then(status: int) -> str:
        from erlen_auth import current_user

        current_app.logger.info("Hello %s", current_user.email)
        if status == 404:
            abort(404)
        raise RuntimeError("boom")

    erlen_db.database_of(app).create_all()
    yield app
    erlen_db.database_of(app).dispose()


@pytest.fixture
def pages_client(pages_app: Flask) -> FlaskClient:
    client = login_as(csrf_client_for(pages_app), make_user(pages_app, "ada@example.com"))
    assert client.get("/whoami").text == "ada@example.com"
    erlen_db.database_of(pages_app).dispose()  # no pooled connection: a query would have to connect
    return client


@pytest.mark.parametrize(("path", "status"), [("/no-such-page", 404), ("/fails", 500)])
def test_erlen_error_pages_of_a_logged_in_user_touch_no_database_while_postgresql_is_stopped(
    pages_app: Flask, pages_client: FlaskClient, postgres_server: PostgresServer, path: str, status: int
) -> None:
    postgres_server.stop()
    with database_attempts(pages_app) as attempts:
        response = pages_client.get(path)
        problem = pages_client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == status, response.text
    assert "erlen.css" in response.text and '<main id="main"' in response.text
    # The user was not loaded, and is not loaded for the page: the header claims no one, neither way.
    assert_neutral_header(response.text)
    assert problem.status_code == status and (problem.json or {})["status"] == status
    assert attempts == []


@pytest.mark.parametrize(("path", "status"), [("/no-such-page", 404), ("/fails", 500)])
def test_erlen_error_pages_run_no_query_while_the_database_is_up(
    pages_app: Flask, pages_client: FlaskClient, path: str, status: int
) -> None:
    with database_attempts(pages_app) as attempts:
        assert pages_client.get(path).status_code == status
    assert attempts == []


def test_an_error_page_shows_the_account_menu_of_a_user_loaded_before_the_error(
    pages_app: Flask, pages_client: FlaskClient
) -> None:
    with database_attempts(pages_app) as attempts:
        response = pages_client.get("/greet-then/404")
    assert response.status_code == 404
    assert "Logged in as <strong>ada@example.com</strong>" in response.text and "Log out" in response.text
    # The view's load of the user (one query, sessions joined); the page and its menu asked for nothing more.
    assert len([a for a in attempts if a != "connect"]) == 1


def test_a_500_page_shows_a_neutral_header_rather_than_reload_the_rolled_back_user(
    pages_app: Flask, pages_client: FlaskClient
) -> None:
    # erlen-db rolls the session back on an unhandled exception, which expires the loaded user: showing it
    # would load it again, and a "Log in" link would be false: the header leaves the account out.
    with database_attempts(pages_app) as attempts:
        response = pages_client.get("/greet-then/500")
    assert response.status_code == 500
    assert_neutral_header(response.text)
    assert len([a for a in attempts if a != "connect"]) == 1


def test_a_visitors_error_pages_offer_to_log_in(pages_app: Flask) -> None:
    client = csrf_client_for(pages_app)
    with database_attempts(pages_app) as attempts:
        for path, status in (("/no-such-page", 404), ("/fails", 500)):
            response = client.get(path)
            assert response.status_code == status
            assert 'href="/auth/login">Log in</a>' in response.text
    assert attempts == []


def test_an_error_page_offers_to_log_in_when_the_requests_log_in_was_found_to_belong_to_no_one(
    pages_app: Flask, pages_client: FlaskClient
) -> None:
    with pages_app.app_context():
        erlen_db.session.execute(sa.text("DELETE FROM auth_session"))  # logged out everywhere, elsewhere
        erlen_db.session.commit()
    response = pages_client.get("/greet-then/404")  # the view looks the log-in up: no one
    assert response.status_code == 404
    assert 'href="/auth/login">Log in</a>' in response.text


def test_the_503_page_is_erlens_error_page_in_the_layout(
    pages_app: Flask, pages_client: FlaskClient, postgres_server: PostgresServer
) -> None:
    postgres_server.stop()
    response = pages_client.get("/whoami")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert '<h1 id="erlen-error-title">Service unavailable</h1>' in response.text and "erlen.css" in response.text
    assert_neutral_header(response.text)  # the user could not be loaded: the header claims no one, neither way
    problem = pages_client.get("/whoami", headers={"Accept": "application/json"})
    assert problem.status_code == 503 and (problem.json or {})["title"] == "Service unavailable"

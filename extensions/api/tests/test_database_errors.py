"""erlen-db's unavailable database under an API: a 503 problem with Retry-After, never an HTML page."""

from __future__ import annotations

import sqlite3
import typing as t
from pathlib import Path

import pytest
from flask import Flask

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

import sqlalchemy as sa  # noqa: E402

from erlen_db import database_of  # noqa: E402


@pytest.fixture
def erlen_config() -> dict[str, t.Any]:
    return {"PROPAGATE_EXCEPTIONS": False}


def _assert_unavailable(app: Flask) -> None:
    response = app.test_client().get("/api/v1/notes")
    assert response.status_code == 503, response.data
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    assert response.json["type"] == "urn:erlen:problem:database-unavailable"
    assert b"Traceback" not in response.data


def test_an_unreachable_postgresql_server(make_app: t.Any) -> None:
    app = make_app(
        ["db", "forms", "auth", "api", "api_sample.notes"],
        {"DB_URL": "postgresql+psycopg://erlen@127.0.0.1:9/none?connect_timeout=2", "PROPAGATE_EXCEPTIONS": False},
    )
    _assert_unavailable(app)
    database_of(app).dispose()


def test_a_locked_sqlite_database(make_app: t.Any, tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    app = make_app(
        ["db", "forms", "auth", "api", "api_sample.notes"],
        {"DB_URL": f"sqlite:///{path}", "DB_SQLITE_BUSY_TIMEOUT": 50, "PROPAGATE_EXCEPTIONS": False},
    )
    database_of(app).create_all()
    database_of(app).dispose()  # no pooled connection of the app may hold the file while it is taken
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        # The app's SQLite runs in WAL mode, where readers pass a writer: lock the file for good.
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO api_sample_note (title, body) VALUES ('held', '')")
        _assert_unavailable(app)
    finally:
        holder.close()
        database_of(app).dispose()
    assert app.test_client().get("/api/v1/notes").json == []


def test_other_database_errors_are_500_problems(make_db_app: t.Any) -> None:
    app = make_db_app(
        ["forms", "auth", "api", "api_sample.notes"], {"PROPAGATE_EXCEPTIONS": False}
    )  # no tables: the query fails
    response = app.test_client().get("/api/v1/notes")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"] == "The server met an unexpected error."


def test_a_value_the_database_refuses_is_a_422_not_a_500(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> None:
    """A body value the view's type lets through but the database refuses (PostgreSQL stores no NUL character in
    text) is the client's error: a 422 naming the body, not a 500."""
    from conftest import user_with_role

    from erlen_api.testing import api_client_for

    app = make_db_app(
        ["forms", "auth", "api", "api_sample.tokens", "api_sample.notes"],
        {**auth_config, "PROPAGATE_EXCEPTIONS": False},
        create_all=True,
    )
    user = user_with_role(app, "editor@example.com", "editor", "notes.edit")
    client = api_client_for(app, token=f"user-{user.id}")  # checks every answer against the OpenAPI document

    response = client.post("/api/v1/notes", json={"title": "Nul", "body": "a\x00b"})
    if database_of(app).engine.dialect.name != "postgresql":
        assert response.status_code == 201, response.data  # SQLite stores it
        return
    assert response.status_code == 422, response.data
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["type"] == "urn:erlen:problem:validation"
    assert problem["errors"] == [
        {
            "detail": "A value cannot be stored: too long, out of range, or holding a character the database "
            "refuses (such as NUL).",
            "location": "body",
            "pointer": "#",
            "type": "value_not_storable",
        }
    ]
    assert "NUL (0x00)" not in response.get_data(as_text=True)  # the database's own message stays in the log
    assert client.get("/api/v1/notes").json == []
    # The same request without the NUL is saved: the failed one left the session usable.
    assert client.post("/api/v1/notes", json={"title": "Nul", "body": "ab"}).status_code == 201


def test_a_data_error_of_the_views_own_making_stays_a_500(make_app: t.Any, postgres_schema_url: str) -> None:
    """Only a value the database refuses to store is the client's to correct: a division by zero in the view's
    own query (a ``DataError`` on PostgreSQL too) is the server's bug, a 500, even in an endpoint with inputs."""
    from erlen_api import Api
    from erlen_db import get_session

    api = Api("data_errors", __name__, version="v9")

    @api.get("/ratios/<int:n>")
    def ratio(n: int) -> dict[str, int]:
        value = get_session().scalar(sa.text("SELECT CAST(:n AS integer) / (:n - :n)"), {"n": n})
        return {"ratio": value}

    app = make_app(["db", "api"], {"DB_URL": postgres_schema_url, "PROPAGATE_EXCEPTIONS": False})
    app.register_blueprint(api)
    client = app.test_client()

    own = client.get("/api/v9/ratios/3")
    assert own.status_code == 500, own.data
    assert own.json["detail"] == "The server met an unexpected error."
    # A path value beyond the column type's range is still the client's: 422.
    refused = client.get("/api/v9/ratios/99999999999")
    assert refused.status_code == 422, refused.data
    assert refused.json["errors"][0]["type"] == "value_not_storable"

"""erlen-db's unavailable database under an API: a 503 problem with Retry-After, never an HTML page."""

from __future__ import annotations

import sqlite3
import typing as t
from pathlib import Path

import pytest
from flask import Flask

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

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

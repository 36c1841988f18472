"""``display_name`` on an error page: it does not try the database that just failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

import erlen_db
from erlen.testing import MakeApp
from erlen_auth.testing import FAST_HASHING, login_as, make_user
from erlen_db.testing import PostgresServer
from erlen_profiles.models import Profile


@pytest.fixture
def outage_app(make_app: MakeApp, postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Flask]:
    (tmp_path / "templates" / "erlen_db").mkdir(parents=True)
    (tmp_path / "templates" / "erlen_db" / "503.html").write_text("Back soon, {{ display_name(current_user) }}")
    settings = {"DB_URL": postgres_server.url + "?connect_timeout=2", **FAST_HASHING}
    app = make_app(["db", "forms", "auth", "profiles"], settings, root_path=str(tmp_path))

    @app.get("/greet-then-count")
    def greet_then_count() -> str:
        from erlen_auth import current_user

        name = str(current_user.email)
        postgres_server.stop()  # the database goes away between the user's load and the view's query
        return name + str(erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Profile)))

    erlen_db.database_of(app).create_all()
    yield app
    erlen_db.database_of(app).dispose()


def test_the_503_page_shows_the_name_without_the_database(outage_app: Flask) -> None:
    user = make_user(outage_app, "ada@example.com")
    with erlen_db.database_of(outage_app).session_scope() as session:
        session.add(Profile(user_id=user.id, display_name="Ada Lovelace"))
    client = login_as(outage_app.test_client(), user)
    response = client.get("/greet-then-count")
    assert response.status_code == 503, response.text
    assert response.text == "Back soon, ada"

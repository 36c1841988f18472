from __future__ import annotations

import pytest
import sqlalchemy as sa
from app_models import Author
from conftest import DbApp
from flask import Flask

import erlen_db


@pytest.fixture
def app(db_app: DbApp) -> Flask:
    app = db_app()
    database = erlen_db.database_of(app)
    database.create_all()
    with database.session_scope() as session:
        session.add(Author(id=1, name="ann"))

    @app.get("/authors/<int:ident>")
    def by_id(ident: int) -> str:
        return erlen_db.get_or_404(Author, ident).name

    @app.get("/by-name/<name>")
    def by_name(name: str) -> str:
        return str(erlen_db.first_or_404(sa.select(Author).where(Author.name == name), description="No such author").id)

    return app


def test_get_or_404(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/authors/1").text == "ann"
    assert client.get("/authors/2").status_code == 404


def test_first_or_404(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/by-name/ann").text == "1"
    response = client.get("/by-name/bob")
    assert response.status_code == 404 and "No such author" in response.text

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

import erlen_db


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["db"]


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url}


@pytest.fixture
def dispose_app(app: Flask) -> Iterator[Flask]:
    yield app
    erlen_db.database_of(app).dispose()


def add_author_routes(app: Flask) -> Flask:
    """Add ``POST /authors/<name>`` (adds and commits an author) and ``GET /authors`` (their names) to ``app``."""
    from app_models import Author  # not at the top: importing it adds the models to every test's app

    @app.post("/authors/<name>")
    def add(name: str) -> str:
        erlen_db.session.add(Author(name=name))
        erlen_db.session.commit()
        return "ok"

    @app.get("/authors")
    def authors() -> str:
        return ",".join(a.name for a in erlen_db.session.scalars(sa.select(Author).order_by(Author.name)))

    return app

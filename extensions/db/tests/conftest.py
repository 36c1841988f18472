from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterable, Iterator, Mapping

import pytest
from flask import Flask

import erlen_db
from erlen.testing import MakeApp

DbApp = Callable[..., Flask]


@pytest.fixture
def db_app(make_app: MakeApp, database_url: str) -> Iterator[DbApp]:
    """A factory of apps with the ``db`` plugin on ``database_url``; their engines are disposed afterwards."""
    made: list[Flask] = []

    def make(plugins: Iterable[str] = (), config: Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> Flask:
        settings = {"DB_URL": database_url, **(config or {})}
        app = make_app(["db", *plugins], settings, **kwargs)
        made.append(app)
        return app

    yield make
    for app in made:
        erlen_db.database_of(app).dispose()


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

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterator, Mapping

import pytest
from flask import Flask

import erlen_db
from erlen.testing import MakeApp
from erlen_auth.testing import FAST_HASHING


def mail_available() -> bool:
    try:
        import erlen_mail  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["db", "forms", "auth"]


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING}


AuthApp = Callable[..., Flask]


@pytest.fixture
def auth_app(make_app: MakeApp, database_url: str) -> Iterator[AuthApp]:
    """A factory of apps with db, forms and auth (and more plugins) on ``database_url``, with fast hashing."""
    made: list[Flask] = []

    def make(plugins: t.Iterable[str] = (), config: Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> Flask:
        app = make_app(
            ["db", "forms", *plugins, "auth"], {"DB_URL": database_url, **FAST_HASHING, **(config or {})}, **kwargs
        )
        made.append(app)
        return app

    yield make
    for app in made:
        erlen_db.database_of(app).dispose()


@pytest.fixture
def db_session_for() -> Iterator[Callable[[Flask], t.Any]]:
    """Wrap apps made in the test in a rolled-back transaction, as ``db_session`` does for ``app``."""
    import contextlib

    stack = contextlib.ExitStack()

    def enter(app: Flask) -> t.Any:
        return stack.enter_context(erlen_db.rolled_back(app))

    with stack:
        yield enter

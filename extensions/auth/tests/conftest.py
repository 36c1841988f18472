from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterator, Mapping

import pytest
from flask import Flask

import erlen_db
from erlen_auth.testing import FAST_HASHING
from erlen_db.testing import MakeDbApp


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
def auth_app(make_db_app: MakeDbApp) -> AuthApp:
    """A factory of apps with db, forms and auth (and more plugins) on ``database_url``, with fast hashing."""

    def make(plugins: t.Iterable[str] = (), config: Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> Flask:
        return make_db_app(["forms", *plugins, "auth"], {**FAST_HASHING, **(config or {})}, **kwargs)

    return make


@pytest.fixture
def db_session_for() -> Iterator[Callable[[Flask], t.Any]]:
    """Wrap apps made in the test in a rolled-back transaction, as ``db_session`` does for ``app``."""
    import contextlib

    stack = contextlib.ExitStack()

    def enter(app: Flask) -> t.Any:
        return stack.enter_context(erlen_db.rolled_back(app))

    with stack:
        yield enter

"""Fixtures of erlen-api's tests: an app with the ``api`` plugin and the sample APIs."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask


@pytest.fixture
def erlen_plugins() -> list[str]:
    """The ``api`` plugin alone: no database, no accounts."""
    return ["api"]


@pytest.fixture
def app(make_app: t.Any, erlen_plugins: list[str], erlen_config: dict[str, t.Any]) -> Flask:
    """An app with the ``api`` plugin and the sample API ``shapes`` under /api/v1."""
    from api_sample.shapes import api

    made = t.cast(Flask, make_app(erlen_plugins, erlen_config))
    made.register_blueprint(api)
    return made


@pytest.fixture
def auth_config() -> dict[str, t.Any]:
    """Settings of apps with accounts: cheap hashing."""
    from erlen_auth.testing import FAST_HASHING

    return {**FAST_HASHING}


#: The shelves of :func:`shelves_app`, on floors 0 and 1 in turn.
SHELF_NAMES = ["Maps", "Art", "Jazz", "Crime", "Botany", "Law", "Ethics"]


@pytest.fixture
def shelves_app(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> Flask:
    """The sample library's API, with accounts and tokens, holding the shelves :data:`SHELF_NAMES` (for the
    tests that need erlen-db, erlen-forms and erlen-auth)."""
    from api_sample.library import Shelf

    from erlen_db import database_of

    plugins = ["forms", "auth", "api", "api_sample.tokens", "api_sample.library"]
    made = t.cast(Flask, make_db_app(plugins, auth_config, create_all=True))
    db = database_of(made).new_session()
    try:
        db.add_all(Shelf(name=name, floor=index % 2) for index, name in enumerate(SHELF_NAMES))
        db.commit()
    finally:
        db.close()
    return made


def user_with_role(app: Flask, email: str, role: str, *permissions: str) -> t.Any:
    """A user of ``app`` whose one role ``role`` grants ``permissions``, committed (needs erlen-auth and erlen-db).

    :param app: the app, with the ``auth`` plugin.
    :param email: the user's address.
    :param role: the role's name, made when missing.
    :param permissions: what the role grants.
    """
    import sqlalchemy as sa

    from erlen_auth import Role, grant
    from erlen_auth.testing import make_user
    from erlen_db import database_of

    user = make_user(app, email, roles=[role])
    db = database_of(app).new_session()
    try:
        grant(db.scalars(sa.select(Role).where(Role.name == role)).one(), *permissions, app=app)
        db.commit()
    finally:
        db.close()
    return user

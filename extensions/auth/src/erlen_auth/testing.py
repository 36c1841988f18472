"""The testing kit of erlen-auth, a pytest plugin loaded once erlen-auth is installed.

Fixtures (on the core's ``app`` fixture; enable ``auth`` in ``erlen_plugins``):

``create_user``
    ``create_user("ada@example.com", password=..., roles=[...], superuser=False)``
    makes a committed user inside the ``db_session`` test transaction (rolled
    back at the end). The default password is :data:`DEFAULT_PASSWORD`.
``login_as``
    ``login_as(client, user, remember=False)`` logs a test client in as
    ``user`` without the log-in form: it makes a log-in session (an
    ``auth_session`` row, in the test transaction under ``db_session``) and
    sets the cookies as a real log-in would.

Config:

:data:`FAST_HASHING`
    ``AUTH_ARGON2_*`` values that make hashing cheap, for test apps only.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

if t.TYPE_CHECKING:
    # Imported lazily: defining the models outside an app that enables auth would give their tables to the app.
    from .models import User

#: The password :func:`create_user` gives when none is passed.
DEFAULT_PASSWORD = "correct horse battery staple"

#: Cheap argon2id parameters for tests; never use them in production.
FAST_HASHING: dict[str, int] = {"AUTH_ARGON2_TIME_COST": 1, "AUTH_ARGON2_MEMORY_COST": 8, "AUTH_ARGON2_PARALLELISM": 1}


def make_user(
    app: Flask,
    email: str,
    *,
    password: str = DEFAULT_PASSWORD,
    roles: Iterable[str] = (),
    superuser: bool = False,
    active: bool = True,
    confirmed: bool = True,
    db: Session | None = None,
) -> User:
    """Create and commit a user of ``app``; roles that do not exist yet are created.

    :param db: the session to use; a new session of the app by default.
    """
    import sqlalchemy as sa

    from erlen_db import database_of

    from . import accounts
    from .models import Role

    session = db if db is not None else database_of(app).new_session()
    try:
        with app.app_context():
            for name in roles:
                if session.scalar(sa.select(Role).where(Role.name == name)) is None:
                    session.add(Role(name=name))
            session.flush()
            user = accounts.create_user(
                email, password, superuser=superuser, active=active, confirmed=confirmed, roles=roles, db=session
            )
            _ = [role.permissions for role in user.roles]  # loaded now: the session may close below
            return user
    except BaseException:
        session.rollback()
        raise
    finally:
        if db is None:
            session.close()  # the user stays usable: sessions do not expire objects on commit


def login_as(client: FlaskClient, user: User, *, remember: bool = False) -> FlaskClient:
    """Log ``client`` in as ``user`` without the form: a log-in session is made and the cookies carry it.

    :param remember: also set the remember-me cookie, as "remember me" does.
    :returns: the client.
    """
    from flask import request
    from flask_login.utils import encode_cookie

    from erlen_db import database_of

    from . import sessions
    from .accounts import client_address

    app = client.application
    with app.test_request_context(environ_base=dict(client.environ_base)):
        identifier = app.login_manager._session_identifier_generator()  # type: ignore[attr-defined]
        db = database_of(app).new_session()
        try:
            sessions.start(user, db, user_agent=request.headers.get("User-Agent", ""), address=client_address())
            db.commit()
        finally:
            db.close()
        key = user.get_id()
        cookie = encode_cookie(key)
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = key
        session["_fresh"] = True
        session["_id"] = identifier
    if remember:
        client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), cookie)
    return client


@pytest.fixture
def create_user(app: Flask, db_session: Session) -> Callable[..., User]:
    """A factory of users in the test transaction; see the module documentation."""

    def make(email: str = "user@example.com", **kwargs: t.Any) -> User:
        return make_user(app, email, db=db_session, **kwargs)

    return make


@pytest.fixture(name="login_as")
def login_as_fixture() -> Callable[..., FlaskClient]:
    """:func:`login_as`, as a fixture."""
    return login_as


__all__ = ["DEFAULT_PASSWORD", "FAST_HASHING", "login_as", "make_user"]

"""The session of the current app context, as a typed module-level proxy."""

from __future__ import annotations

import typing as t

from flask import has_app_context
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy

from .database import database_of


def _current_session() -> Session:
    if not has_app_context():
        raise RuntimeError(
            "erlen_db.session was used outside an app context (working outside of application context). "
            "Requests and `erlen` commands have one; elsewhere (scripts, background jobs) wrap the work in "
            "`with app.app_context():`, or use `with erlen_db.database_of(app).session_scope() as session:`."
        )
    return database_of().session


#: The current app context's :class:`~sqlalchemy.orm.Session`, typed as one.
#: Made on first use in each app context (each request, each CLI command),
#: closed at the context's teardown, rolled back first after an unhandled
#: exception. Nothing is committed unless you call ``session.commit()``.
session: Session = t.cast(Session, LocalProxy(_current_session))


def get_session() -> Session:
    """The current app context's session (the object behind :data:`session`)."""
    return _current_session()


def get_connection() -> Connection:
    """The current app context's connection, shared with its session (see :meth:`Database.connection`).

    For Core statements on every request without making the ORM session.
    """
    if not has_app_context():
        raise RuntimeError(
            "erlen_db.get_connection() was used outside an app context (working outside of application context). "
            "Wrap the work in `with app.app_context():`, or use `erlen_db.database_of(app).engine.connect()`."
        )
    return database_of().connection()

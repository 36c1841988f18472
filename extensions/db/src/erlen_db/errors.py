"""Errors of the ``db`` plugin, the 503 page of an unreachable database and the 400 of bad page requests."""

from __future__ import annotations

import sqlite3
import typing as t

from flask import Flask, render_template
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import BadRequest

import erlen

#: Marks SQLAlchemy exceptions raised because the database could not be reached.
_UNAVAILABLE = "erlen_db_unavailable"

#: Seconds after which clients may retry, sent with 503 responses.
RETRY_AFTER = 5

#: SQLite's primary result codes of a lock held by another connection (SQLITE_BUSY, "database is locked")
#: or by another statement or shared-cache connection (SQLITE_LOCKED, "database table is locked").
_SQLITE_LOCK_CODES = (5, 6)


class DatabaseConfigError(erlen.ConfigError):
    """The ``db`` plugin is misconfigured or missing."""


class TableConflictError(erlen.PluginError):
    """Two owners define a table of the same name."""


def mark_unreachable_errors(engine: Engine) -> None:
    """Mark errors raised while connecting, or by a lost connection, as "database unavailable".

    :param engine: the app's engine.
    """

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.is_pre_ping:
            return
        if context.connection is None or context.is_disconnect:
            exc = context.sqlalchemy_exception
            if exc is not None:
                setattr(exc, _UNAVAILABLE, True)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached, no connection is free, or SQLite stayed locked.

    :param exc: an exception, usually a :class:`~sqlalchemy.exc.SQLAlchemyError`.
    """
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or getattr(exc, _UNAVAILABLE, False)):
        return True
    if isinstance(exc, DBAPIError) and _is_sqlite_lock(exc.orig):
        return True
    return bool(getattr(exc, _UNAVAILABLE, False))


def _is_sqlite_lock(error: BaseException | None) -> bool:
    """Whether ``error`` is SQLite's "database is locked" after the busy timeout, or "database table is locked".

    Another writer holds the lock: the same request can succeed a moment
    later, so it is a 503 to retry rather than a 500. Other SQLite errors
    (a missing table, a read-only file) are not.

    :param error: the driver's exception.
    """
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        # An extended code (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE) keeps its primary code in the low byte.
        return code & 0xFF in _SQLITE_LOCK_CODES
    return str(error).startswith(("database is locked", "database table is locked"))


def register_error_handler(app: Flask) -> None:
    """Answer requests that cannot reach the database with a 503 page, not a traceback."""

    def handle(exc: SQLAlchemyError) -> t.Any:
        if not is_unavailable(exc):
            raise exc
        app.logger.error("Database unavailable: %s", exc.__class__.__name__, exc_info=exc)
        body = render_template("erlen_db/503.html")
        return body, 503, {"Retry-After": str(RETRY_AFTER)}

    app.register_error_handler(SQLAlchemyError, handle)


def register_pagination_error_handler(app: Flask) -> None:
    """Answer a page request whose cursor, page number or page size is bad with a 400, not a 500.

    The response is the app's own 400 page, if it has one, with the error's
    message as its description.
    """
    from .pagination import InvalidCursorError, InvalidPageError  # it imports the session, which imports us

    def handle(exc: ValueError) -> t.Any:
        return app.handle_http_exception(BadRequest(description=str(exc)))

    app.register_error_handler(InvalidCursorError, handle)
    app.register_error_handler(InvalidPageError, handle)

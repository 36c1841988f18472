"""Errors of the ``db`` plugin, the 503 page of an unreachable database and the 400 of bad page requests."""

from __future__ import annotations

import sqlite3
import typing as t

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import BadRequest

import erlen

from . import urls
from .unavailable import note_unavailable

if t.TYPE_CHECKING:
    from .database import Database

#: Marks SQLAlchemy exceptions raised because the database could not be reached.
_UNAVAILABLE = "erlen_db_unavailable"

#: Seconds after which clients may retry, sent with 503 responses.
RETRY_AFTER = 5

#: SQLite's primary result codes of a lock held by another connection (SQLITE_BUSY, "database is locked")
#: or by another statement or shared-cache connection (SQLITE_LOCKED, "database table is locked").
_SQLITE_LOCK_CODES = (5, 6)


class DatabaseConfigError(erlen.ConfigError):
    """The ``db`` plugin is misconfigured (an app without it gets erlen.PluginNotEnabledError)."""


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
        exc = context.sqlalchemy_exception
        if exc is None:
            return
        if context.connection is None or context.is_disconnect:
            setattr(exc, _UNAVAILABLE, True)
        if is_unavailable(exc):
            note_unavailable()


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


def is_sqlite_lock(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy error, or the driver's) is SQLite saying another connection holds the lock.

    :param exc: an exception.
    """
    return _is_sqlite_lock(exc.orig if isinstance(exc, DBAPIError) else exc)


def describe_error(exc: BaseException, database: Database) -> str:
    """The driver's error in one line, without the password or the SQL statement SQLAlchemy appends.

    For messages of commands and checks that tell the user what went wrong.

    :param exc: the error, usually a :class:`~sqlalchemy.exc.SQLAlchemyError`.
    :param database: the app's database, whose password is hidden wherever the driver quotes it.
    """
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    reason = urls.redact(f"{type(cause).__name__}: {lines[0].strip()}" if lines else type(cause).__name__)
    password = database.url.password
    if password:  # a driver may quote it without the URL around it, where redact cannot see it
        reason = reason.replace(str(password), "***")
    return reason


def database_error_message(exc: SQLAlchemyError, database: Database) -> str:
    """What went wrong with the database, in the driver's words, and what to do; without a password.

    The message of a command that met ``exc``: a busy SQLite file, one that
    cannot be opened, an unreachable server, models SQLAlchemy refuses, or an
    error the database answered.

    :param exc: the error.
    :param database: the app's database.
    """
    reason = describe_error(exc, database)
    where = database.display_url
    if is_unavailable(exc):
        if is_sqlite_lock(exc):
            return (
                f"The database at {where} is busy: {reason}. Another process is writing to it; run the command "
                "again when it has finished."
            )
        if database.engine.dialect.name == "sqlite":  # no server that could be down: the file is at fault
            return (
                f"Cannot open the database at {where}: {reason}. Check DB_URL, and that the file is an SQLite "
                "database this user may read and write."
            )
        return f"Cannot reach the database at {where}: {reason}. Check DB_URL and that the server is running."
    if not isinstance(exc, DBAPIError):  # SQLAlchemy itself refused, before asking the database
        return (
            f"SQLAlchemy cannot work with the models: {reason}. Fix the model or table it names (a foreign key to "
            "a table of another MetaData, a misspelt column), then run the command again."
        )
    return (
        f"The database at {where} answered with an error: {reason}. Check that DB_URL names the app's database "
        "and that its user may read and change the schema."
    )


def register_error_handler(app: Flask) -> None:
    """Answer requests that cannot reach the database with a 503 page, not a traceback.

    The page runs no query: the database is marked unavailable for the rest
    of the request (:func:`found_unavailable`), so loaders wrapped with
    :func:`unless_unavailable` (the logged-in user) answer without it.

    The session is not rolled back before the page renders: that would
    expire the objects already loaded (the logged-in user the layout shows),
    and reloading them would touch the database again. Teardown rolls it back.
    """

    def handle(exc: SQLAlchemyError) -> t.Any:
        if not is_unavailable(exc):
            raise exc
        note_unavailable()
        app.logger.error("Database unavailable: %s", exc.__class__.__name__, exc_info=exc)
        # erlen_db/503.html first: apps overrode the page under that name before errors/503.html existed.
        return erlen.error_response(503, template="erlen_db/503.html", headers={"Retry-After": str(RETRY_AFTER)})

    app.register_error_handler(SQLAlchemyError, handle)


class InvalidPageError(ValueError):
    """A page number or page size is out of range.

    In a request of an app with the ``db`` plugin it answers ``400 Bad Request``
    with the message, as ``page`` and ``per_page`` often come from the query string.
    """


class InvalidCursorError(ValueError):
    """A keyset cursor cannot be decoded or does not fit the ordering.

    In a request of an app with the ``db`` plugin it answers ``400 Bad Request``:
    cursors come from the query string, where anyone can change them.
    """


#: What a person who followed a link to a page of a list with a bad cursor can do.
CURSOR_ADVICE = "The link may be cut short or out of date: open the list again from its first page."


def bad_page_detail(exc: ValueError) -> str:
    """The description of the 400 answering a bad cursor, page number or page size.

    A cursor is nothing a person reads or types: its error is told as a sentence, then what to do (the error
    page shows it to whoever followed the link). A page number or size is told as it is: it names the
    parameter to change.

    :param exc: an :class:`InvalidCursorError` or :class:`InvalidPageError`.
    """
    message = str(exc).strip()
    if not isinstance(exc, InvalidCursorError):
        return message
    sentence = message[:1].upper() + message[1:]
    if not sentence.endswith("."):
        sentence += "."
    return f"{sentence} {CURSOR_ADVICE}"


def register_pagination_error_handler(app: Flask) -> None:
    """Answer a page request whose cursor, page number or page size is bad with a 400, not a 500.

    The response is the app's own 400 page, if it has one, with :func:`bad_page_detail` as its description.
    """

    def handle(exc: ValueError) -> t.Any:
        return app.handle_http_exception(BadRequest(description=bad_page_detail(exc)))

    app.register_error_handler(InvalidCursorError, handle)
    app.register_error_handler(InvalidPageError, handle)

"""Errors of the ``db`` plugin, the 503 page of an unreachable database and the 400 of bad page requests."""

from __future__ import annotations

import functools
import sqlite3
import sys
import typing as t
from collections.abc import Callable

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import BadRequest

import erlen

from . import urls

if t.TYPE_CHECKING:
    from .database import Database

#: Marks SQLAlchemy exceptions raised because the database could not be reached.
_UNAVAILABLE = "erlen_db_unavailable"

#: The attribute of ``g`` set once the database was found unavailable in the current app context.
_G_FOUND_UNAVAILABLE = "_erlen_db_found_unavailable"

_P = t.ParamSpec("_P")
_R = t.TypeVar("_R")

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


def note_unavailable() -> None:
    """Record that the database was found unavailable in the current app context (a no-op outside one).

    The engine's error listener and the 503 handler call it; :func:`found_unavailable` reads it.
    """
    if has_app_context():
        setattr(g._get_current_object(), _G_FOUND_UNAVAILABLE, True)


def found_unavailable() -> bool:
    """Whether the database was found unavailable (unreachable, out of connections, locked) in this app context.

    Once it is, the rest of the request is an error page: code that would
    only decorate it (the user in the navigation, a display name) should not
    try the database again; see :func:`unless_unavailable`.
    """
    # g.get rather than getattr with a default: a name g does not hold raises a KeyError and then an
    # AttributeError inside getattr, two exceptions on every logged-in request (the user loader asks).
    return has_app_context() and bool(g._get_current_object().get(_G_FOUND_UNAVAILABLE, False))


def unless_unavailable(fallback: Callable[..., t.Any]) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Make a loader that error pages use give ``fallback``'s answer instead of touching an unavailable database.

    The decorated function runs as before, except:

    * once the database was found unavailable in the current app context
      (:func:`found_unavailable`), ``fallback`` answers and the database is
      not tried again, so the 503 page of a logged-in user runs no query;
    * while an error is being handled (an error handler renders its page)
      and the function meets an unavailable database, ``fallback`` answers
      instead of the error, which would turn the error page into a 500.

    Outside error handling, an unavailable database still raises, so the
    request ends in the 503 page rather than carrying on without the data.
    erlen-auth's user loader is wrapped with it (the fallback: nobody is
    logged in)::

        @erlen_db.unless_unavailable(lambda user: user.email)
        def display_name(user):
            ...

    :param fallback: called with the same arguments; it must not use the database.
    """

    def decorate(load: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(load)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if found_unavailable():
                return t.cast(_R, fallback(*args, **kwargs))
            # Flask calls error handlers inside its ``except`` blocks, so an exception being
            # handled means an error page is being made (or a view is handling an error itself).
            handling_error = sys.exc_info()[1] is not None
            try:
                return load(*args, **kwargs)
            except SQLAlchemyError as exc:
                if not (handling_error and is_unavailable(exc)):
                    raise
                note_unavailable()
                current_app.logger.warning(
                    "Database unavailable while an error page was made; %s answered without it: %s",
                    getattr(load, "__qualname__", load),
                    exc.__class__.__name__,
                )
                return t.cast(_R, fallback(*args, **kwargs))

        return guarded

    return decorate


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


def register_pagination_error_handler(app: Flask) -> None:
    """Answer a page request whose cursor, page number or page size is bad with a 400, not a 500.

    The response is the app's own 400 page, if it has one, with the error's
    message as its description.
    """

    def handle(exc: ValueError) -> t.Any:
        return app.handle_http_exception(BadRequest(description=str(exc)))

    app.register_error_handler(InvalidCursorError, handle)
    app.register_error_handler(InvalidPageError, handle)

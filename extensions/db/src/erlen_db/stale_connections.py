"""Replacing pooled connections that the database server closed, without a round trip per request.

A server closes a connection when it restarts, when an administrator ends
the backend (``pg_terminate_backend``) or after an idle timeout; the pool
still holds it, and the next request using it would fail. SQLAlchemy's
``pool_pre_ping`` sends ``SELECT 1`` at every checkout to find out: a round
trip on every request. Instead, at each checkout the connection's socket is
polled, without waiting: an idle connection of a live server has nothing to
read, while a server that closed it has sent its goodbye (or the end of the
stream). Only then is the connection pinged, and replaced if the ping fails,
before the request uses it. A connection that dies while in use (the server
stops mid-request) still fails that request with the 503 page, and the pool
replaces it for the next.
"""

from __future__ import annotations

import select
import typing as t

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DisconnectionError

#: What :func:`select.poll` reports for a socket with something to read, or closed.
_READABLE_OR_CLOSED = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


def can_check(url: URL) -> bool:
    """Whether :func:`install` can watch the connections of an engine for ``url``: its driver exposes their sockets.

    psycopg (3) and psycopg2 do, through ``connection.fileno()``; ``select.poll`` must exist (it does on
    Linux and macOS).

    :param url: the database URL, of a server (not SQLite).
    """
    return hasattr(select, "poll") and url.get_dialect().driver in ("psycopg", "psycopg2")


def install(engine: Engine) -> None:
    """Check each connection the pool hands out for having been closed by the server, and replace it if so.

    :param engine: an engine for which :func:`can_check` is true.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _replace_if_closed(dbapi_connection: t.Any, connection_record: t.Any, connection_proxy: t.Any) -> None:
        if not _has_input(dbapi_connection):
            return
        # Something to read on an idle connection: the server's goodbye, or (rarely) a notice on a live one.
        # Only a ping tells them apart; a failed one makes the pool connect anew (SQLAlchemy's own retry).
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"the server closed the pooled connection ({type(exc).__name__})") from exc
        if not alive:
            raise DisconnectionError("the server closed the pooled connection")


def _has_input(dbapi_connection: t.Any) -> bool:
    """Whether the idle connection's socket has something to read or is closed; true when it has no socket."""
    try:
        descriptor = dbapi_connection.fileno()
    except Exception:  # closed on our side: the driver has no socket left (psycopg raises OperationalError)
        return True
    poller = select.poll()
    poller.register(descriptor, _READABLE_OR_CLOSED)
    return bool(poller.poll(0))

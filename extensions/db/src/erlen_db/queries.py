"""Counting the SQL queries a block runs, to catch N+1 regressions in tests, and its round trips to PostgreSQL."""

from __future__ import annotations

import re
import tempfile
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .database import database_of

#: Transaction control, which a query count leaves out.
_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@dataclass
class QueryCounter:
    """The SQL statements run inside a :func:`count_queries` block, transaction control left out."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many statements ran."""
        return len(self.statements)

    def __int__(self) -> int:
        return self.count

    def report(self) -> str:
        """The statements, numbered, one per line."""
        return "\n".join(f"{i}. {statement}" for i, statement in enumerate(self.statements, 1))


def _engine_of(target: Engine | Flask | None) -> Engine:
    if isinstance(target, Engine):
        return target
    return database_of(target).engine


@contextmanager
def count_queries(target: Engine | Flask | None = None) -> Iterator[QueryCounter]:
    """Count the statements run on an engine while the block runs.

    .. code-block:: python

        with count_queries(app) as counter:
            client.get("/posts")
        assert counter.count <= 2, counter.report()

    :param target: an engine, or an app whose engine to watch; the current app's by default.
    """
    engine = _engine_of(target)
    counter = QueryCounter()

    def before_cursor_execute(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        if not _TRANSACTION_CONTROL.match(statement):
            counter.statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


@contextmanager
def max_queries(limit: int, target: Engine | Flask | None = None) -> Iterator[QueryCounter]:
    """Fail with the statements listed when the block runs more than ``limit`` of them.

    :param limit: the most statements allowed.
    :param target: as for :func:`count_queries`.
    :raises AssertionError: the block ran more.
    """
    with count_queries(target) as counter:
        yield counter
    if counter.count > limit:
        raise AssertionError(f"Expected at most {limit} queries, {counter.count} ran:\n{counter.report()}")


@dataclass
class RoundTrips:
    """The round trips of a :func:`count_round_trips` block, known once it has ended."""

    #: How many waits for the server's answer the block's connections had.
    count: int = 0
    #: libpq's trace of the messages, one a line, to say where they came from.
    messages: list[str] = field(default_factory=list)

    def __int__(self) -> int:
        return self.count


@contextmanager
def count_round_trips(target: Engine | Flask | None = None) -> Iterator[RoundTrips]:
    """Count the round trips to PostgreSQL of the connections an engine lends while the block runs.

    A round trip is a wait for the server: every message the client sends up to a ``Sync`` (or a simple query
    such as ``BEGIN``), answered by the server's ``ReadyForQuery``. libpq's trace of each connection checked
    out (``PQtrace``, through psycopg 3; on Linux) holds every message, so whatever sent them is counted:
    SQLAlchemy, psycopg (a ``BEGIN``, a statement prepared in a trip of its own) or erlen-db, up to the pool's
    reset at check-in. Unlike :func:`count_queries`, transaction control counts too.

    .. code-block:: python

        with count_round_trips(app) as trips:
            client.get("/posts")
        assert trips.count == 2, "\\n".join(trips.messages)

    :param target: as for :func:`count_queries`; its engine must use psycopg (3).
    """
    from psycopg import pq

    engine = _engine_of(target)
    found = RoundTrips()
    with tempfile.TemporaryFile("w+") as trace:

        def checkout(dbapi_connection: t.Any, record: t.Any, proxy: t.Any) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

        def checkin(dbapi_connection: t.Any, record: t.Any) -> None:
            if dbapi_connection is not None and not dbapi_connection.closed:
                dbapi_connection.pgconn.untrace()

        event.listen(engine, "checkout", checkout)
        event.listen(engine, "checkin", checkin)
        try:
            yield found
        finally:
            event.remove(engine, "checkout", checkout)
            event.remove(engine, "checkin", checkin)
        trace.seek(0)
        found.messages = trace.read().splitlines()
    found.count = sum(1 for line in found.messages if "\tReadyForQuery\t" in line)

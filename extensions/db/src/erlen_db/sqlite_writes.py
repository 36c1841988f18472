"""Transactions on SQLite that take the write lock where they begin (``BEGIN IMMEDIATE``), for one connection.

erlen-db begins an SQLite transaction with a plain (deferred) ``BEGIN``, sent
before the first statement that may change something (see
:mod:`erlen_db.lone_reads`). A transaction whose first statement only reads
(a ``SELECT count(*)``: a function call, so it is not a lone read) holds a
read snapshot; when it then writes, SQLite's WAL cannot make it a writer if
another connection committed meanwhile, and the write fails at once with
"database is locked" (``SQLITE_BUSY_SNAPSHOT``), the busy timeout no help.
A web request meets that only when two overlap just so; a background job,
run by several worker threads at once, meets it every time two copies of a
read-then-write job run together.

:func:`begin_immediately` makes the transactions of one connection begin with
``BEGIN IMMEDIATE`` instead, where the ``BEGIN`` would be sent: the
transaction takes the write lock first (waiting for it as long as
``DB_SQLITE_BUSY_TIMEOUT``, as any writer does), so its reads see the latest
commit and its writes never need an upgrade. A lone read (with
``DB_LONE_READS``, the default) still runs outside the transaction and takes
no lock. The lock is held until the transaction ends, so other writers wait
for it meanwhile.
"""

from __future__ import annotations

import typing as t
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import ExecutionContext

from .database import in_autocommit
from .lone_reads import _runs_alone, is_installed


class _State:
    """What :func:`begin_immediately` keeps for one connection."""

    __slots__ = ("fresh", "lone_reads")

    def __init__(self, lone_reads: bool, fresh: bool) -> None:
        #: Whether the engine has lone reads: erlen-db's BEGIN waits for the first statement that is not one.
        self.lone_reads = lone_reads
        #: Whether the transaction SQLAlchemy began has run no statement yet (without lone reads, its plain
        #: BEGIN was sent as it began, and has taken no lock nor snapshot yet).
        self.fresh = fresh


#: The connections :func:`begin_immediately` was applied to (a connection object lives for one checkout).
_states: weakref.WeakKeyDictionary[Connection, _State] = weakref.WeakKeyDictionary()


def begin_immediately(connection: Connection) -> bool:
    """Make each transaction of ``connection`` take SQLite's write lock where it begins (``BEGIN IMMEDIATE``).

    For code that reads, then writes, in one transaction while other connections write too (a background
    job on worker threads): its write never fails with "database is locked" because another connection
    committed between its read and its write; it waits for the lock instead, up to
    ``DB_SQLITE_BUSY_TIMEOUT``. The transaction holds the write lock until it commits or rolls back:
    commit before slow work outside the database. A lone read (``DB_LONE_READS``) still runs outside a
    transaction, taking no lock. Under the ``AUTOCOMMIT`` isolation level nothing changes (no transaction is
    begun). It does nothing on another database, or on an SQLite driver other than the ``sqlite3`` module.

    It lasts as long as the connection object (until it is closed); applying it twice changes nothing.

    :param connection: a connection of the app's engine (``erlen_db.get_connection()``), before or after it
        began a transaction (one already begun and used keeps its plain ``BEGIN``).
    :returns: whether the connection's transactions now begin with ``BEGIN IMMEDIATE`` (SQLite through
        ``sqlite3``).
    """
    dialect = connection.dialect
    if dialect.name != "sqlite" or dialect.driver not in ("pysqlite", "pysqlcipher"):
        return False
    if connection in _states:
        return True
    _states[connection] = _State(is_installed(connection.engine), connection.in_transaction())
    event.listen(connection, "begin", _on_begin)
    event.listen(connection, "before_cursor_execute", _before_cursor_execute)
    return True


def _on_begin(connection: Connection) -> None:
    """SQLAlchemy begins a transaction on ``connection`` (before erlen-db's ``do_begin``)."""
    _states[connection].fresh = True


def _before_cursor_execute(
    connection: Connection,
    cursor: t.Any,
    statement: str,
    parameters: t.Any,
    context: ExecutionContext | None,
    executemany: bool,
) -> None:
    """Send ``BEGIN IMMEDIATE`` before the statement where erlen-db would send ``BEGIN`` (or just did).

    :param connection: the connection.
    :param cursor: the statement's ``sqlite3`` cursor.
    :param context: the statement's execution context.
    :param executemany: whether the statement runs for many parameter sets (never alone).
    """
    state = _states[connection]
    was_fresh, state.fresh = state.fresh, False
    driver = cursor.connection
    if in_autocommit(driver):
        return
    if not driver.in_transaction:
        # erlen-db's BEGIN is still owed (lone reads): it is sent before this statement unless it runs alone.
        if state.lone_reads and not executemany and _runs_alone(context):
            state.fresh = was_fresh
            return
        cursor.execute("BEGIN IMMEDIATE")
    elif was_fresh and not state.lone_reads:
        # The plain BEGIN sent as the transaction began, which has done nothing yet: begun again, taking the lock.
        cursor.execute("ROLLBACK")
        cursor.execute("BEGIN IMMEDIATE")


__all__ = ["begin_immediately"]

"""Reading one row by primary key on PostgreSQL in one round trip when it is the request's first statement.

On psycopg (3), the first statement of a transaction costs a round trip of
its own: the driver sends ``BEGIN`` and waits for it before sending the
statement; and the request's end costs another, the ``ROLLBACK``. A request
that reads one row and nothing else (``GET /notes/42``) pays three round trips
for one answer.

Under PostgreSQL's ``READ COMMITTED`` (its default), ``BEGIN`` takes no
snapshot: each statement of the transaction sees what was committed when that
statement started, exactly as a statement outside any transaction does. So
the first statement of a request, when it is :func:`erlen_db.get`'s plain
``SELECT`` of one row by primary key (no locks, no functions, no writes:
nothing for a rollback to undo), gives the same answer run alone, with
psycopg's autocommit on for that one statement. The connection then goes
back to transactions: whatever the request does next starts the
transaction with its own first statement, as it would have, and the
teardown's rollback has nothing to send when nothing followed.

Under another isolation level (``REPEATABLE READ``, ``SERIALIZABLE``: the
first statement fixes the snapshot of the whole transaction), once the
request has run anything on the connection, on another driver, or in a
pipeline, the statement runs in the transaction as usual.
"""

from __future__ import annotations

import typing as t

from sqlalchemy import Executable
from sqlalchemy.engine import Connection, Row

#: The isolation level under which a statement run alone sees what it would see as a transaction's first.
_READ_COMMITTED = "READ COMMITTED"


def first_row(connection: Connection, statement: Executable, parameters: t.Mapping[str, t.Any]) -> Row[t.Any] | None:
    """The first row of ``statement`` on ``connection``, run alone when it would be its transaction's first.

    :param connection: the app context's connection (:meth:`erlen_db.Database.connection`).
    :param statement: a plain ``SELECT`` with no side effect and no lock (:func:`erlen_db.get`'s).
    :param parameters: its parameters.
    """
    driver = _idle_psycopg(connection)
    if driver is None:
        return connection.execute(statement, parameters).first()
    driver.autocommit = True
    try:
        return connection.execute(statement, parameters).first()
    finally:
        _back_to_transactions(connection, driver)


def _idle_psycopg(connection: Connection) -> t.Any:
    """The psycopg connection under ``connection`` when its next statement may run alone; else ``None``.

    It may when it would start a ``READ COMMITTED`` transaction: psycopg idle (no transaction, no pipeline)
    and not in autocommit already, its isolation level the server's default, and that default
    ``READ COMMITTED`` (as SQLAlchemy found it on connecting), or set to it.

    :param connection: a checked-out connection.
    """
    dialect = connection.dialect
    if dialect.driver != "psycopg" or connection.invalidated:
        return None
    driver = connection.connection.driver_connection
    if driver is None:
        return None
    from psycopg import IsolationLevel, pq

    pgconn = driver.pgconn
    if (
        pgconn.transaction_status != pq.TransactionStatus.IDLE
        or pgconn.pipeline_status != pq.PipelineStatus.OFF
        or driver.autocommit
    ):
        return None
    level = driver.isolation_level
    if level is None:
        if getattr(dialect, "default_isolation_level", None) != _READ_COMMITTED:
            return None
    elif level != IsolationLevel.READ_COMMITTED:
        return None
    return driver


def _back_to_transactions(connection: Connection, driver: t.Any) -> None:
    """Turn psycopg's autocommit off again after the lone statement, or drop the connection if it cannot be.

    A connection left in autocommit would run the rest of the request, and later requests from the pool,
    without transactions: when psycopg refuses the change (the statement left it in another state than
    idle, which only a broken connection does), the connection is invalidated instead, and the pool
    replaces it. The statement's own error, if any, is what the caller sees.

    :param connection: the SQLAlchemy connection.
    :param driver: its psycopg connection.
    """
    from psycopg import pq

    try:
        if not driver.closed and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            driver.autocommit = False
            return
    except Exception:  # whatever psycopg raises, the connection is dropped below
        pass
    if not connection.invalidated:
        connection.invalidate()

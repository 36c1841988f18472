"""Keeping psycopg's prepared statements when a healthy PostgreSQL transaction is rolled back.

psycopg (3) prepares a statement on the server once a connection has run it
five times (``prepare_threshold``): from then on PostgreSQL skips parsing and
planning it. But ``Connection.rollback()`` forgets every prepared statement of
the connection (and deallocates them on the server), and every request that
does not commit ends with a rollback: read-only pages, the most frequent, never
ran a prepared statement, and paid the planning of each statement on every
request (erlen-auth's look-up of the logged-in user, a join, some 0.13 ms).

Prepared statements are not transactional: a rollback leaves them valid on the
server, and PostgreSQL plans again one whose tables changed. So the rollback of
a transaction in good standing is sent here without forgetting them. A
transaction that failed (one of its statements raised) is rolled back by
psycopg itself, which forgets them all: a statement prepared before a column's
type changed fails once with "cached plan must not change result type", and
the rollback after that failure gives the connection a clean slate, so the
next request prepares it afresh. What a rollback does to the data is the same
either way.
"""

from __future__ import annotations

import typing as t

from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import PoolProxiedConnection


def can_keep(url: URL) -> bool:
    """Whether :func:`install` applies to an engine for ``url``: its driver is psycopg (3), which prepares statements.

    :param url: the database URL, of a server (not SQLite).
    """
    return url.get_dialect().driver == "psycopg"


def install(engine: Engine) -> None:
    """Roll back ``engine``'s transactions in good standing without dropping psycopg's prepared statements.

    Each engine has a dialect of its own (engines derived by ``execution_options`` share it), so this changes
    this engine only; SQLAlchemy rolls back through ``dialect.do_rollback`` at the end of a transaction and when
    the pool resets a connection.

    :param engine: an engine for which :func:`can_keep` is true.
    """
    import psycopg
    from psycopg import pq

    if not hasattr(psycopg.Connection, "_exec_command"):
        return  # a psycopg whose internals moved: its own rollback, which forgets them, as before
    in_transaction = pq.TransactionStatus.INTRANS
    pipeline_off = pq.PipelineStatus.OFF
    psycopg_rollback = engine.dialect.do_rollback

    def do_rollback(dbapi_connection: t.Any) -> None:
        # SQLAlchemy passes its pool's proxy: the psycopg connection itself, rather than each attribute through
        # the proxy's __getattr__ (an AttributeError raised and caught inside each time).
        connection: t.Any = (
            dbapi_connection.dbapi_connection
            if isinstance(dbapi_connection, PoolProxiedConnection)
            else dbapi_connection
        )
        pgconn = connection.pgconn
        if pgconn.transaction_status != in_transaction or pgconn.pipeline_status != pipeline_off:
            # Idle (nothing to do), failed (forget the statements: one may be stale), broken or in a pipeline:
            # psycopg's own rollback, whatever it does.
            psycopg_rollback(connection)
            return
        # What psycopg's Connection.rollback() does, without forgetting the prepared statements: the same statement,
        # sent and waited for the same way, a failure raised as the same psycopg error (a lost connection
        # included, which SQLAlchemy then invalidates). psycopg reads the transaction's state from the connection,
        # so it sees it idle again.
        with connection.lock:
            connection.wait(connection._exec_command(b"ROLLBACK"))

    engine.dialect.do_rollback = do_rollback  # type: ignore[method-assign]

"""Running code inside a transaction that is rolled back, SAVEPOINTs absorbing its commits."""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from .database import Database, database_of


@contextmanager
def rolled_back(app: Flask, *, create_tables: bool = True) -> Iterator[Session]:
    """Run the block in a transaction of ``app``'s database that is rolled back at its end.

    Every session of the app made during the block (in requests, app contexts,
    :meth:`Database.session_scope`) joins that transaction through a SAVEPOINT,
    so ``commit()`` releases a SAVEPOINT and ``rollback()`` rolls back to it;
    nothing persists. Works on SQLite and PostgreSQL. The ``db_session``
    fixture is built on it; use it directly in other test runners. Under the
    ``AUTOCOMMIT`` isolation level (``DB_ENGINE_OPTIONS``), the block's
    connection uses the database's default level instead (see
    :func:`connect_with_transactions`).

    :param app: the app.
    :param create_tables: create the app's missing tables inside the transaction
        (and so roll them back too).
    :returns: a session for preparing data, joined like the others.
    """
    database = database_of(app)
    with connect_with_transactions(database) as connection:
        transaction = connection.begin()
        try:
            if create_tables:
                database.create_all(connection)
            database._test_connection = connection
            session = database.new_session()
            try:
                yield session
            finally:
                session.close()
        finally:
            database._test_connection = None
            if transaction.is_active:
                transaction.rollback()


@contextmanager
def connect_with_transactions(database: Database) -> Iterator[Connection]:
    """A connection of ``database``'s engine whose transactions hold, checked out for the block and closed after.

    Under the ``AUTOCOMMIT`` isolation level of ``DB_ENGINE_OPTIONS`` (``isolation_level``, or in
    ``execution_options``), ``begin()`` begins nothing and each statement commits as it runs; this connection
    uses the database's default level instead, so that what must be all or nothing (a migration, a test's
    transaction) is. It is back under ``AUTOCOMMIT`` once it returns to the pool (on every supported
    SQLAlchemy: see :func:`_restore_autocommit`). Under another level it is the engine's connection as is.

    :param database: the database.
    """
    connection = database.engine.connect()
    restore: Callable[[t.Any, t.Any], None] | None = None
    try:
        if _autocommits(connection, database.engine_options):
            # AUTOCOMMIT has no transaction to roll back: each statement commits, and on SQLite so does the
            # release of the first SAVEPOINT (PostgreSQL refuses a SAVEPOINT there).
            if "isolation_level" not in connection.get_execution_options():
                restore = _restore_autocommit(database.engine, connection)
            connection.execution_options(isolation_level=connection.default_isolation_level)
        yield connection
    finally:
        try:
            connection.close()
        finally:
            if restore is not None:
                event.remove(database.engine.pool, "checkin", restore)


def _autocommits(connection: Connection, engine_options: Mapping[str, t.Any]) -> bool:
    """Whether ``connection`` is under the ``AUTOCOMMIT`` isolation level, as SQLAlchemy set it.

    The connection's execution options (the engine's ``execution_options`` included) take precedence over
    the engine's own ``isolation_level``; the driver itself does not tell (``get_isolation_level`` reports
    the database's level).

    :param connection: a connection just checked out.
    :param engine_options: the keyword arguments its engine was made with.
    """
    level = connection.get_execution_options().get("isolation_level", engine_options.get("isolation_level"))
    return bool(level == "AUTOCOMMIT")


def _restore_autocommit(engine: Engine, connection: Connection) -> Callable[[t.Any, t.Any], None]:
    """Put the engine's ``AUTOCOMMIT`` back on ``connection``'s driver connection when it returns to the pool.

    SQLAlchemy resets a connection given a level of its own, but releases without the fix of its issue 10147
    (2.0.5 among them; 2.1 has it) to the database's default level rather than to the engine's ``AUTOCOMMIT``.
    The pool's ``"checkin"`` listeners
    run after that reset. Remove the listener returned (``event.remove(engine.pool, "checkin", ...)``) once
    the connection is back.

    :param engine: the engine, made with ``isolation_level="AUTOCOMMIT"``.
    :param connection: its connection, about to be given another level.
    """
    driver: t.Any = connection.connection.dbapi_connection
    dialect = engine.dialect

    def restore(dbapi_connection: t.Any, connection_record: t.Any) -> None:
        if dbapi_connection is driver:
            dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")

    event.listen(engine.pool, "checkin", restore)
    return restore

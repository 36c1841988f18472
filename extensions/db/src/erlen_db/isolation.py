"""Running code inside a transaction that is rolled back, SAVEPOINTs absorbing its commits."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from .database import database_of


@contextmanager
def rolled_back(app: Flask, *, create_tables: bool = True) -> Iterator[Session]:
    """Run the block in a transaction of ``app``'s database that is rolled back at its end.

    Every session of the app made during the block (in requests, app contexts,
    :meth:`Database.session_scope`) joins that transaction through a SAVEPOINT,
    so ``commit()`` releases a SAVEPOINT and ``rollback()`` rolls back to it;
    nothing persists. Works on SQLite and PostgreSQL. The ``db_session``
    fixture is built on it; use it directly in other test runners. Under the
    ``AUTOCOMMIT`` isolation level (``DB_ENGINE_OPTIONS``), the block's
    connection uses the database's default level instead, which has
    transactions; it is back under ``AUTOCOMMIT`` once it returns to the pool.

    :param app: the app.
    :param create_tables: create the app's missing tables inside the transaction
        (and so roll them back too).
    :returns: a session for preparing data, joined like the others.
    """
    database = database_of(app)
    connection = database.engine.connect()
    if _autocommits(connection, database.engine_options):
        # AUTOCOMMIT has no transaction to roll back: each statement commits, and on SQLite so does the release
        # of the sessions' first SAVEPOINT (PostgreSQL refuses a SAVEPOINT there). SQLAlchemy puts the engine's
        # level back when the connection returns to the pool.
        connection.execution_options(isolation_level=connection.default_isolation_level)
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
        connection.close()


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

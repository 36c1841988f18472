"""Running code inside a transaction that is rolled back, SAVEPOINTs absorbing its commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy.orm import Session

from .database import database_of


@contextmanager
def rolled_back(app: Flask, *, create_tables: bool = True) -> Iterator[Session]:
    """Run the block in a transaction of ``app``'s database that is rolled back at its end.

    Every session of the app made during the block (in requests, app contexts,
    :meth:`Database.session_scope`) joins that transaction through a SAVEPOINT,
    so ``commit()`` releases a SAVEPOINT and ``rollback()`` rolls back to it;
    nothing persists. Works on SQLite and PostgreSQL. The ``db_session``
    fixture is built on it; use it directly in other test runners.

    :param app: the app.
    :param create_tables: create the app's missing tables inside the transaction
        (and so roll them back too).
    :returns: a session for preparing data, joined like the others.
    """
    database = database_of(app)
    connection = database.engine.connect()
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

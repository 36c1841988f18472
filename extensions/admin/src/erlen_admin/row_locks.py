"""Holding the rows a change reads until it commits, so that nobody changes or deletes them in between.

A save checks what it read (the stale-edit check, which rows still exist, an action's ``available``) and then
writes; another user's change committed between the two would be overwritten unseen, or a row deleted meanwhile
reported, and audited, as deleted by this user.

- PostgreSQL (and other databases with row locks): the rows are read ``FOR NO KEY UPDATE`` by a change that
  keeps their keys (an edit, a bulk or object action that needs no ``delete`` permission), ``FOR UPDATE`` by a
  deletion; another writer of those rows waits for this transaction's end, readers do not. ``FOR NO KEY
  UPDATE`` lets other sessions insert (or update) rows that refer to the held rows meanwhile: their foreign
  key's check takes ``FOR KEY SHARE``, which only ``FOR UPDATE`` blocks. A change that does alter a key column
  after all (an action's callback deleting a row) takes the stronger lock itself when it writes.
- SQLite has no row locks: the file has one writer at a time. With erlen-db's lone reads (``DB_LONE_READS``, the
  default) the reads run outside any transaction and the write's transaction begins later, so a commit in
  between is overwritten unseen. Here the transaction begins with ``BEGIN IMMEDIATE`` before the reads instead:
  it takes the write lock first (waiting for another writer up to ``DB_SQLITE_BUSY_TIMEOUT``), so the reads and
  the write see the same, latest data; readers are not blocked (WAL). When the request's transaction has already
  begun (``DB_LONE_READS = False``: every request is one snapshot), SQLite itself refuses a write on a snapshot
  older than another commit (``SQLITE_BUSY_SNAPSHOT``), which the admin reports as such: nothing is overwritten.
"""

from __future__ import annotations

import sqlite3
import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: A ``SELECT`` of some model's rows.
Select = sa.Select[t.Any]

#: What SQLite's write transaction begins with: the write lock first, so what it reads stays the latest.
_BEGIN_WRITING = "BEGIN IMMEDIATE"


def hold_sqlite_write_lock(session: Session) -> bool:
    """On SQLite, begin ``session``'s transaction holding the database's write lock, unless it has begun already.

    :param session: the request's session.
    :returns: whether the lock was taken here (``False`` on other databases, under the ``AUTOCOMMIT`` isolation
        level, and when the driver's transaction was open already).
    :raises sqlalchemy.exc.OperationalError: another connection held the write lock for longer than the busy
        timeout ("database is locked"; erlen-db answers 503, as for any other write).
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    driver = t.cast(t.Any, connection.connection.dbapi_connection)
    # isolation_level None is SQLAlchemy's AUTOCOMMIT, where every statement commits at once: nothing to hold.
    if driver is None or driver.in_transaction or driver.isolation_level is None:
        return False
    try:
        driver.execute(_BEGIN_WRITING)
    except sqlite3.Error as exc:
        # As SQLAlchemy wraps a statement's error, so that erlen-db's handlers and is_sqlite_lock know it.
        raise sa.exc.OperationalError(_BEGIN_WRITING, None, exc) from exc
    return True


def for_update(model: type, *, deleting: bool) -> dict[str, t.Any]:
    """The ``with_for_update`` arguments that hold rows of ``model`` for a change (see the module).

    ``OF`` the model's table alone (not the nullable side of an outer join a relationship may add, which
    PostgreSQL refuses to lock); ``FOR NO KEY UPDATE`` unless ``deleting``.

    :param model: the mapped class whose rows to hold.
    :param deleting: the change deletes the rows: ``FOR UPDATE``, which also keeps others from referring to them.
    """
    return {"of": model, "key_share": not deleting}


def locking(session: Session, statement: Select, model: type, *, deleting: bool) -> Select:
    """``statement``, reading rows of ``model``, made to hold them until ``session``'s transaction ends.

    ``FOR NO KEY UPDATE OF`` the model's table, ``FOR UPDATE OF`` it when ``deleting`` (:func:`for_update`); on
    SQLite, the write lock (:func:`hold_sqlite_write_lock`) taken before the statement runs.

    :param session: the request's session, which runs the statement next.
    :param statement: a ``SELECT`` of ``model``'s rows.
    :param model: the mapped class whose rows to hold.
    :param deleting: the change deletes them (a deletion, an action that needs the ``delete`` permission).
    """
    if session.get_bind().dialect.name == "sqlite":
        hold_sqlite_write_lock(session)
        return statement
    return statement.with_for_update(**for_update(model, deleting=deleting))


__all__ = ["for_update", "hold_sqlite_write_lock", "locking"]

"""Ending PostgreSQL backends from outside, as a server restart or an administrator would."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import Flask

import erlen_db


def pooled_backend_pid(app: Flask) -> int:
    """The backend of the one connection idle in ``app``'s pool."""
    pool = erlen_db.database_of(app).engine.pool
    return t.cast(int, pool._pool.queue[0].dbapi_connection.info.backend_pid)  # type: ignore[attr-defined]


def terminate_backend(url: str, pid: int) -> None:
    """End backend ``pid`` from another connection, and return once it has exited.

    With a timeout (PostgreSQL 14+), ``pg_terminate_backend`` returns once the backend has exited, its goodbye
    sent; without one it returns at the signal, and the next checkout could find the socket still quiet (seen on a
    loaded machine, where a request then met the dead connection and answered 503).

    :param url: a database URL of the same server.
    :param pid: the backend's process id (``pg_backend_pid()``).
    """
    other = sa.create_engine(url, poolclass=sa.NullPool)
    with other.begin() as connection:
        assert connection.scalar(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
    other.dispose()

"""What a worker runs for one job: the app context, the arguments, the idempotency key, the commit."""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Callable

import sqlalchemy as sa

from .models import CompletedKey, utcnow

if t.TYPE_CHECKING:
    from flask import Flask

    from .jobs import Job

logger = logging.getLogger("erlen_tasks")


def make_runner(app: Flask, job: Job) -> Callable[..., None]:
    """The function Dramatiq's actor calls for ``job`` on ``app``.

    It runs the job in an app context with its arguments converted back to
    their annotated types. What it did through ``erlen_db.session`` or the
    app context's connection is committed when the job returns, rolled back
    when it raises. On SQLite that transaction takes the database's write
    lock where it begins (``BEGIN IMMEDIATE``, see
    :func:`erlen_db.begin_immediately`), so that runs on other
    threads that read, then write, wait for each other rather than fail with
    "database is locked". A job with an idempotency key
    records the key in that same transaction: a run whose key has already
    completed (a redelivery after a crash between the commit and the
    broker's acknowledgement) is skipped, so the job's database effect happens
    once.

    :param app: the app.
    :param job: the job.
    """

    import erlen_db

    databases: list[erlen_db.Database] = []  # the app's, found on the first run
    sqlite: list[bool] = []  # whether the database is SQLite (begin_immediately checks the driver)

    def run(**stored: t.Any) -> None:
        if not databases:
            databases.append(erlen_db.database_of(app))
            sqlite.append(databases[0].engine.dialect.name == "sqlite")
        database = databases[0]
        with app.app_context():
            if sqlite[0]:
                # The app context's connection, which the session binds to once made: checked out now (no SQL
                # is sent), so that its transaction begins with BEGIN IMMEDIATE. Several threads run jobs: a
                # read-then-write job's deferred transaction could not become a writer once another committed.
                from erlen_db import begin_immediately

                begin_immediately(database.connection())
            arguments = job.load_arguments(stored)
            key = job.key_for(arguments)
            try:
                if key is not None:
                    session = database.session
                    # Written first, not looked up: the insert waits for a run of the same key in progress
                    # and fails once that one commits (and on SQLite, a transaction that reads before it
                    # writes may fail when another writer commits in between).
                    session.add(CompletedKey(key=key, completed_at=utcnow()))
                    try:
                        session.flush()
                    except sa.exc.IntegrityError:
                        session.rollback()
                        logger.info("Job %s: key %r has completed already; skipped.", job.name, key)
                        return
                job.function(**arguments)
                # What the job did in the app context's session or connection, if it used either: a job that
                # did not costs no session. The session takes over the connection's transaction to commit it.
                if database.in_transaction():
                    database.session.commit()
            except BaseException:
                if database.in_transaction():
                    database.rollback_session()
                raise

    run.__name__ = job.name.rsplit(".", 1)[-1]
    run.__qualname__ = job.name
    return run


__all__ = ["make_runner"]

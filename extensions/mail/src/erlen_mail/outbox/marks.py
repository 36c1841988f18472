"""The writer of a batch's marks: its commits run in order on a thread, overlapping the SMTP exchange.

The worker commits, before each group's first message can be accepted, that
the group is being handed over (``sending``), together with the outcomes of
the group before. That commit is needed before the end of the message (the
final ``.`` of ``DATA``), not before its start: the writer runs it on a
thread and a connection of its own while the worker sends ``MAIL FROM``,
``RCPT TO``, ``DATA`` and the body, and the worker waits for it only then
(:meth:`erlen_mail.Backend.send_raw_staged`).

The writer's commits need only survive the *worker*: a commit the database
server has received is kept however the worker dies. So, unless
``MAIL_OUTBOX_DURABLE_MARKS`` is on, the writer's connection does not wait
for the disk: on PostgreSQL ``synchronous_commit = off`` (the server writes
and flushes its WAL within a few hundred milliseconds, on its own); on
SQLite ``synchronous = NORMAL`` in WAL mode (the commit is in the WAL file,
in the operating system's cache, synced at the next checkpoint). Only a crash
of the database server itself (or of the machine) can then lose the last of
these commits; what that leaves is in the README ("When the database
crashes").
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import typing as t
from collections.abc import Callable
from types import TracebackType

import sqlalchemy as sa

logger = logging.getLogger("erlen_mail")

T = t.TypeVar("T")


class MarkWriter:
    """Runs a batch's delivery writes one after the other, in the order submitted; a ``with`` block.

    :meth:`OutboxWorker.run <erlen_mail.outbox.worker.OutboxWorker.run>` keeps one open for
    consecutive batches while there is work, and closes it whenever it waits or a batch fails.

    :param engine: the app's engine.
    :param local: the worker's per-thread state; on its thread the writer sets
        ``local.connection``, the connection the worker's transactions use there.
    :param threaded: run the writes on a thread of their own (with a connection of
        their own); otherwise each runs at once, on the caller's thread.
    :param own_connection: without a thread, run the writes on a connection of their
        own all the same (not for an in-memory SQLite database: it has one connection).
    :param durable: leave the connection's commits waiting for the disk, as the
        engine's other connections do (``MAIL_OUTBOX_DURABLE_MARKS``).
    """

    def __init__(
        self, engine: sa.Engine, local: threading.local, *, threaded: bool, own_connection: bool, durable: bool
    ) -> None:
        self.engine = engine
        self.local = local
        self.threaded = threaded
        self.own_connection = own_connection
        self._caller_connection: sa.Connection | None = None
        self.durable = durable
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._futures: list[concurrent.futures.Future[t.Any]] = []
        #: The writer's own connection, while open.
        self.connection: sa.Connection | None = None
        #: SQLite's ``synchronous`` setting of the connection before, to put back (``None``: untouched).
        self._restore: str | None = None

    def __enter__(self) -> MarkWriter:
        if self.threaded:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="erlen-mail-marks")
            self._executor.submit(self._open)  # a failure surfaces in the first write, on its own connection
        elif self.own_connection:
            self._caller_connection = getattr(self.local, "connection", None)
            self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            if self.own_connection:
                self._close()
                self.local.connection = self._caller_connection
            return
        if exc is not None:
            # After a failure, writes not started yet are dropped (as a crash would drop them).
            for future in self._futures:
                future.cancel()
        self._futures.clear()
        executor.submit(self._close)
        executor.shutdown(wait=True)

    def submit(self, write: Callable[..., T], *args: t.Any, **kwargs: t.Any) -> concurrent.futures.Future[T]:
        """Run ``write(*args, **kwargs)`` after the writes submitted before it; its future.

        Without a thread the write runs now, and its outcome (value or
        exception) is in the future returned.
        """
        if self._executor is not None:
            submitted = self._executor.submit(write, *args, **kwargs)
            self._futures = [pending for pending in self._futures if not pending.done()]
            self._futures.append(submitted)
            return submitted
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            done.set_result(write(*args, **kwargs))
        except Exception as exc:
            done.set_exception(exc)
        return done

    # On the writer's thread

    def _open(self) -> None:
        connection = self.engine.connect()
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            # Each statement its own transaction: the writer's usual commit is one UPDATE, so one round
            # trip instead of three (BEGIN, UPDATE, COMMIT). The worker's writes need no atomicity:
            # a group's outcomes are written before the next group's mark, each row's on its own.
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        self.connection = self.local.connection = connection
        if self.durable:
            return
        # Outside any transaction (SQLite refuses the change inside one), on the driver's connection, where
        # a PRAGMA runs at once (the sqlite3 module begins a transaction only before INSERT, UPDATE, DELETE).
        driver = connection.connection.driver_connection
        assert driver is not None
        if dialect == "postgresql":
            # Until _close: commits return once the server has them, before it flushed them to disk.
            self._restore = str(driver.execute("SHOW synchronous_commit").fetchone()[0])
            driver.execute("SET synchronous_commit = off")
        elif dialect == "sqlite" and str(driver.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            # Without WAL, NORMAL still syncs, and would not survive a power loss either.
            self._restore = str(driver.execute("PRAGMA synchronous").fetchone()[0])
            driver.execute("PRAGMA synchronous = NORMAL")

    def _close(self) -> None:
        connection, self.connection = self.connection, None
        self.local.connection = None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                connection.rollback()
            if self._restore is not None:
                driver = connection.connection.driver_connection
                assert driver is not None
                if self.engine.dialect.name == "postgresql":
                    driver.execute(f"SET synchronous_commit = {self._restore}")
                else:
                    driver.execute(f"PRAGMA synchronous = {int(self._restore)}")
        except Exception as exc:
            # The connection is not put back with the setting changed: the pool drops it. A connection the
            # database dropped (an outage, which the worker logs once) needs nothing restored: no warning.
            # Not `connection.connection` once SQLAlchemy invalidated it (a disconnect): that would connect
            # again, to a database that is down, and raise here, or wait for the connect timeout first.
            driver = None if connection.invalidated else connection.connection.driver_connection
            lost = driver is None or bool(getattr(driver, "closed", False) or getattr(driver, "broken", False))
            logger.log(
                logging.DEBUG if lost else logging.WARNING,
                "Mail outbox: could not restore the marks' connection: %s",
                exc,
            )
            connection.invalidate()
        finally:
            self._restore = None
            connection.close()


__all__ = ["MarkWriter"]

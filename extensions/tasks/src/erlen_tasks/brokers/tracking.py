"""Keeps the rows of jobs relayed to Redis or RabbitMQ up to date: running, done, failed, dead.

With those brokers the job waits in the broker once relayed; this
middleware records each run's progress in its row (by Dramatiq's message
id), so that ``erlen tasks list`` and the admin show every job the same way
whatever the broker. The records are written by a thread of their own, every
:data:`FLUSH_SECONDS`, all of them in one transaction, and at the worker's
stop: a commit per batch rather than two per job keeps the worker's pace
close to Dramatiq's own. They are for people: the broker's acknowledgement
decides what runs again, and a worker killed between two flushes may leave
its last jobs' rows behind their true state (``relayed`` or ``running``). A
failure to write is logged and tried again at the next flush, never raised.
"""

from __future__ import annotations

import logging
import threading
import typing as t

import sqlalchemy as sa
from dramatiq.middleware import Middleware

from ..models import DEAD, DONE, FAILED, RUNNING, JobRecord, utcnow
from .database import last_line

if t.TYPE_CHECKING:
    import dramatiq

logger = logging.getLogger("erlen_tasks")

TABLE: sa.Table = t.cast(sa.Table, JobRecord.__table__)

#: Seconds between two writes of the runs' records.
FLUSH_SECONDS = 1.0

#: At most this many records are kept waiting (the oldest are dropped while the database is away).
MAX_WAITING = 100_000


class Tracking(Middleware):
    """Dramatiq middleware writing each run's progress to its ``tasks_jobs`` row, in batches.

    :param engine: the app's engine.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._waiting: list[tuple[str, dict[str, t.Any]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _record(self, message: t.Any, **values: t.Any) -> None:
        with self._lock:
            self._waiting.append((message.message_id, {"updated_at": utcnow(), **values}))
            del self._waiting[:-MAX_WAITING]
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="erlen-tasks-tracking", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Write the waiting records now, in one transaction, in the order they were made."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        try:
            with self.engine.begin() as connection:
                for message_id, values in waiting:
                    connection.execute(sa.update(TABLE).where(TABLE.c.message_id == message_id).values(**values))
        except Exception as exc:  # the database is away: keep them for the next flush
            logger.warning("erlen-tasks: could not record %d job run(s) yet: %s", len(waiting), exc)
            with self._lock:
                self._waiting[:0] = waiting

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def close(self) -> None:
        """Stop the writer thread, then write what is left."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10.0)
        self.flush()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: t.Any) -> None:
        # Runs before the worker waits for its running jobs: their records come with the broker's close.
        self.flush()

    def before_process_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self._record(message, status=RUNNING, attempts=TABLE.c.attempts + 1)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: t.Any,
        *,
        result: t.Any = None,
        exception: BaseException | None = None,
    ) -> None:
        # Runs after Retries (this middleware is the first of the broker's, and "after" hooks run in
        # reverse): a failed message is out of tries (dead), any other failure is retried.
        if exception is None:
            self._record(message, status=DONE, last_error=None)
            return
        error = last_line(message.options.get("traceback")) or f"{type(exception).__name__}: {exception}"
        self._record(message, status=DEAD if message.failed else FAILED, last_error=error)

    def after_skip_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self._record(message, status=DEAD if message.failed else DONE)


__all__ = ["FLUSH_SECONDS", "Tracking"]

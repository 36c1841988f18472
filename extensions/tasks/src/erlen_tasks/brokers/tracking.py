"""Keeps the rows of jobs relayed to Redis or RabbitMQ up to date: running, done, failed, dead.

With those brokers the job waits in the broker once relayed; this
middleware records each run's progress in its row (by Dramatiq's message
id), so that ``erlen tasks list`` and the admin show every job the same way
whatever the broker. The records are written by a thread of their own, every
:data:`FLUSH_SECONDS`, all of them in one transaction, and at the worker's
stop: a commit per batch rather than two per job keeps the worker's pace
close to Dramatiq's own. A message's records made between two writes are
folded into one row update (a run that started and ended in between is
written once, ``done``, its attempt counted): in one transaction nobody could
have seen the ``running`` between them anyway. They are for people: the broker's acknowledgement
decides what runs again, and a worker killed between two flushes may leave
its last jobs' rows behind their true state (``relayed`` or ``running``). A
failure to write is logged and tried again at the next flush, never raised.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import typing as t
from dataclasses import dataclass

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

#: At most this many messages' records are kept waiting (the oldest are dropped while the database is away).
MAX_WAITING = 100_000


#: A record's ``last_error`` that leaves the row's as it is.
_KEEP = object()

_MESSAGE_ID = sa.bindparam("b_message_id", type_=TABLE.c.message_id.type)
_SET = {
    # A run ends any claim on the row: the hand-off's, whose mark then has nothing left to write.
    "claim_token": None,
    "claimed_until": None,
    "status": sa.bindparam("b_status", type_=TABLE.c.status.type),
    "updated_at": sa.bindparam("b_updated_at", type_=TABLE.c.updated_at.type),
    "attempts": TABLE.c.attempts + sa.bindparam("b_runs", type_=TABLE.c.attempts.type),
}
#: The statements writing a batch (one ``executemany`` each): a message's records folded into one row update,
#: with or without its ``last_error``. Made once: building a statement per record cost as much as the run.
UPDATE_KEEPING_ERROR = sa.update(TABLE).where(TABLE.c.message_id == _MESSAGE_ID).values(**_SET)
UPDATE_WITH_ERROR = (
    sa.update(TABLE)
    .where(TABLE.c.message_id == _MESSAGE_ID)
    .values(**_SET, last_error=sa.bindparam("b_last_error", type_=TABLE.c.last_error.type))
)


@dataclass
class _Record:
    """What a run changed in its message's row: the fold of that message's records since the last write."""

    status: str
    updated_at: dt.datetime
    #: Runs started (each adds one to ``attempts``).
    runs: int
    #: The error to write, or :data:`_KEEP`.
    last_error: object


class Tracking(Middleware):
    """Dramatiq middleware writing each run's progress to its ``tasks_jobs`` row, in batches.

    The records of one message made since the last write are folded into
    one row update (a run that started and ended in between is written
    once, as ``done`` with its attempt counted), and a batch is written with
    two prepared statements, ``executemany``: the worker holds the
    database's write lock for a moment per batch, not a statement per record.

    :param engine: the app's engine.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._waiting: dict[str, _Record] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _record(self, message: t.Any, status: str, *, runs: int = 0, last_error: object = _KEEP) -> None:
        now = utcnow()
        with self._lock:
            waiting = self._waiting
            record = waiting.get(message.message_id)
            if record is None:
                if len(waiting) >= MAX_WAITING:  # the database is away: drop the oldest
                    del waiting[next(iter(waiting))]
                waiting[message.message_id] = _Record(status, now, runs, last_error)
            else:
                record.status = status
                record.updated_at = now
                record.runs += runs
                if last_error is not _KEEP:
                    record.last_error = last_error
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="erlen-tasks-tracking", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Write the waiting records now, in one transaction."""
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        if not waiting:
            return
        keeping: list[dict[str, t.Any]] = []
        with_error: list[dict[str, t.Any]] = []
        for message_id, record in waiting.items():
            values = {
                "b_message_id": message_id,
                "b_status": record.status,
                "b_updated_at": record.updated_at,
                "b_runs": record.runs,
            }
            if record.last_error is _KEEP:
                keeping.append(values)
            else:
                values["b_last_error"] = record.last_error
                with_error.append(values)
        try:
            with self.engine.begin() as connection:
                if keeping:
                    connection.execute(UPDATE_KEEPING_ERROR, keeping)
                if with_error:
                    connection.execute(UPDATE_WITH_ERROR, with_error)
        except Exception as exc:  # the database is away: keep them for the next flush
            logger.warning("erlen-tasks: could not record %d job run(s) yet: %s", len(waiting), exc)
            with self._lock:
                for message_id, record in self._waiting.items():  # made meanwhile: fold them onto the older
                    older = waiting.get(message_id)
                    if older is None:
                        waiting[message_id] = record
                    else:
                        older.status, older.updated_at = record.status, record.updated_at
                        older.runs += record.runs
                        if record.last_error is not _KEEP:
                            older.last_error = record.last_error
                while len(waiting) > MAX_WAITING:
                    del waiting[next(iter(waiting))]
                self._waiting = waiting

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
        self._record(message, RUNNING, runs=1)

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
            self._record(message, DONE, last_error=None)
            return
        error = last_line(message.options.get("traceback")) or f"{type(exception).__name__}: {exception}"
        self._record(message, DEAD if message.failed else FAILED, last_error=error)

    def after_skip_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self._record(message, DEAD if message.failed else DONE)


__all__ = ["FLUSH_SECONDS", "Tracking"]

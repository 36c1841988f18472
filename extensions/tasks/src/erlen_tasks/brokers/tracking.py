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
import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, replace

import sqlalchemy as sa
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Middleware

from ..failures import summarize_exception, summarize_traceback
from ..models import DEAD, DONE, FAILED, RUNNING, JobRecord
from .database import unknown_job_error

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
    # A run ends any claim on the row: the hand-off's, whose mark then has nothing left to write. NULL as SQL,
    # not as a parameter: the prepared statements' parameters are the record's alone.
    "claim_token": sa.null(),
    "claimed_until": sa.null(),
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
    .values(
        **_SET,
        last_error=sa.bindparam("b_last_error", type_=TABLE.c.last_error.type),
        # A failed run's next try (NULL: the row's eta stays): failures come with their error, so only here.
        eta=sa.func.coalesce(sa.bindparam("b_eta", type_=TABLE.c.eta.type), TABLE.c.eta),
    )
)

#: The parameters of each statement, in the order of a record's values (see :meth:`Tracking.flush`).
_KEEPING_NAMES = ("b_message_id", "b_status", "b_updated_at", "b_runs")
_WITH_ERROR_NAMES = (*_KEEPING_NAMES, "b_last_error", "b_eta")


@dataclass(frozen=True)
class PreparedUpdate:
    """One of the batch's statements compiled for a dialect, its parameters converted here.

    Through ``connection.execute(statement, records)`` SQLAlchemy builds each record's parameters
    (a dictionary per bind, its type's processor looked up per value): twice the database's own work
    on SQLite. Compiled once, with the same bind processors, and sent with
    ``Connection.exec_driver_sql`` (one ``executemany``, still seen by the engine's events).

    :param sql: the statement's text, in the driver's parameter style.
    :param names: the parameters' names, in the order the driver takes them when it is positional.
    :param positional: whether the driver takes sequences (``?``) rather than mappings.
    :param processors: each parameter's bind processor, ``None`` where its type has none.
    """

    sql: str
    names: tuple[str, ...]
    positional: bool
    processors: tuple[Callable[[t.Any], t.Any] | None, ...]

    @classmethod
    def for_dialect(cls, statement: sa.Update, names: tuple[str, ...], dialect: sa.Dialect) -> PreparedUpdate | None:
        """``statement`` (whose parameters are ``names``) for ``dialect``; ``None`` when its binds differ.

        :param statement: :data:`UPDATE_KEEPING_ERROR` or :data:`UPDATE_WITH_ERROR`.
        :param names: the statement's parameters, in the order :meth:`rows` is given their values.
        :param dialect: the dialect of the connection it is sent on.
        """
        compiled = statement.compile(dialect=dialect)
        positional = bool(dialect.positional)
        order = tuple(compiled.positiontup or ()) if positional else names
        if sorted(order) != sorted(names) or sorted(compiled.binds) != sorted(names):
            return None  # a dialect that renders other parameters: leave it to Core
        processors = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order)
        return cls(compiled.string, order, positional, processors)

    def rows(self, records: list[dict[str, t.Any]]) -> list[t.Any]:
        """The driver's parameters for ``records`` (each a mapping of the statement's parameter names).

        :param records: the values of each row update, as Python values.
        """
        names = self.names
        converting = [(index, process) for index, process in enumerate(self.processors) if process is not None]
        rows: list[t.Any] = []
        for record in records:
            values = [record[name] for name in names]
            for index, process in converting:
                values[index] = process(values[index])
            rows.append(tuple(values) if self.positional else dict(zip(names, values, strict=True)))
        return rows


@dataclass
class _Record:
    """What a run changed in its message's row: the fold of that message's records since the last write."""

    status: str
    #: ``time.time()`` of the last record (made a date-time when written: a tenth of the cost per record).
    updated_at: float
    #: Runs started (each adds one to ``attempts``).
    runs: int
    #: The error to write, or :data:`_KEEP`.
    last_error: object
    #: ``time.time()`` of the next try of a failed run, or ``None`` (the row's ``eta`` stays).
    eta: float | None = None
    #: ``time.time()`` of the start of the run whose status this is (its end, for a record without a start).
    run_started: float = 0.0

    def absorb(self, later: _Record) -> None:
        """Fold ``later``, a record of the same message made after this one, into this one.

        A retry can start, and even end, before the failed run's hooks record its end (Retries sends the retry
        before this middleware's after-hook runs, and another worker thread may take it at once): the late
        record of an older run counts its attempt but leaves the newer run's status, error and next try.

        :param later: the newer record.
        """
        self.runs += later.runs
        if later.run_started < self.run_started:
            return
        self.status, self.updated_at, self.run_started = later.status, later.updated_at, later.run_started
        if later.last_error is not _KEEP:
            self.last_error = later.last_error
        if later.eta is not None:
            self.eta = later.eta


@dataclass
class _Run:
    """A run under way: its message, when it started, and whether a write counted its attempt already."""

    message_id: str
    started: float
    counted: bool = False


_NO_ATTRIBUTES: dict[str, t.Any] = {}


def message_of(message: t.Any) -> t.Any:
    """The :class:`dramatiq.Message` a :class:`dramatiq.broker.MessageProxy` wraps, or ``message`` itself.

    The proxy lends its message's attributes through ``__getattr__``, after a failed lookup that
    builds an ``AttributeError``: a few thousand instructions per read, several reads per run.

    :param message: what a middleware hook is given.
    """
    return getattr(message, "__dict__", _NO_ATTRIBUTES).get("_message", message)


class Tracking(Middleware):
    """Dramatiq middleware writing each run's progress to its ``tasks_jobs`` row, in batches.

    The records of one message made since the last write are folded into
    one row update (a run that started and ended in between is written
    once, as ``done`` with its attempt counted), and a batch is written with
    two prepared statements, ``executemany``: the worker holds the
    database's write lock for a moment per batch, not a statement per record.
    A run's start is kept apart until its end or the next write, whichever
    comes first (a run still under way then is written ``running``): most
    runs end before it, and cost one record, not two.

    :param engine: the app's engine.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._waiting: dict[str, _Record] = {}
        #: Runs under way, by the ``id`` of their message's proxy: Dramatiq gives the hooks of one run the same
        #: proxy, and each delivery a new one, while a retry keeps its message's id (and may start before the
        #: failed run's hooks end).
        self._started: dict[int, _Run] = {}
        #: By message id, the record of a run written while an older run of the message is still under way.
        self._written_newer: dict[str, _Record] = {}
        #: The next try of each failed run, by message id: ``time.time()`` of its eta, from the retry's enqueue.
        self._retries: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: The batch's statements and the dialect they were compiled for (see :class:`PreparedUpdate`).
        self._prepared: tuple[sa.Dialect, PreparedUpdate | None, PreparedUpdate | None] | None = None

    def _fold(self, message_id: str, record: _Record) -> None:
        """Fold a record into the waiting ones; called with the lock held."""
        waiting = self._waiting
        older = waiting.get(message_id)
        if older is None:
            if len(waiting) >= MAX_WAITING:  # the database is away: drop the oldest
                del waiting[next(iter(waiting))]
            waiting[message_id] = record
        else:
            older.absorb(record)
        if self._thread is None:
            self._start_thread()

    def _start_thread(self) -> None:
        # Called with the lock held, on the first record or start: the writer thread, writing every FLUSH_SECONDS.
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="erlen-tasks-tracking", daemon=True)
        self._thread.start()

    def _started_run(self, message: t.Any) -> None:
        at = time.time()
        with self._lock:
            self._started[id(message)] = _Run(message_of(message).message_id, at)
            if self._thread is None:
                self._start_thread()

    def _ended(self, message: t.Any, status: str, last_error: object = _KEEP) -> None:
        """Record the end of a run (or a skip): its start counts one attempt, unless a write counted it."""
        at = time.time()
        message_id = message_of(message).message_id
        with self._lock:
            run = self._started.pop(id(message), None)
            eta = self._retries.pop(message_id, None)
            runs = 1 if run is not None and not run.counted else 0
            record = _Record(status, at, runs, last_error, eta, at if run is None else run.started)
            newer = self._written_newer.pop(message_id, None)
            if newer is not None:
                if any(other.message_id == message_id for other in self._started.values()):
                    self._written_newer[message_id] = newer  # other older runs of the message are still under way
                if record.run_started < newer.run_started:
                    # A newer run's record is written already: this one counts its attempt, and writes the
                    # newer run's status again rather than taking it back.
                    record = replace(newer, runs=runs)
            self._fold(message_id, record)

    def _statements(self, dialect: sa.Dialect) -> tuple[PreparedUpdate | None, PreparedUpdate | None]:
        prepared = self._prepared
        if prepared is None or prepared[0] is not dialect:
            prepared = self._prepared = (
                dialect,
                PreparedUpdate.for_dialect(UPDATE_KEEPING_ERROR, _KEEPING_NAMES, dialect),
                PreparedUpdate.for_dialect(UPDATE_WITH_ERROR, _WITH_ERROR_NAMES, dialect),
            )
        return prepared[1], prepared[2]

    def flush(self) -> None:
        """Write the waiting records, and the runs under way as ``running``, now, in one transaction."""
        with self._lock:
            for run in self._started.values():
                if not run.counted:  # under way since before this write: written running, its attempt counted
                    run.counted = True
                    self._fold(run.message_id, _Record(RUNNING, run.started, 1, _KEEP, None, run.started))
            waiting, self._waiting = self._waiting, {}
            # A message's record written while an older run of it is still under way (a retry that overtook it):
            # kept until that run ends, so that its late record does not take back the newer status.
            oldest_under_way: dict[str, float] = {}
            for run in self._started.values():
                oldest_under_way[run.message_id] = min(run.started, oldest_under_way.get(run.message_id, run.started))
            for message_id, started in oldest_under_way.items():
                record = waiting.get(message_id)
                if record is not None and started < record.run_started:
                    self._written_newer[message_id] = replace(record, runs=0)
        if not waiting:
            return
        keeping: list[dict[str, t.Any]] = []
        with_error: list[dict[str, t.Any]] = []
        utc = dt.UTC
        from_timestamp = dt.datetime.fromtimestamp
        for message_id, record in waiting.items():
            values = {
                "b_message_id": message_id,
                "b_status": record.status,
                "b_updated_at": from_timestamp(record.updated_at, utc),
                "b_runs": record.runs,
            }
            if record.last_error is _KEEP:  # never a failure, so never a next try's eta
                keeping.append(values)
            else:
                values["b_last_error"] = record.last_error
                values["b_eta"] = None if record.eta is None else from_timestamp(record.eta, utc)
                with_error.append(values)
        try:
            with self.engine.begin() as connection:
                prepared_keeping, prepared_with_error = self._statements(connection.dialect)
                for records, prepared, statement in (
                    (keeping, prepared_keeping, UPDATE_KEEPING_ERROR),
                    (with_error, prepared_with_error, UPDATE_WITH_ERROR),
                ):
                    if not records:
                        continue
                    if prepared is None:
                        connection.execute(statement, records)
                    else:
                        connection.exec_driver_sql(prepared.sql, prepared.rows(records))
        except Exception as exc:  # the database is away: keep them for the next flush
            logger.warning("erlen-tasks: could not record %d job run(s) yet: %s", len(waiting), exc)
            with self._lock:
                for message_id, record in self._waiting.items():  # made meanwhile: fold them onto the older
                    older = waiting.get(message_id)
                    if older is None:
                        waiting[message_id] = record
                    else:
                        older.absorb(record)
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
        self._started_run(message)

    def after_enqueue(self, broker: dramatiq.Broker, message: t.Any, delay: int | None) -> None:
        # Retries sends a failed message back with a delay (its backoff), before this middleware's
        # after_process_message records the failure: the row's eta becomes the next try's time, not the first
        # enqueue's. The relay and the hand-off send without a delay (a job's own eta is awaited in the outbox).
        if delay is None or "retries" not in message.options:  # not a retry (Retries counts them first)
            return
        eta = message.options.get("eta")  # Redis's and RabbitMQ's brokers set it, in milliseconds
        at = eta / 1000 if isinstance(eta, int | float) else time.time() + delay / 1000
        with self._lock:
            self._retries[message_of(message).message_id] = at

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
            self._ended(message, DONE, None)
            return
        error = summarize_traceback(message.options.get("traceback")) or summarize_exception(exception)
        self._ended(message, DEAD if message.failed else FAILED, error)

    def after_skip_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self._ended(message, DEAD if message.failed else DONE)

    def after_nack(self, broker: dramatiq.Broker, message: t.Any) -> None:
        # A job this worker's plugins do not declare (a worker older than the code that enqueued it, or a job
        # renamed): Dramatiq's consumer moves it to the dead-letter queue without a run, so no other hook sees
        # it. Recorded dead with its error, not left "relayed" forever: `erlen tasks retry` queues it again
        # once a worker knows the job. A job nacked after a run was recorded by after_process_message.
        exception = getattr(message, "_exception", None)
        if isinstance(exception, ActorNotFound):
            self._ended(message, DEAD, unknown_job_error(message_of(message).actor_name))


__all__ = ["FLUSH_SECONDS", "PreparedUpdate", "Tracking", "message_of"]

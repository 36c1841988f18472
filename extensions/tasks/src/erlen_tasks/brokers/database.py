"""A Dramatiq broker whose queue is erlen-tasks' own table: the embedded default, with no server.

Dramatiq's worker, middleware (retries with backoff, time limits) and
actors run unchanged; only where messages wait differs. A committed row of
``tasks_jobs`` *is* the queued message, so the transactional outbox needs no
relay here. A worker claims one due row at a time (``running``, with a lease,
``claimed_until``, renewed by a heartbeat while the worker lives), in the
order of priority, then time; the claim's ``UPDATE`` re-checks that the row
is still free, so two workers never take one row. It acknowledges the row
(``done``) only after the job returned: a worker that dies mid-job leaves the
row ``running`` until its lease runs out, and another worker runs it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import typing as t
import uuid
from collections.abc import Callable, Iterable

import dramatiq
import sqlalchemy as sa
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.errors import ActorNotFound, ConnectionFailed, QueueNotFound

from ..failures import summarize_exception, summarize_traceback
from ..models import DEAD, DONE, FAILED, PENDING, RUNNING, JobRecord, utcnow
from ..stored_messages import UnreadableMessage, decode_stored, log_dead
from .outage import BrokerUnreachable, WatchedBroker

if t.TYPE_CHECKING:
    from dramatiq.middleware import Middleware

logger = logging.getLogger("erlen_tasks")

TABLE: sa.Table = t.cast(sa.Table, JobRecord.__table__)

#: The heartbeat renews the leases this many times per lease.
RENEWALS_PER_LEASE = 5

Clock = Callable[[], dt.datetime]


def claimable(now: t.Any) -> sa.ColumnElement[bool]:
    """The rows a worker may claim at ``now``: due and free, or running under a lease that ran out."""
    return sa.or_(
        sa.and_(TABLE.c.status.in_((PENDING, FAILED)), TABLE.c.eta <= now),
        sa.and_(TABLE.c.status == RUNNING, TABLE.c.claimed_until < now),
    )


def unknown_job_error(name: str) -> str:
    """The ``last_error`` of a job that no plugin of the worker declares (Dramatiq's ``ActorNotFound``).

    :param name: the job's name.
    """
    return f"ActorNotFound: no enabled plugin of this worker declares the job {name!r}."


def unreachable(exc: sa.exc.SQLAlchemyError) -> ConnectionFailed:
    """Dramatiq's connection error for a database error met by a consumer.

    Dramatiq's worker retries an acknowledgement that fails with it until it succeeds (any other error
    leaves the message unsettled for good), and restarts the consumer with a line in the log rather
    than a traceback.

    :param exc: the error.
    """
    return ConnectionFailed(f"the jobs' database could not be reached: {exc}")  # type: ignore[no-untyped-call]


class Claims:
    """One queue's claims in one broker: the token its rows are claimed under, and the message ids held.

    Shared by every consumer of the queue that the broker makes: Dramatiq's worker closes its consumer
    after an error (the database away for a moment) and makes another, while the jobs the first one
    claimed still run. The new consumer acknowledges them under the same token, and the heartbeat renews
    their leases meanwhile; with a token per consumer, their acknowledgements matched no row and their
    leases ran out, and another worker ran the jobs again.
    """

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        #: Message ids claimed and not yet settled.
        self.held: set[str] = set()
        self.lock = threading.Lock()


class DatabaseBroker(dramatiq.Broker):
    """A Dramatiq broker on the app's database (the ``tasks_jobs`` table).

    :param engine: the app's engine.
    :param lease: how long a claim lasts without renewal, in seconds.
    :param poll: how long a consumer waits when no job is due, in seconds.
    :param middleware: Dramatiq middleware (see :class:`dramatiq.Broker`).
    :param clock: returns the current time (timezone-aware UTC).
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        lease: float = 30.0,
        poll: float = 1.0,
        middleware: list[Middleware] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(middleware=middleware)
        self.engine = engine
        self.lease = dt.timedelta(seconds=lease)
        self.poll = poll
        self.clock = clock
        self.queues: dict[str, None] = {}
        self._claims: dict[str, Claims] = {}
        self._consumers: set[DatabaseConsumer] = set()
        self._consumers_lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def answered(self) -> None:
        """The database answered a consumer's claim or settlement (nothing here; :class:`WatchedDatabaseBroker`
        tells its watch: only such a call ends an outage)."""

    # Queues

    def declare_queue(self, queue_name: str) -> None:
        """Declare a queue (a value of the ``queue`` column); delayed runs wait in the table too."""
        if queue_name in self.queues:
            return
        self.emit_before("declare_queue", queue_name)
        self.queues[queue_name] = None
        self.emit_after("declare_queue", queue_name)

    def enqueue(self, message: dramatiq.Message[t.Any], *, delay: int | None = None) -> dramatiq.Message[t.Any]:
        """Store ``message`` (a retry, at ``delay`` ms from now) as its row, committed at once.

        The row of a message already in the table (a retry) is updated:
        ``failed`` until its next try. Jobs enqueued by erlen-tasks do not come
        here: :func:`erlen_tasks.enqueue` adds their rows in the caller's
        transaction.
        """
        if message.queue_name not in self.queues:
            raise QueueNotFound(message.queue_name)  # type: ignore[no-untyped-call]
        self.emit_before("enqueue", message, delay)
        now = self.clock()
        eta = now + dt.timedelta(milliseconds=delay or 0)
        encoded = message.encode().decode()
        error = summarize_traceback(message.options.get("traceback")) if delay is not None else None
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.update(TABLE)
                .where(TABLE.c.message_id == message.message_id)
                .values(
                    status=FAILED if delay is not None else PENDING,
                    eta=eta,
                    message=encoded,
                    last_error=error,
                    claim_token=None,
                    claimed_until=None,
                    updated_at=now,
                )
            )
            if not result.rowcount:
                actor = self.actors.get(message.actor_name)
                connection.execute(
                    sa.insert(TABLE).values(
                        message_id=message.message_id,
                        job=message.actor_name,
                        queue=message.queue_name,
                        priority=actor.priority if actor is not None else 0,
                        status=PENDING,
                        eta=eta,
                        message=encoded,
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        self.emit_after("enqueue", message, delay)
        return message

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        """A consumer claiming the due rows of ``queue_name``, at most ``prefetch`` held at once."""
        if queue_name not in self.queues:
            raise QueueNotFound(queue_name)  # type: ignore[no-untyped-call]
        with self._consumers_lock:
            claims = self._claims.get(queue_name)
            if claims is None:
                claims = self._claims[queue_name] = Claims()
            consumer = DatabaseConsumer(self, queue_name, prefetch, timeout, claims)
            self._consumers.add(consumer)
            if self._heartbeat is None:
                self._stop.clear()
                self._heartbeat = threading.Thread(target=self._beat, name="erlen-tasks-lease", daemon=True)
                self._heartbeat.start()
        return consumer

    def forget(self, consumer: DatabaseConsumer) -> None:
        """``consumer`` was closed (the leases of its queue's held rows are renewed until they are settled)."""
        with self._consumers_lock:
            self._consumers.discard(consumer)

    def _beat(self) -> None:
        interval = self.lease.total_seconds() / RENEWALS_PER_LEASE
        while not self._stop.wait(interval):
            with self._consumers_lock:
                # Every queue's held rows, those of closed consumers too: their jobs may still be running.
                tokens = [claims.token for claims in self._claims.values() if claims.held]
            if not tokens:
                continue
            try:
                self.renew_leases(tokens)
            except BrokerUnreachable:
                continue  # a watched broker's: its watch logged the outage once, and logs its end
            except Exception as exc:  # never let the thread die: the next beat tries again
                logger.warning("erlen-tasks: could not renew the leases of running jobs: %s", exc)

    def renew_leases(self, tokens: list[str]) -> None:
        """Extend the leases of the running rows held under ``tokens`` (the claims of this worker's queues).

        :param tokens: the claim tokens of the queues with held rows.
        """
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(TABLE)
                .where(TABLE.c.claim_token.in_(tokens), TABLE.c.status == RUNNING)
                .values(claimed_until=self.clock() + self.lease)
            )
        self.answered()

    def close(self) -> None:
        """Stop the heartbeat (the engine belongs to the app)."""
        self._stop.set()
        thread, self._heartbeat = self._heartbeat, None
        if thread is not None:
            thread.join(timeout=5.0)

    def flush(self, queue_name: str) -> None:
        """Delete the rows of ``queue_name`` that wait to run."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.delete(TABLE).where(TABLE.c.queue == queue_name, TABLE.c.status.in_((PENDING, FAILED)))
            )

    def flush_all(self) -> None:
        """Delete the rows of every declared queue that wait to run."""
        for queue_name in self.queues:
            self.flush(queue_name)

    def join(self, queue_name: str, *, timeout: int | None = None) -> None:
        """Wait until no row of ``queue_name`` waits or runs (for tests).

        :param timeout: the longest wait, in milliseconds (``None``: 60 s).
        :raises TimeoutError: rows remain after it.
        """
        import time

        deadline = time.monotonic() + (timeout if timeout is not None else 60000) / 1000
        while True:
            with self.engine.connect() as connection:
                left = connection.execute(
                    sa.select(sa.func.count())
                    .select_from(TABLE)
                    .where(TABLE.c.queue == queue_name, TABLE.c.status.in_((PENDING, FAILED, RUNNING)))
                ).scalar_one()
            if not left:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{left} job(s) of the queue {queue_name!r} are still waiting or running.")
            time.sleep(0.05)


class DatabaseConsumer(Consumer):
    """Claims the due rows of one queue for a worker; see :class:`DatabaseBroker`."""

    def __init__(self, broker: DatabaseBroker, queue_name: str, prefetch: int, timeout: int, claims: Claims) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.prefetch = max(1, prefetch)
        self.timeout = timeout / 1000
        self.claims = claims
        #: The claim token of the queue's rows (see :class:`Claims`).
        self.token = claims.token
        #: Message ids claimed and not yet acknowledged, by this consumer or an earlier one of its queue.
        self.held = claims.held
        self._lock = claims.lock
        self._closed = threading.Event()

    def __next__(self) -> MessageProxy | None:
        with self._lock:
            full = len(self.held) >= self.prefetch
        if full:  # every slot taken: come back soon (acknowledgements free them)
            self._closed.wait(min(0.05, self.timeout))
            return None
        message = self._claim()
        if message is None:
            self._closed.wait(min(self.broker.poll, self.timeout))
            return None
        return MessageProxy(message)

    def _claim(self) -> dramatiq.Message[t.Any] | None:
        try:
            message = self._claim_one()
        except sa.exc.OperationalError as exc:
            raise unreachable(exc) from exc
        self.broker.answered()
        return message

    def _claim_one(self) -> dramatiq.Message[t.Any] | None:
        broker = self.broker
        now = broker.clock()
        # The read and each claim are transactions of their own: on SQLite, a transaction that reads and
        # then writes fails at once ("database is locked") when another writer committed in between.
        with broker.engine.connect() as connection:
            candidates = list(
                connection.execute(
                    sa.select(TABLE.c.id)
                    .where(TABLE.c.queue == self.queue_name, claimable(now))
                    .order_by(TABLE.c.priority, TABLE.c.eta, TABLE.c.id)
                    .limit(5)
                ).scalars()
            )
        for row_id in candidates:
            with broker.engine.begin() as connection:
                # The condition again: another worker may have claimed it since the SELECT.
                claimed = connection.execute(
                    sa.update(TABLE)
                    .where(
                        TABLE.c.id == row_id,
                        claimable(now),
                        # Never a row this worker still holds, its lease run out while the database was away
                        # (the heartbeat renews it once the database is back): its job is running here.
                        sa.or_(TABLE.c.claim_token.is_(None), TABLE.c.claim_token != self.token),
                    )
                    .values(
                        status=RUNNING,
                        claim_token=self.token,
                        claimed_until=now + broker.lease,
                        attempts=TABLE.c.attempts + 1,
                        updated_at=now,
                    )
                )
                if not claimed.rowcount:
                    continue
                data = connection.execute(sa.select(TABLE.c.message).where(TABLE.c.id == row_id)).scalar_one()
            try:
                message = decode_stored(row_id, data)
            except UnreadableMessage as exc:
                # Left running, it would be claimed again after every lease, forever.
                self._bury(exc)
                continue
            with self._lock:
                self.held.add(message.message_id)
            return message
        return None

    def _bury(self, error: UnreadableMessage) -> None:
        """Make the claimed row of ``error``, whose stored message cannot be decoded, ``dead`` with the reason.

        :param error: the row's error.
        """
        with self.broker.engine.begin() as connection:
            connection.execute(
                sa.update(TABLE)
                .where(TABLE.c.id == error.row_id, TABLE.c.claim_token == self.token)
                .values(status=DEAD, claim_token=None, claimed_until=None, last_error=error.reason, updated_at=utcnow())
            )
        log_dead(error, self.queue_name)

    def _settle(self, message: MessageProxy, **values: t.Any) -> None:
        try:
            self._settle_row(message, **values)
        except sa.exc.OperationalError as exc:
            # Dramatiq retries the acknowledgement until the database is back; meanwhile the row stays held,
            # its lease renewed, and no other worker runs the job again.
            raise unreachable(exc) from exc
        self.broker.answered()
        with self._lock:
            self.held.discard(message.message_id)

    def _settle_row(self, message: MessageProxy, **values: t.Any) -> None:
        with self.broker.engine.begin() as connection:
            connection.execute(
                sa.update(TABLE)
                .where(
                    TABLE.c.message_id == message.message_id,
                    TABLE.c.claim_token == self.token,
                    TABLE.c.status == RUNNING,
                )
                .values(claim_token=None, claimed_until=None, updated_at=self.broker.clock(), **values)
            )

    def ack(self, message: MessageProxy) -> None:
        """The job ran (or was retried: its row is no longer ``running`` under this claim): ``done``."""
        self._settle(message, status=DONE, last_error=None)

    def nack(self, message: MessageProxy) -> None:
        """The job failed on its last try: ``dead``."""
        error = summarize_traceback(message.options.get("traceback"))
        if isinstance(message._exception, ActorNotFound):  # never run: see Tracking.after_nack
            error = unknown_job_error(message.actor_name)
        elif error is None and message._exception is not None:
            error = summarize_exception(message._exception)
        self._settle(message, status=DEAD, last_error=error)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        """Give back claimed jobs that did not start (the worker stops), their try uncounted."""
        for message in messages:
            self._settle(message, status=PENDING, attempts=TABLE.c.attempts - 1)

    def close(self) -> None:
        """Stop waiting; the leases of rows still held run out unless the worker settles them."""
        self._closed.set()
        self.broker.forget(self)


class WatchedDatabaseBroker(WatchedBroker, DatabaseBroker):
    """The database broker of a worker, whose consumers' outages are logged once each (see
    :class:`~erlen_tasks.brokers.outage.BrokerWatch`): Dramatiq logged a ``CRITICAL`` line per queue and per
    consumer restart (every 3 s) while the database was away."""

    def enqueue(self, message: dramatiq.Message[t.Any], *, delay: int | None = None) -> dramatiq.Message[t.Any]:
        # Not through the watch: a retry's enqueue fails inside Dramatiq's middleware, with the database's error.
        return DatabaseBroker.enqueue(self, message, delay=delay)

    def renew_leases(self, tokens: list[str]) -> None:
        # Through the watch: during an outage, a WARNING with the SQL statement and its parameters at every beat
        # (five a lease) while a job ran; now the outage's one line, and BrokerUnreachable, which the beat skips.
        self.watched(lambda: DatabaseBroker.renew_leases(self, tokens))


__all__ = [
    "Claims",
    "DatabaseBroker",
    "DatabaseConsumer",
    "WatchedDatabaseBroker",
    "claimable",
    "unknown_job_error",
]

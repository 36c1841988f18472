"""The outbox worker: claims due messages, hands them to the backend in groups, records the outcomes.

Each row goes through these steps:

1. *claim*: a batch (``MAIL_OUTBOX_BATCH_SIZE``) of due ``pending`` rows
   gets the batch's ``claim_token`` and a lease (``claimed_until``,
   ``MAIL_OUTBOX_LEASE_SECONDS`` ahead), in one statement returning the
   rows (committed with the recovery of stale rows, below); on PostgreSQL
   with ``FOR UPDATE SKIP LOCKED``, and everywhere with the condition
   re-checked by the ``UPDATE``, so two workers never claim one row. While
   the batch lasts, a heartbeat thread renews the lease of the rows it still
   holds (:mod:`.lease`). A row whose lease ran out (its worker
   died) can be claimed again: it was never handed over.
2. *sending*: the batch is delivered in groups: the first message alone,
   then each group twice the one before, up to ``MAIL_OUTBOX_GROUP_SIZE``
   (10 by default): 1, 2, 4, 8, 10, 10, … (:meth:`OutboxWorker.group_sizes`);
   after a full batch delivered whole (a deep queue), the next batch's
   groups go on from where the ramp was (10, 10, …) rather than from 1.
   Before the server can accept any message of a group, the
   whole group becomes ``sending`` (its attempt counted) in one committed
   ``UPDATE``. The commit runs on the marks' writer (:mod:`.marks`) while the
   group's first message goes out (``MAIL FROM``, ``RCPT TO``, ``DATA``, the
   body); the final ``.`` waits for it
   (:meth:`~erlen_mail.Backend.send_raw_staged`).
3. The group's messages are handed to the server one after the other, over
   the worker's connection (kept from one batch to the next while there is
   work).
4. *outcome*: the group's outcomes are committed together, in the
   ``UPDATE`` that marks the next group ``sending`` (or, after the batch's
   last group, with the release of the rows not handed over): ``sent`` for each message the server accepted
   (``250`` after ``DATA``); each failure as its kind says: retried later
   (``pending``: a failure before the whole message was sent, so nothing
   was delivered), ``failed`` (a permanent refusal, or the last attempt), or
   ``uncertain`` (the connection broke after the whole message was written,
   before the server answered). A message's outcome never depends on its
   group-mates'. Messages of the group not handed over because a stop was
   requested go back to ``pending``, their attempt uncounted; when the server
   cannot be reached, they and the rest of the batch are retried later.

So once sending has begun, one group at a time is *open*: ``sending`` from
the commit that marks it to the commit that records it. A crash (kill, power
loss, lost database connection) leaves the open group's rows ``sending``;
once their lease has run out, the next batch of any worker moves them to
``uncertain`` (or back to ``pending`` with ``MAIL_OUTBOX_RESEND_UNCERTAIN``):
the server may have accepted any of them, so none is sent again unless an
operator says so (``erlen mail retry``); ``erlen mail discard`` settles them
without sending.

The trade-off of the group size: one crash leaves at most one group
uncertain, that is at most ``MAIL_OUTBOX_GROUP_SIZE`` messages (10 by
default): those of the open group the server accepted (their ``250`` read,
not yet recorded), the one it was handing over, and those of the group not
handed over yet (the server never saw them). None is sent twice
automatically; an operator settles them (``erlen mail outbox --status
uncertain --message-ids``, then for each, by its ``Message-ID`` in the relay's
log, ``erlen mail retry ID`` or ``erlen mail discard ID``). As the groups of a
batch start at 1 and double, a worker that finds one or two messages due (a
shallow queue, the usual traffic) sends them one commit each, and a crash
then leaves at most that one uncertain; only a deep queue (a batch of more
than 15 messages, or the batches after a full one) reaches groups of the
full size. One commit per
group rather than two per message, overlapped with the SMTP exchange and not
waiting for the disk (the marks need only outlive the worker, see
:mod:`.marks`), is what lets the worker keep up with sending directly:
with groups of 1 each message costs a commit, its statement's work in
SQLAlchemy and the driver, and a hand-off to the writer's thread that
competes with the SMTP exchange for the interpreter, about as much again as
the exchange itself (``python bench/run.py --only mail``: worker/direct about
0.5-0.6 with ``MAIL_OUTBOX_GROUP_SIZE = 1``, above 0.8 with the default).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import functools
import json
import logging
import smtplib
import threading
import typing as t
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..errors import MessageError
from ..state import state_of
from .marks import MarkWriter
from .models import FAILED, PENDING, SENDING, SENT, UNCERTAIN, OutboxMessage, aware

if t.TYPE_CHECKING:
    from flask import Flask

    from ..backends.base import Backend

logger = logging.getLogger("erlen_mail")

Clock = Callable[[], dt.datetime]

TABLE: sa.Table = t.cast(sa.Table, OutboxMessage.__table__)


@functools.lru_cache(maxsize=256)
def mark_statement(marking: int, recording: int) -> sa.Update:
    """The ``UPDATE`` marking a group ``sending`` and the group before ``sent``, for groups of these sizes.

    Parameters: ``token`` (the batch's), ``marked0``… (the group's ids: ``sending``,
    attempt counted, lease until ``until``), ``sent0``… (ids the server accepted:
    ``sent`` at ``now``, claim ended). Only rows the batch holds change, and only
    ``pending`` ones are marked.

    One statement per shape, each id a bound parameter of its own rather than an
    expanding ``IN``: its SQL is compiled once and found in SQLAlchemy's cache
    as it is, where an expanding parameter is rendered again at each execution
    (a third of the statement's cost, on a path run once per message). Shapes are
    few: both sizes are at most ``MAIL_OUTBOX_GROUP_SIZE``.

    :param marking: how many rows the group marks ``sending`` (none: the statement
        only records the batch's last group).
    :param recording: how many rows of the group before it marks ``sent`` (maybe none).
    """
    if not (marking or recording):
        raise ValueError("A mark marks or records at least one row.")
    marked_ids = [sa.bindparam(f"marked{index}", type_=TABLE.c.id.type) for index in range(marking)]
    sent_ids = [sa.bindparam(f"sent{index}", type_=TABLE.c.id.type) for index in range(recording)]
    marked = TABLE.c.id.in_(marked_ids)

    def either(mark: t.Any, record: t.Any) -> t.Any:
        if not recording:
            return mark
        return sa.case((marked, mark), else_=record) if marking else record

    holds = sa.and_(marked, TABLE.c.status == PENDING)
    recorded = TABLE.c.id.in_(sent_ids)
    statement = (
        sa.update(TABLE)
        .where(
            TABLE.c.claim_token == sa.bindparam("token"),
            (sa.or_(holds, recorded) if recording else holds) if marking else recorded,
        )
        .values(
            status=either(SENDING, SENT),
            attempts=either(TABLE.c.attempts + 1, TABLE.c.attempts),
            claimed_until=either(sa.bindparam("until", type_=TABLE.c.claimed_until.type), None),
            claim_token=either(TABLE.c.claim_token, None),
            sent_at=either(TABLE.c.sent_at, sa.bindparam("now", type_=TABLE.c.sent_at.type)),
            last_error=either(TABLE.c.last_error, None),
        )
    )
    return statement


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying cannot help: the server refused with a 5xx code, or the message is invalid."""
    if isinstance(exc, MessageError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(500 <= code < 600 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


@dataclass
class BatchResult:
    """What one batch did; ``errors`` lists each failure as ``(row id, outcome, reason)``."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    uncertain: int = 0
    #: Rows whose claim was lost to another worker (their lease ran out), or given back on stop.
    released: int = 0
    #: Stale ``sending`` rows of a dead worker moved to ``uncertain`` (or ``pending``).
    recovered: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (id, outcome, reason)

    def summary(self) -> str:
        return f"{self.sent} sent, {self.retrying} retrying, {self.failed} failed, {self.uncertain} uncertain" + (
            f", {self.released} released" if self.released else ""
        )


class ClaimLost(Exception):
    """A row's claim was lost before its message's end was handed over: another worker took it over.

    Raised by the worker's ``before_end`` callback (see
    :meth:`~erlen_mail.Backend.send_raw_staged`), so the message is not delivered.
    """


@dataclass
class GroupRecord:
    """The outcomes of one group of messages, written in one transaction once the group was handed over."""

    #: Rows the server accepted with nothing to note: one ``UPDATE`` marks them all ``sent``.
    sent: list[int] = field(default_factory=list)
    #: Every row the server accepted (those above, and those sent with a note in ``updates``).
    accepted: list[int] = field(default_factory=list)
    #: Every other outcome, one ``UPDATE`` each: ``(row id, extra conditions, values)``.
    updates: list[tuple[int, tuple[t.Any, ...], dict[str, t.Any]]] = field(default_factory=list)

    def update(self, row_id: int, *conditions: t.Any, **values: t.Any) -> None:
        """Record ``values`` for the row ``row_id``, written only where ``conditions`` hold then."""
        self.updates.append((row_id, conditions, values))


@dataclass
class Marking:
    """The commit that marks a group ``sending`` and records the group before, running on the writer."""

    #: The group's rows, claimed by the batch.
    group: t.Sequence[sa.Row[t.Any]]
    #: The ids the commit marked (the rows the batch still held), once it is done.
    future: concurrent.futures.Future[set[int]]
    #: The outcomes of the group before, committed with the mark.
    recorded: GroupRecord
    #: ``future``'s result, once a message of the group waited for it.
    held: set[int] | None = None


class OutboxWorker:
    """Delivers the app's queued messages; ``erlen mail worker`` runs one.

    :param app: the app (with ``db`` and ``mail`` enabled).
    :param batch_size: rows claimed per batch; ``MAIL_OUTBOX_BATCH_SIZE`` by default.
    :param group_size: the most rows marked ``sending`` together, and recorded together
        (the groups of a batch grow 1, 2, 4, … up to it, and go on growing after a full batch);
        ``MAIL_OUTBOX_GROUP_SIZE`` by default.
    :param clock: returns the current time (timezone-aware UTC); tests pass
        their own to make retries due and leases run out without waiting.
    """

    def __init__(
        self,
        app: Flask,
        *,
        batch_size: int | None = None,
        group_size: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        import erlen_db
        from erlen_db import is_sqlite_memory

        config = app.config
        self.app = app
        self.engine = erlen_db.database_of(app).engine
        self.batch_size = int(batch_size or config.get("MAIL_OUTBOX_BATCH_SIZE", 100))
        self.group_size = int(group_size or config["MAIL_OUTBOX_GROUP_SIZE"])
        self.clock = clock or utcnow
        self.max_attempts = int(config.get("MAIL_OUTBOX_MAX_ATTEMPTS", 8))
        self.backoff = float(config.get("MAIL_OUTBOX_BACKOFF_SECONDS", 60.0))
        self.max_backoff = float(config.get("MAIL_OUTBOX_MAX_BACKOFF_SECONDS", 6 * 3600.0))
        self.lease = dt.timedelta(seconds=float(config["MAIL_OUTBOX_LEASE_SECONDS"]))
        self.resend_uncertain = bool(config.get("MAIL_OUTBOX_RESEND_UNCERTAIN", False))
        self.reconnect_after = int(config.get("MAIL_BULK_RECONNECT_AFTER", 100))
        # An in-memory SQLite database lives in one connection: no other worker can see it, and
        # the heartbeat's thread would get a database of its own (SQLAlchemy pools one per thread).
        self.keeps_lease = not is_sqlite_memory(self.engine.url)
        #: The token of the batch in progress.
        self.token: str | None = None
        #: Messages handed over the backend's current connection, for MAIL_BULK_RECONNECT_AFTER.
        self.handed = 0
        #: The size of the next batch's first group: 1, unless the batch before it was full and
        #: delivered whole (the queue is deep: the groups go on from where they were).
        self.first_group_size = 1
        # The heartbeat and this thread never write the batch's rows at the same time: on
        # PostgreSQL two such transactions could deadlock, on SQLite one would wait for the other.
        self._writing = threading.Lock()
        self.durable_marks = bool(config.get("MAIL_OUTBOX_DURABLE_MARKS", False))
        # Per thread: the connection a batch holds for its transactions (checked out, and pinged,
        # once); the marks' writer has its own, on its own thread.
        self._local = threading.local()
        #: The marks' writer :meth:`run` keeps from one batch to the next while there is work
        #: (``None``: each batch has one of its own).
        self._writer: MarkWriter | None = None
        self._keep_writer = False

    @property
    def _connection(self) -> sa.Connection | None:
        """The connection this thread's transactions use during a batch (``None``: a new one each)."""
        return t.cast("sa.Connection | None", getattr(self._local, "connection", None))

    @_connection.setter
    def _connection(self, connection: sa.Connection | None) -> None:
        self._local.connection = connection

    # Steps a test can intercept (subclass and raise) to simulate a crash.

    def checkpoint(self, step: str, row_id: int) -> None:
        """Called at each step of a row, to let tests stop the worker there.

        ``claimed``: before the commit that marks its group ``sending`` (and
        records the group before) is started; ``sending``: that commit is done
        and the message, all but its end, was handed over (for the ``smtp``
        backend: ``MAIL FROM``, ``RCPT TO``, ``DATA`` and the body, without the
        final ``.``): the end is next; ``accepted``: the server accepted it, its
        outcome is not committed yet; ``sent``: committed (with the next
        group's mark). Each is called on the worker's main thread.
        """

    # The database steps

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One committed transaction: on the batch's connection during a batch, else on a new one.

        Holds the lock that keeps the heartbeat from writing at the same time. Under the engine's
        ``AUTOCOMMIT`` isolation level (``DB_ENGINE_OPTIONS``) it begins nothing and each statement
        commits as it runs; the worker's writes need no more (as on the marks' writer, see
        :mod:`.marks`): each statement records the outcome of its own rows, so a crash between two of
        them leaves a state a crash between two commits leaves too.
        """
        with self._writing:
            if self._connection is None:
                with self.engine.begin() as connection:
                    yield connection
            else:
                with self._connection.begin():
                    yield self._connection

    def backoff_for(self, attempts: int) -> dt.timedelta:
        """The wait before the next attempt after ``attempts`` failed ones: doubling, capped."""
        seconds = min(self.backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)
        return dt.timedelta(seconds=seconds)

    def recover(self) -> int:
        """Move ``sending`` rows whose lease ran out (their worker died mid-group) to ``uncertain``.

        With ``MAIL_OUTBOX_RESEND_UNCERTAIN`` they go back to ``pending``
        instead, to be sent again with the same Message-ID.
        """
        with self.transaction() as connection:
            count = self._recover(connection)
        self._log_recovered(count)
        return count

    def _recover(self, connection: sa.Connection) -> int:
        now = self.clock()
        stale = sa.and_(TABLE.c.status == SENDING, TABLE.c.claimed_until < now)
        reason = (
            "The worker stopped while handing this message's group to the server (crash, kill or lost database "
            "connection before the outcome was recorded); the server may have accepted it."
        )
        values: dict[str, t.Any]
        if self.resend_uncertain:
            values = {"status": PENDING, "next_attempt_at": now, "claim_token": None, "claimed_until": None}
        else:
            values = {"status": UNCERTAIN, "claim_token": None, "claimed_until": None}
        result = connection.execute(sa.update(TABLE).where(stale).values(last_error=reason, **values))
        return int(result.rowcount or 0)

    def _log_recovered(self, count: int) -> None:
        if count:
            status = PENDING if self.resend_uncertain else UNCERTAIN
            logger.warning("Mail outbox: %d interrupted message(s) moved to %s", count, status)

    def claim(self) -> list[sa.Row[t.Any]]:
        """Claim up to ``batch_size`` due pending rows for a new batch token; returns them, oldest first."""
        with self.transaction() as connection:
            return self._claim(connection)

    def recover_and_claim(self) -> tuple[int, list[sa.Row[t.Any]]]:
        """:meth:`recover`, then :meth:`claim`, in one transaction: how many rows were recovered, and the batch.

        What each batch begins with: one commit instead of two.
        """
        with self.transaction() as connection:
            recovered = self._recover(connection)
            rows = self._claim(connection)
        self._log_recovered(recovered)
        return recovered, rows

    def _claim(self, connection: sa.Connection) -> list[sa.Row[t.Any]]:
        now = self.clock()
        self.token = uuid.uuid4().hex
        due = sa.and_(
            TABLE.c.status == PENDING,
            TABLE.c.next_attempt_at <= now,
            sa.or_(TABLE.c.claimed_until.is_(None), TABLE.c.claimed_until < now),
        )
        candidates = sa.select(TABLE.c.id).where(due).order_by(TABLE.c.next_attempt_at, TABLE.c.id)
        candidates = candidates.limit(self.batch_size)
        claim = sa.update(TABLE).values(claim_token=self.token, claimed_until=now + self.lease)
        if self.engine.dialect.name == "postgresql":
            # Lock the candidates, skipping rows other workers are claiming right now, then claim
            # exactly those: a MATERIALIZED CTE runs once (in UPDATE ... WHERE id IN (subquery), the
            # planner may run the subquery more than once and claim more than the limit).
            picked = candidates.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
            chosen: t.Any = sa.select(picked.c.id).scalar_subquery()
        else:
            # One statement: SQLite runs it under its write lock, so no other worker sees the rows free.
            chosen = candidates.scalar_subquery()
        claim = claim.where(TABLE.c.id.in_(chosen), due)
        if self.engine.dialect.update_returning:
            # The claimed rows come back with the claim (one statement); RETURNING has no order.
            rows = connection.execute(claim.returning(*TABLE.c)).all()
            return sorted(rows, key=lambda row: (aware(row.next_attempt_at), row.id))
        connection.execute(claim)  # SQLite before 3.35
        rows = connection.execute(
            sa.select(TABLE).where(TABLE.c.claim_token == self.token).order_by(TABLE.c.next_attempt_at, TABLE.c.id)
        ).all()
        return list(rows)

    def mark_sending(self, group: t.Sequence[sa.Row[t.Any]], *, after: GroupRecord | None = None) -> set[int]:
        """Mark the group's rows ``sending`` (attempt counted, lease renewed) in one transaction.

        The rows of ``after`` the server accepted are marked ``sent`` by the
        same ``UPDATE`` (one statement, one round trip in the common case).

        :param group: the rows, claimed by this batch.
        :param after: the previous group's outcomes, written in the same transaction: one
            commit (one disk sync) per group.
        :returns: the ids of the rows marked: those whose claim this batch still holds.
        """
        ids = [row.id for row in group]
        sent = after.sent if after is not None else []
        now = self.clock()
        parameters: dict[str, t.Any] = {"token": self.token, "until": now + self.lease}
        parameters.update((f"marked{index}", row_id) for index, row_id in enumerate(ids))
        if sent:
            parameters["now"] = now
            parameters.update((f"sent{index}", row_id) for index, row_id in enumerate(sent))
        with self.transaction() as connection:
            if after is not None:
                self._write_updates(connection, after)
            result = connection.execute(mark_statement(len(ids), len(sent)), parameters)
            if self.engine.dialect.supports_sane_rowcount and result.rowcount == len(ids) + len(sent):
                # Every row matched: the batch still holds the whole group (and the group before).
                # Returning the rows instead would cost as much again as the UPDATE, on every group.
                return set(ids)
            # Some row was taken over by another worker (its lease ran out): which ones does it still hold?
            held = sa.select(TABLE.c.id).where(
                TABLE.c.id.in_(ids), TABLE.c.claim_token == self.token, TABLE.c.status == SENDING
            )
            return set(connection.scalars(held))

    def finish(self, outcomes: GroupRecord) -> int:
        """Write the batch's last group's outcomes and give back the rows not handed over, in one transaction.

        :returns: how many rows were given back (see :meth:`release`).
        """
        with self.transaction() as connection:
            self._write(connection, outcomes)
            return self._release(connection)

    def _write(self, connection: sa.Connection, outcomes: GroupRecord) -> None:
        if outcomes.sent:
            parameters: dict[str, t.Any] = {"token": self.token, "now": self.clock()}
            parameters.update((f"sent{index}", row_id) for index, row_id in enumerate(outcomes.sent))
            connection.execute(mark_statement(0, len(outcomes.sent)), parameters)
        self._write_updates(connection, outcomes)

    def _write_updates(self, connection: sa.Connection, outcomes: GroupRecord) -> None:
        """Write the outcomes other than plain ``sent``, one ``UPDATE`` each."""
        if not outcomes.updates:
            return  # the usual case: built for nothing, the condition below would cost more than the mark
        held = TABLE.c.claim_token == self.token
        for row_id, conditions, values in outcomes.updates:
            connection.execute(sa.update(TABLE).where(TABLE.c.id == row_id, held, *conditions).values(**values))

    def release(self) -> int:
        """Give back this batch's claimed rows that were not handed over yet."""
        if self.token is None:
            return 0
        with self.transaction() as connection:
            return self._release(connection)

    def _release(self, connection: sa.Connection) -> int:
        result = connection.execute(
            sa.update(TABLE)
            .where(TABLE.c.claim_token == self.token, TABLE.c.status == PENDING)
            .values(claim_token=None, claimed_until=None)
        )
        return int(result.rowcount or 0)

    def _retry_or_fail(
        self, outcomes: GroupRecord, row: sa.Row[t.Any], attempts: int, reason: str, result: BatchResult
    ) -> None:
        if attempts >= self.max_attempts:
            outcomes.update(
                row.id,
                status=FAILED,
                attempts=attempts,
                last_error=f"Gave up after {attempts} attempt(s): {reason}",
                claim_token=None,
                claimed_until=None,
            )
            result.failed += 1
            result.errors.append((row.id, FAILED, reason))
        else:
            outcomes.update(
                row.id,
                status=PENDING,
                attempts=attempts,
                last_error=reason,
                next_attempt_at=self.clock() + self.backoff_for(attempts),
                claim_token=None,
                claimed_until=None,
            )
            result.retrying += 1
            result.errors.append((row.id, "retrying", reason))

    # Delivery

    def run_batch(self, stop: threading.Event | None = None, *, backend: Backend | None = None) -> BatchResult:
        """Recover stale rows, claim a batch and deliver it, group by group, over one backend connection.

        Stops early once ``stop`` is set: the message being handed over is
        finished and recorded, the rest of the batch given back.

        :param stop: set it to stop after the current message.
        :param backend: the backend to send with, left open for the next batch;
            by default one of the batch's own, closed at its end.
        """
        with self.engine.connect() as connection:
            self._connection = connection
            try:
                return self._run_batch(stop, backend)
            finally:
                self._connection = None

    def _run_batch(self, stop: threading.Event | None, backend: Backend | None) -> BatchResult:
        recovered, rows = self.recover_and_claim()
        result = BatchResult(recovered=recovered, claimed=len(rows))
        if not rows:
            self.token = None
            return result
        own_backend = backend is None
        if backend is None:
            backend = state_of(self.app).make_backend()
            self.handed = 0
        released: int | None = None
        failure: BaseException | None = None
        try:
            with self._heartbeat():
                released = self._deliver(backend, rows, result, stop)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if own_backend:
                backend.close()
            try:
                # Given back with the last group's outcomes, unless the delivery stopped on an error.
                result.released += self.release() if released is None else released
            except sa.exc.DBAPIError as exc:  # the database went away: the claims run out by themselves
                # When the batch failed on the database too, run() logs that outage (once): not again here.
                level = logging.DEBUG if isinstance(failure, sa.exc.DBAPIError) else logging.ERROR
                logger.log(level, "Mail outbox: could not release the batch's claims: %s", _describe(exc))
            self.token = None
        return result

    def _heartbeat(self) -> t.ContextManager[object]:
        from .lease import Heartbeat

        if not self.keeps_lease or self.token is None:
            return contextlib.nullcontext()
        return Heartbeat(self.engine, self.token, self.lease, self.clock, lock=self._writing)

    def _deliver(
        self, backend: Backend, rows: t.Sequence[sa.Row[t.Any]], result: BatchResult, stop: threading.Event | None
    ) -> int:
        """Deliver a batch's rows group by group: one commit marks a group and records the one before.

        That commit runs on the marks' writer while the group's first message
        goes out; the message's end waits for it. The last group's outcomes
        are committed with the release of the rows not handed over (if any).

        :returns: how many rows were released (see :meth:`release`).
        """
        previous = GroupRecord()
        sizes = self.group_sizes(len(rows), start=self.first_group_size)
        self.first_group_size = 1  # unless the whole of a full batch is handed over, below
        with self._batch_writer() as writer:
            start = 0
            for size in sizes:
                if stop is not None and stop.is_set():
                    break
                group, later = rows[start : start + size], rows[start + size :]
                start += size
                for row in group:
                    self.checkpoint("claimed", row.id)
                marking = Marking(group, writer.submit(self.mark_sending, group, after=previous), previous)
                previous = GroupRecord()
                go_on = self._hand_over(backend, marking, later, previous, result, stop)
                self._marked(marking, result)
                if not go_on:
                    break
            else:
                if len(rows) >= self.batch_size:
                    # A full batch: more is probably due. The next batch's groups go on growing from
                    # here rather than from 1 again (a deep queue is sent in full groups).
                    self.first_group_size = min(max(sizes) * 2, self.group_size)
            released = writer.submit(self.finish, previous).result()
        self._recorded(previous)
        return released

    def _new_writer(self) -> MarkWriter:
        return MarkWriter(
            self.engine,
            self._local,
            # Overlap the commit with the SMTP exchange, on every database: while this thread waits for
            # the mail server's answers (the interpreter's lock released), the writer's thread commits.
            # (A server is a round trip away; even SQLite's commit is work this thread need not wait for.)
            threaded=self.keeps_lease,
            own_connection=self.keeps_lease,
            durable=self.durable_marks,
        )

    @contextlib.contextmanager
    def _batch_writer(self) -> Iterator[MarkWriter]:
        """The marks' writer of a batch: in :meth:`run`, the one kept from the batch before (or a new one,
        kept for the next); otherwise one of the batch's own.

        When the batch fails, the writer is closed (writes not started yet are dropped, as a crash
        would drop them): the next batch has a new one.
        """
        if not self._keep_writer:
            with self._new_writer() as writer:
                yield writer
            return
        if self._writer is None:
            self._writer = self._new_writer().__enter__()
        writer = self._writer
        try:
            yield writer
        except BaseException as exc:
            self._writer = None
            writer.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def _close_writer(self) -> None:
        """Close the writer :meth:`run` kept (its thread and its connection), if any."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.__exit__(None, None, None)

    def group_sizes(self, count: int, *, start: int = 1) -> list[int]:
        """The sizes of the groups a batch of ``count`` rows is sent in: 1, 2, 4, … up to ``group_size``.

        A batch's first message goes alone and each group doubles the one
        before, up to :attr:`group_size` (``MAIL_OUTBOX_GROUP_SIZE``): a
        shallow queue (a message or two per batch, the usual traffic) is sent
        one message per commit, so a crash leaves at most one or two messages
        uncertain; a deep one reaches full groups within a few messages, where
        saving commits matters. The sizes add up to ``count``.

        :param count: the rows of the batch.
        :param start: the first group's size (at most ``group_size``): the
            worker goes on from where a full batch before left off
            (:attr:`first_group_size`).
        """
        sizes: list[int] = []
        size, left = min(max(start, 1), self.group_size), count
        while left > 0:
            sizes.append(min(size, left))
            left -= sizes[-1]
            size = min(size * 2, self.group_size)
        return sizes

    def _marked(self, marking: Marking, result: BatchResult) -> set[int]:
        """Wait for the commit that marks ``marking``'s group (once); the ids it marked.

        :raises sqlalchemy.exc.SQLAlchemyError: the commit failed.
        """
        if marking.held is None:
            marking.held = marking.future.result()
            result.released += len(marking.group) - len(marking.held)  # their lease ran out: another worker's
            self._recorded(marking.recorded)
        return marking.held

    def _recorded(self, outcomes: GroupRecord) -> None:
        for row_id in outcomes.accepted:
            self.checkpoint("sent", row_id)

    def _hand_over(
        self,
        backend: Backend,
        marking: Marking,
        later: t.Sequence[sa.Row[t.Any]],
        outcomes: GroupRecord,
        result: BatchResult,
        stop: threading.Event | None,
    ) -> bool:
        """Hand a group's messages over, noting their outcomes; whether the batch goes on.

        :param marking: the group and the commit marking it ``sending``, perhaps still running;
            each message's end waits for it.
        :param later: the batch's rows after the group, retried with it when the server cannot be reached.
        :param outcomes: where each row's outcome is noted, to be written with the next group's mark.
        """
        rows = marking.group
        for index, row in enumerate(rows):
            if stop is not None and stop.is_set():
                # Never handed over: back to pending as they were, for the next worker at once.
                held = self._marked(marking, result)
                untouched = [row for row in rows[index:] if row.id in held]
                for row in untouched:
                    outcomes.update(
                        row.id,
                        TABLE.c.status == SENDING,
                        status=PENDING,
                        attempts=row.attempts,
                        claim_token=None,
                        claimed_until=None,
                    )
                result.released += len(untouched)
                return False
            if self.reconnect_after > 0 and self.handed and self.handed % self.reconnect_after == 0:
                self.close_connection(backend)
            try:
                backend.open()
            except Exception as exc:
                # Nothing more was handed over: the rest of the group and of the batch is retried later.
                reason = f"Could not connect: {_describe(exc)}"
                logger.warning("Mail outbox: %s", reason)
                held = self._marked(marking, result)
                for waiting in [*(row for row in rows[index:] if row.id in held), *later]:
                    self._retry_or_fail(outcomes, waiting, int(waiting.attempts) + 1, reason, result)
                return False
            self._send(backend, row, marking, outcomes, result)
            self.handed += 1
        return True

    def _send(
        self, backend: Backend, row: sa.Row[t.Any], marking: Marking, outcomes: GroupRecord, result: BatchResult
    ) -> None:
        """Hand one message of a group to the backend and note its outcome in ``outcomes``.

        Its end is handed over only once the commit marking its group ``sending`` is done.
        """

        def before_end() -> None:
            if row.id not in self._marked(marking, result):
                raise ClaimLost(f"Message {row.id} was taken over by another worker before it was handed over.")
            self.checkpoint("sending", row.id)

        attempts = int(row.attempts) + 1  # counted when its group was marked sending
        try:
            refused = backend.send_raw_staged(
                row.sender, json.loads(row.recipients), bytes(row.raw), before_end, end_ready=marking.future.done
            )
        except ClaimLost:
            return  # not delivered, and no longer this batch's: counted as released
        except sa.exc.SQLAlchemyError:
            raise  # the mark could not be committed: the message's end was not handed over
        except Exception as exc:
            reason = _describe(exc)
            if backend.delivery_uncertain(exc):
                reason = f"The connection broke after the message was sent, before the server answered: {reason}"
                if self.resend_uncertain:
                    self._retry_or_fail(outcomes, row, attempts, reason, result)
                else:
                    outcomes.update(row.id, status=UNCERTAIN, last_error=reason, claim_token=None, claimed_until=None)
                    result.uncertain += 1
                    result.errors.append((row.id, UNCERTAIN, reason))
            elif is_permanent(exc):
                outcomes.update(row.id, status=FAILED, last_error=reason, claim_token=None, claimed_until=None)
                result.failed += 1
                result.errors.append((row.id, FAILED, reason))
            else:
                self._retry_or_fail(outcomes, row, attempts, reason, result)
            logger.warning("Mail outbox: message %d (%s): %s", row.id, row.message_id, reason)
            return
        self.checkpoint("accepted", row.id)
        if refused:
            outcomes.update(
                row.id,
                status=SENT,
                sent_at=self.clock(),
                last_error=f"Refused recipients: {refused!r}",
                claim_token=None,
                claimed_until=None,
            )
        else:
            outcomes.sent.append(row.id)
        outcomes.accepted.append(row.id)
        result.sent += 1

    def close_connection(self, backend: Backend) -> None:
        """Close the backend's connection; the next message opens a new one."""
        backend.close()
        self.handed = 0

    def run(
        self,
        *,
        once: bool = False,
        poll: float = 5.0,
        stop: threading.Event | None = None,
        report: Callable[[BatchResult], None] | None = None,
    ) -> BatchResult:
        """Deliver batches until ``stop`` is set (or, with ``once``, until nothing is due); returns the totals.

        One connection to the mail server serves consecutive batches, and so
        does one marks' writer (its thread and its database connection, see
        :mod:`.marks`); both are closed whenever the worker waits.

        While the database fails, the worker tries again every ``poll`` seconds: an outage is logged
        once, as a warning (and passed to ``report`` once), however many tries fail; its end once, as an
        info line.
        """
        stop = stop or threading.Event()
        totals = BatchResult()
        backend = state_of(self.app).make_backend()
        self.handed = 0
        self.first_group_size = 1
        # One writer (its thread and its connection) for consecutive batches, closed whenever the worker waits.
        self._keep_writer = True
        #: While the database fails: when the outage began (the worker's clock) and its first error.
        outage: tuple[dt.datetime, str] | None = None
        try:
            while not stop.is_set():
                try:
                    batch = self.run_batch(stop, backend=backend)
                except sa.exc.DBAPIError as exc:
                    # The database is down or failing. A group handed over meanwhile stays
                    # "sending" and becomes "uncertain" when its lease runs out; nothing is lost.
                    self.close_connection(backend)
                    self._close_writer()
                    if outage is None:
                        # Once per outage (the worker tries again every `poll` seconds): one line, not a flood.
                        outage = (self.clock(), _describe(exc))
                        logger.warning(
                            "Mail outbox: database error, trying again every %s s until it answers: %s",
                            poll,
                            outage[1],
                        )
                        if report is not None:
                            report(BatchResult(errors=[(0, "database error", outage[1])]))
                    else:
                        logger.debug("Mail outbox: database error again: %s", _describe(exc))
                    if once:
                        raise
                    stop.wait(poll)
                    continue
                if outage is not None:
                    since, error = outage
                    outage = None
                    logger.info("Mail outbox: the database answers again (down since %s: %s)", since.isoformat(), error)
                for name in ("claimed", "sent", "retrying", "failed", "uncertain", "released", "recovered"):
                    setattr(totals, name, getattr(totals, name) + getattr(batch, name))
                totals.errors.extend(batch.errors)
                if report is not None and (batch.claimed or batch.recovered):
                    report(batch)
                if batch.claimed == 0:
                    self.close_connection(backend)  # no connection held open while idle
                    self._close_writer()
                    if once:
                        break
                    stop.wait(poll)
                elif batch.sent == 0 and not once:
                    self.close_connection(backend)
                    self._close_writer()
                    stop.wait(poll)  # the server is down: no busy loop when the backoff is short
        finally:
            self._keep_writer = False
            try:
                self._close_writer()
            finally:
                self.close_connection(backend)
        return totals


__all__ = ["BatchResult", "GroupRecord", "OutboxWorker", "is_permanent"]

"""The outbox worker: claims due messages, hands them to the backend, records the outcome.

Each row goes through these steps, each committed on its own:

1. *claim*: a batch of due ``pending`` rows gets this batch's ``claim_token``
   and a lease (``claimed_until``); on PostgreSQL with ``FOR UPDATE SKIP
   LOCKED``, and everywhere with the condition re-checked by the
   ``UPDATE``, so two workers never claim one row. A row whose lease ran
   out (its worker died) can be claimed again: it was never handed over.
2. *sending*: just before the message is handed to the server, the row
   becomes ``sending`` (attempt counted, lease renewed).
3. *sent*: as soon as the server accepted it (``250`` after ``DATA``).

A crash between 2 and 3 leaves a ``sending`` row; once its lease has run
out, the next batch moves it to ``uncertain`` (or back to ``pending`` with
``MAIL_OUTBOX_RESEND_UNCERTAIN``): the server may have accepted it, so it is
not sent again unless an operator says so (``erlen mail retry``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import threading
import typing as t
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..errors import MessageError
from ..state import state_of
from .models import FAILED, PENDING, SENDING, SENT, UNCERTAIN, OutboxMessage

if t.TYPE_CHECKING:
    from flask import Flask

    from ..backends.base import Backend

logger = logging.getLogger("erlen_mail")

Clock = Callable[[], dt.datetime]

TABLE: sa.Table = t.cast(sa.Table, OutboxMessage.__table__)


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
    """What one batch did; ``ids`` maps each outcome to the rows it concerns."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    uncertain: int = 0
    #: Rows whose claim was lost to another worker (their lease ran out), or released on stop.
    released: int = 0
    #: Stale ``sending`` rows of a dead worker moved to ``uncertain`` (or ``pending``).
    recovered: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (id, outcome, reason)

    def summary(self) -> str:
        return f"{self.sent} sent, {self.retrying} retrying, {self.failed} failed, {self.uncertain} uncertain" + (
            f", {self.released} released" if self.released else ""
        )


class OutboxWorker:
    """Delivers the app's queued messages; ``erlen mail worker`` runs one.

    :param app: the app (with ``db`` and ``mail`` enabled).
    :param batch_size: rows claimed per batch; ``MAIL_OUTBOX_BATCH_SIZE`` by default.
    :param clock: returns the current time (timezone-aware UTC); tests pass
        their own to make retries due without waiting.
    """

    def __init__(self, app: Flask, *, batch_size: int | None = None, clock: Clock | None = None) -> None:
        import erlen_db

        config = app.config
        self.app = app
        self.engine = erlen_db.database_of(app).engine
        self.batch_size = int(batch_size or config.get("MAIL_OUTBOX_BATCH_SIZE", 100))
        self.clock = clock or utcnow
        self.max_attempts = int(config.get("MAIL_OUTBOX_MAX_ATTEMPTS", 8))
        self.backoff = float(config.get("MAIL_OUTBOX_BACKOFF_SECONDS", 60.0))
        self.max_backoff = float(config.get("MAIL_OUTBOX_MAX_BACKOFF_SECONDS", 6 * 3600.0))
        self.lease = dt.timedelta(seconds=float(config.get("MAIL_OUTBOX_LEASE_SECONDS", 300.0)))
        self.resend_uncertain = bool(config.get("MAIL_OUTBOX_RESEND_UNCERTAIN", False))
        self.reconnect_after = int(config.get("MAIL_BULK_RECONNECT_AFTER", 100))
        #: The token of the batch in progress.
        self.token: str | None = None

    # Steps a test can intercept (subclass and raise) to simulate a crash.

    def checkpoint(self, step: str, row_id: int) -> None:
        """Called at each step of a row: ``claimed``, ``sending``, ``accepted`` (before it is marked sent), ``sent``."""

    # The database steps

    def backoff_for(self, attempts: int) -> dt.timedelta:
        """The wait before the next attempt after ``attempts`` failed ones: doubling, capped."""
        seconds = min(self.backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)
        return dt.timedelta(seconds=seconds)

    def recover(self) -> int:
        """Move ``sending`` rows whose lease ran out (their worker died mid-send) to ``uncertain``.

        With ``MAIL_OUTBOX_RESEND_UNCERTAIN`` they go back to ``pending``
        instead, to be sent again with the same Message-ID.
        """
        now = self.clock()
        stale = sa.and_(TABLE.c.status == SENDING, TABLE.c.claimed_until < now)
        reason = (
            "The worker stopped while handing the message to the server (crash, kill or lost database connection "
            "before the outcome was recorded); the server may have accepted it."
        )
        values: dict[str, t.Any]
        if self.resend_uncertain:
            values = {"status": PENDING, "next_attempt_at": now, "claim_token": None, "claimed_until": None}
        else:
            values = {"status": UNCERTAIN}
        with self.engine.begin() as connection:
            result = connection.execute(sa.update(TABLE).where(stale).values(last_error=reason, **values))
        count = int(result.rowcount or 0)
        if count:
            logger.warning("Mail outbox: %d interrupted message(s) moved to %s", count, values["status"])
        return count

    def claim(self) -> list[sa.Row[t.Any]]:
        """Claim up to ``batch_size`` due pending rows for a new batch token; returns them, oldest first."""
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
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                # Lock the candidates, skipping rows other workers are claiming right now,
                # then claim exactly those. (In one UPDATE ... WHERE id IN (subquery), the
                # planner may run the subquery more than once and claim more than the limit.)
                ids = list(connection.scalars(candidates.with_for_update(skip_locked=True)))
                if ids:
                    connection.execute(claim.where(TABLE.c.id.in_(ids), due))
            else:
                # One statement: SQLite runs it under its write lock, so no other worker sees the rows free.
                connection.execute(claim.where(TABLE.c.id.in_(candidates.scalar_subquery()), due))
            rows = connection.execute(
                sa.select(TABLE).where(TABLE.c.claim_token == self.token).order_by(TABLE.c.next_attempt_at, TABLE.c.id)
            ).all()
        return list(rows)

    def _update(self, row_id: int, *conditions: t.Any, **values: t.Any) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.update(TABLE)
                .where(TABLE.c.id == row_id, TABLE.c.claim_token == self.token, *conditions)
                .values(**values)
            )
        return bool(result.rowcount)

    def release(self) -> int:
        """Give back this batch's claimed rows that were not handed over yet."""
        if self.token is None:
            return 0
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.update(TABLE)
                .where(TABLE.c.claim_token == self.token, TABLE.c.status == PENDING)
                .values(claim_token=None, claimed_until=None)
            )
        return int(result.rowcount or 0)

    def _retry_or_fail(self, row: sa.Row[t.Any], attempts: int, reason: str, result: BatchResult) -> None:
        if attempts >= self.max_attempts:
            self._update(
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
            self._update(
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

    def run_batch(self, stop: threading.Event | None = None) -> BatchResult:
        """Recover stale rows, claim a batch and deliver it over one backend connection.

        Stops early, releasing the rows not handed over yet, once ``stop`` is set.
        """
        result = BatchResult(recovered=self.recover())
        rows = self.claim()
        result.claimed = len(rows)
        if not rows:
            return result
        backend = state_of(self.app).make_backend()
        handed = 0
        try:
            for index, row in enumerate(rows):
                if stop is not None and stop.is_set():
                    break
                self.checkpoint("claimed", row.id)
                if self.reconnect_after > 0 and handed and handed % self.reconnect_after == 0:
                    backend.close()
                try:
                    backend.open()
                except Exception as exc:
                    # Nothing was handed over: every row left in the batch is retried later.
                    reason = f"Could not connect: {_describe(exc)}"
                    logger.warning("Mail outbox: %s", reason)
                    for later in rows[index:]:
                        self._retry_or_fail(later, int(later.attempts) + 1, reason, result)
                    break
                self._deliver(backend, row, result)
                handed += 1
        finally:
            backend.close()
            try:
                result.released += self.release()
            except sa.exc.DBAPIError as exc:  # the database went away: the claims run out by themselves
                logger.error("Mail outbox: could not release the batch's claims: %s", _describe(exc))
            self.token = None
        return result

    def _deliver(self, backend: Backend, row: sa.Row[t.Any], result: BatchResult) -> None:
        attempts = int(row.attempts) + 1
        marked = self._update(
            row.id,
            TABLE.c.status == PENDING,
            status=SENDING,
            attempts=attempts,
            claimed_until=self.clock() + self.lease,
        )
        if not marked:  # the lease ran out and another worker claimed it
            result.released += 1
            return
        self.checkpoint("sending", row.id)
        try:
            refused = backend.send_raw(row.sender, json.loads(row.recipients), bytes(row.raw))
        except Exception as exc:
            reason = _describe(exc)
            if backend.delivery_uncertain(exc):
                reason = f"The connection broke after the message was sent, before the server answered: {reason}"
                if self.resend_uncertain:
                    self._retry_or_fail(row, attempts, reason, result)
                else:
                    self._update(row.id, status=UNCERTAIN, last_error=reason)
                    result.uncertain += 1
                    result.errors.append((row.id, UNCERTAIN, reason))
            elif is_permanent(exc):
                self._update(row.id, status=FAILED, last_error=reason, claim_token=None, claimed_until=None)
                result.failed += 1
                result.errors.append((row.id, FAILED, reason))
            else:
                self._retry_or_fail(row, attempts, reason, result)
            logger.warning("Mail outbox: message %d (%s): %s", row.id, row.message_id, reason)
            return
        self.checkpoint("accepted", row.id)
        note = f"Refused recipients: {refused!r}" if refused else None
        self._update(row.id, status=SENT, sent_at=self.clock(), last_error=note, claim_token=None, claimed_until=None)
        result.sent += 1
        self.checkpoint("sent", row.id)

    def run(
        self,
        *,
        once: bool = False,
        poll: float = 5.0,
        stop: threading.Event | None = None,
        report: Callable[[BatchResult], None] | None = None,
    ) -> BatchResult:
        """Deliver batches until ``stop`` is set (or, with ``once``, until nothing is due); returns the totals."""
        stop = stop or threading.Event()
        totals = BatchResult()
        while not stop.is_set():
            try:
                batch = self.run_batch(stop)
            except sa.exc.DBAPIError as exc:
                # The database is down or failing. A message handed over meanwhile stays
                # "sending" and becomes "uncertain" when its lease runs out; nothing is lost.
                logger.error("Mail outbox: database error, trying again in %s s: %s", poll, _describe(exc))
                if report is not None:
                    report(BatchResult(errors=[(0, "database error", _describe(exc))]))
                if once:
                    raise
                stop.wait(poll)
                continue
            for name in ("claimed", "sent", "retrying", "failed", "uncertain", "released", "recovered"):
                setattr(totals, name, getattr(totals, name) + getattr(batch, name))
            totals.errors.extend(batch.errors)
            if report is not None and (batch.claimed or batch.recovered):
                report(batch)
            if batch.claimed == 0:
                if once:
                    break
                stop.wait(poll)
            elif batch.sent == 0 and not once:
                stop.wait(poll)  # the server is down: no busy loop when the backoff is short
        return totals


__all__ = ["BatchResult", "OutboxWorker", "is_permanent"]

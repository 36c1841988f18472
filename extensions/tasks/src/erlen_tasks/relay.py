"""The relay: hands committed jobs from the outbox table to Redis or RabbitMQ.

A job enqueued in a transaction becomes a ``pending`` row when the
transaction commits. The relay claims due rows (a lease, like a worker's, so
two relays never hand one row over twice while both live), hands each to the
broker (RabbitMQ with publisher confirms), then marks it ``relayed``. When
the broker cannot be reached, the rows stay ``pending`` and the next pass
tries again: no job is lost while the broker is away. A relay that dies
between the broker's confirmation and its own mark hands that row over again
once the lease has run out, so a job may be delivered twice: declare an
idempotency key on jobs whose effect must happen once.

When the app's database cannot be reached, no pass can read the outbox: a
relay that runs pass after pass (a worker's, ``erlen tasks relay``) logs the
outage once, naming the database by its URL without the password, and once
more when it answers again, with how long it lasted and how many passes
failed (core's :class:`erlen.failover.Failover`); the passes in between are
logged at ``DEBUG`` only.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import typing as t
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import dramatiq
import sqlalchemy as sa

from erlen.failover import Failover, describe_error

from .database_watch import DATABASE_DOWN, is_outage
from .database_watch import watch_database as watch_app_database
from .models import DEAD, PENDING, RELAYED, JobRecord, utcnow
from .stored_messages import UnreadableMessage, decode_stored, log_dead

if t.TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger("erlen_tasks")

TABLE: sa.Table = t.cast(sa.Table, JobRecord.__table__)

#: The longest wait between two passes that met errors, in seconds (see :meth:`Relay.run`).
MAX_BACKOFF = 30.0

#: The pass's time, a parameter of the statements below.
_NOW = sa.bindparam("now", type_=TABLE.c.eta.type)

#: The rows a relay may claim at ``now``: due, ``pending``, and not claimed (or their claim ran out).
_FREE = sa.and_(
    TABLE.c.status == PENDING,
    TABLE.c.eta <= _NOW,
    sa.or_(TABLE.c.claimed_until.is_(None), TABLE.c.claimed_until < _NOW),
)

#: A batch's claim (the rows of ``ids`` still free at ``now``).
_CLAIM = (
    sa.update(TABLE)
    .where(TABLE.c.id.in_(sa.bindparam("ids", expanding=True)), _FREE)
    .values(claim_token=sa.bindparam("token"), claimed_until=sa.bindparam("until", type_=TABLE.c.claimed_until.type))
)


@dataclass
class RelayResult:
    """What one pass of the relay did."""

    relayed: int = 0
    #: Why the pass stopped early (the broker or the database is away), or ``None``.
    error: str | None = None
    #: Whether it stopped because the broker could not be reached (a watched broker logged that already).
    unreachable: bool = False
    #: Whether it stopped because the app's database failed (the outbox could not be read or marked).
    database_failed: bool = False
    #: The app's database's error, when it failed.
    database_error: BaseException | None = field(default=None, repr=False)
    #: Whether the app's database cannot be reached (the relay's watch logged that already, see :class:`Relay`).
    database_unreachable: bool = False


class Relay:
    """Relays an app's committed jobs to its broker; ``erlen tasks worker`` runs one in a thread.

    :param app: the app (``TASKS_BROKER`` redis or rabbitmq).
    :param broker: the Dramatiq broker to hand jobs to; the app's by default.
    :param batch_size: rows claimed per pass; ``TASKS_RELAY_BATCH_SIZE`` by default.
    :param clock: returns the current time (timezone-aware UTC).
    :param watch_database: log an outage of the app's database once, when it begins, and once when it ends
        (:attr:`database_watch`), for a relay that runs pass after pass; off (``relay --once``), each pass
        reports it in its :class:`RelayResult` alone.
    """

    def __init__(
        self,
        app: Flask,
        *,
        broker: dramatiq.Broker | None = None,
        batch_size: int | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        watch_database: bool = True,
    ) -> None:
        import erlen_db

        from .brokers.outage import BROKERS, connection_errors
        from .state import state_of

        self.app = app
        self.engine = erlen_db.database_of(app).engine
        self.broker = broker if broker is not None else state_of(app).broker
        kind = state_of(app).broker_kind
        #: The errors that mean the broker cannot be reached.
        self.connection_errors = connection_errors(kind) if kind != "database" else ()
        self.batch_size = int(batch_size or app.config.get("TASKS_RELAY_BATCH_SIZE", 100))
        self.lease = dt.timedelta(seconds=float(app.config.get("TASKS_LEASE_SECONDS", 30.0)))
        self.clock = clock
        #: Logs an outage of the app's database once, and its end (``None``: each pass reports it alone).
        self.database_watch: Failover | None = None
        if watch_database:
            broker_name = BROKERS[kind][0] if kind in BROKERS else "the broker"
            self.database_watch = watch_app_database(
                self.engine,
                while_down="committed jobs wait in its outbox table (none is lost) and none is handed to "
                f"{broker_name}",
                when_back="committed jobs are handed over again",
                retried=f"the relay tries it at each pass, at most {MAX_BACKOFF:g} s apart",
                counted="relay passes",
            )
        # Built once: an idle pass (most of them) is this one statement, and building it cost twice its run.
        self._due = sa.select(TABLE.c.id).where(_FREE).order_by(TABLE.c.priority, TABLE.c.id).limit(self.batch_size)

    def relay_once(self) -> RelayResult:
        """Hand the due ``pending`` rows (one batch) to the broker.

        A pass that finds the app's database unreachable is logged through :attr:`database_watch`, when set:
        once for the outage, and its result says so (:attr:`RelayResult.database_unreachable`).
        """
        watch = self.database_watch
        if watch is None:
            return self._relay_pass()
        failed: list[RelayResult] = []

        def attempt() -> RelayResult:
            result = self._relay_pass()
            # An outage as erlen-db tells one (no connection, a lost one, SQLite locked): not every
            # OperationalError, which SQLite raises for a missing table or a read-only file too, reported per pass.
            error = result.database_error
            if error is not None and is_outage(error):
                failed.append(result)
                raise error
            return result

        def kept() -> RelayResult:
            result = failed[0] if failed else RelayResult(database_failed=True)
            outage = watch.outage()
            reason = outage[1] if outage is not None else "an earlier pass failed"
            result.error = f"the app's database cannot be reached ({reason})"
            result.database_unreachable = True
            logger.debug("Relay: %s; committed jobs are kept.", result.error)
            return result

        return watch.run(attempt, kept)

    def _relay_pass(self) -> RelayResult:
        """One pass of :meth:`relay_once`, whose errors are in its result."""
        result = RelayResult()
        now = self.clock()
        try:
            with self.engine.connect() as connection:  # a read of its own: see DatabaseConsumer._claim
                ids = list(connection.execute(self._due, {"now": now}).scalars())
            if not ids:
                return result
            token = uuid.uuid4().hex
            with self.engine.begin() as connection:
                connection.execute(_CLAIM, {"now": now, "ids": ids, "token": token, "until": now + self.lease})
            with self.engine.connect() as connection:
                rows = connection.execute(
                    sa.select(TABLE.c.id, TABLE.c.message, TABLE.c.queue)
                    .where(TABLE.c.claim_token == token)
                    .order_by(TABLE.c.priority, TABLE.c.id)
                ).all()
        except sa.exc.SQLAlchemyError as exc:
            result.error = f"database error: {type(exc).__name__}"
            result.database_failed = True
            result.database_error = exc
            return result
        handed: list[int] = []
        unreadable: list[tuple[UnreadableMessage, str]] = []
        try:
            for row_id, data, queue in rows:
                try:
                    message = decode_stored(row_id, data)
                except UnreadableMessage as exc:
                    # No pass reads it better: handed to no broker, it would stop every pass at it.
                    unreadable.append((exc, queue))
                    continue
                self.broker.enqueue(message)
                handed.append(row_id)
        except Exception as exc:  # the broker is away (or refused): keep the rest for the next pass
            result.error = describe_error(exc)
            result.unreachable = isinstance(exc, self.connection_errors)
        # One commit for the batch's marks. Should the relay die before it, the batch is handed over
        # again once the lease has run out (at least once, as after any crash).
        marked = False
        try:
            if handed:
                with self.engine.begin() as connection:
                    connection.execute(
                        sa.update(TABLE)
                        .where(TABLE.c.id.in_(handed), TABLE.c.claim_token == token)
                        .values(
                            # A worker may have run it already (and recorded so): keep what it wrote.
                            status=sa.case((TABLE.c.status == PENDING, RELAYED), else_=TABLE.c.status),
                            claim_token=None,
                            claimed_until=None,
                            updated_at=self.clock(),
                        )
                    )
                result.relayed = len(handed)
                marked = True
        except sa.exc.SQLAlchemyError as exc:
            if result.error is None:
                result.error = f"database error: {type(exc).__name__}"
                result.database_failed = True
                result.database_error = exc
        if unreadable:
            try:
                with self.engine.begin() as connection:
                    for error, _queue in unreadable:
                        connection.execute(
                            sa.update(TABLE)
                            .where(TABLE.c.id == error.row_id, TABLE.c.claim_token == token)
                            .values(
                                status=DEAD,
                                claim_token=None,
                                claimed_until=None,
                                last_error=error.reason,
                                updated_at=self.clock(),
                            )
                        )
                for error, queue in unreadable:
                    log_dead(error, queue)
            except sa.exc.SQLAlchemyError as exc:
                if result.error is None:
                    result.error = f"database error: {type(exc).__name__}"
                    result.database_failed = True
                    result.database_error = exc
        # Release the claims of the rows not marked (every row marked took its claim with it).
        if rows and (not marked or len(handed) < len(rows)):
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        sa.update(TABLE)
                        .where(TABLE.c.claim_token == token, TABLE.c.status == PENDING)
                        .values(claim_token=None, claimed_until=None)
                    )
            except sa.exc.SQLAlchemyError:
                pass  # the lease runs out on its own
        return result

    def run(
        self,
        stop: threading.Event,
        *,
        poll: float = 0.5,
        report: Callable[[RelayResult], None] | None = None,
    ) -> None:
        """Relay until ``stop`` is set, waiting ``poll`` seconds when nothing is due (longer after an error).

        :param stop: set it to end the loop.
        :param poll: seconds between passes that found nothing.
        :param report: called with each pass that relayed something or met an error (one that found the app's
            database unreachable too: :attr:`RelayResult.database_unreachable` says its outage was logged).
        """
        failures = 0
        while not stop.is_set():
            result = self.relay_once()
            if report is not None and (result.relayed or result.error):
                report(result)
            if result.error:
                failures += 1
                stop.wait(min(poll * 2**failures, MAX_BACKOFF))
            elif result.relayed < self.batch_size:
                failures = 0
                stop.wait(poll)


__all__ = ["DATABASE_DOWN", "Relay", "RelayResult"]

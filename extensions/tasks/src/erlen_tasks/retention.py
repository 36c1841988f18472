"""Retention: the rows of succeeded jobs deleted by the workers themselves, once an hour across hosts.

Every job keeps a row of ``tasks_jobs`` (the sweep of the mail outbox alone
adds 1,440 a day). The scheduler of each ``erlen tasks worker`` ticks a
:class:`Retention` too: once per hour (UTC), one scheduler claims the hour
by inserting the row ``(RETENTION_CLAIM, hour)`` of ``tasks_cron_periods``,
as for a periodic job's period, and that one deletes, in batches of bounded
size, the ``done`` rows last changed more than ``TASKS_KEEP_SUCCEEDED_DAYS``
ago (of periodic jobs only under ``TASKS_PRUNE_ONLY_PERIODIC``), and the
claimed periods no scheduler can claim again. ``failed`` and ``dead`` rows
are kept for people (``erlen tasks purge --status dead``). The idempotency
keys of ``tasks_completed_keys`` keep protecting their jobs however old they
are, unless ``TASKS_KEEP_COMPLETED_KEYS_DAYS`` is set: then the keys that
completed longer ago than that are deleted too (a job redelivered later than
that would run its effect again: choose a span well beyond any redelivery,
days rather than minutes).
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from .models import DONE, CompletedKey, CronPeriod, JobRecord, utcnow

if t.TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger("erlen_tasks")

#: The "job" of the rows of ``tasks_cron_periods`` that claim an hour's pruning (no job's name has a space).
RETENTION_CLAIM = "erlen-tasks retention"

#: Rows deleted per statement (and transaction): short transactions, whatever the backlog.
BATCH_SIZE = 1000

#: Statements per hour at most: a backlog larger than this is deleted over the following hours.
MAX_BATCHES = 50

#: How long a claimed period of a periodic job is kept beyond its catch-up window (clocks of hosts differ).
PERIOD_MARGIN = dt.timedelta(hours=1)


@dataclass
class PruneResult:
    """What one pruning deleted."""

    #: Rows of ``tasks_jobs``.
    jobs: int = 0
    #: Rows of ``tasks_cron_periods``.
    periods: int = 0
    #: Rows of ``tasks_completed_keys``.
    keys: int = 0


class Retention:
    """Deletes the rows of succeeded jobs once they are older than the app's retention.

    :param app: the app (its ``TASKS_KEEP_SUCCEEDED_DAYS``, ``TASKS_PRUNE_ONLY_PERIODIC``,
        ``TASKS_KEEP_COMPLETED_KEYS_DAYS`` and ``TASKS_CRON_CATCH_UP_SECONDS``).
    :param clock: returns the current time (timezone-aware UTC).
    :param batch_size: rows per delete statement.
    :param max_batches: delete statements per pruning at most.
    """

    def __init__(
        self,
        app: Flask,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        batch_size: int = BATCH_SIZE,
        max_batches: int = MAX_BATCHES,
    ) -> None:
        from .state import state_of

        self.app = app
        self.clock = clock
        self.batch_size = batch_size
        self.max_batches = max_batches
        days = app.config.get("TASKS_KEEP_SUCCEEDED_DAYS", 7.0)
        #: How long a succeeded job's row is kept; ``None``: until ``erlen tasks purge``.
        self.keep: dt.timedelta | None = None if days is None else dt.timedelta(days=float(days))
        key_days = app.config.get("TASKS_KEEP_COMPLETED_KEYS_DAYS")
        #: How long a completed idempotency key is kept; ``None`` (the default): for good.
        self.keep_keys: dt.timedelta | None = None if key_days is None else dt.timedelta(days=float(key_days))
        self.only_periodic = bool(app.config.get("TASKS_PRUNE_ONLY_PERIODIC", False))
        #: The names of the periodic jobs.
        self.periodic = sorted(job.name for job in state_of(app).jobs.values() if job.cron)
        self.catch_up = dt.timedelta(seconds=float(app.config.get("TASKS_CRON_CATCH_UP_SECONDS", 300.0)))
        #: The latest hour this retention has seen claimed (by itself or another host): no query until the next.
        self.settled: dt.datetime | None = None
        #: Whether the latest :meth:`tick` used the database (most ticks, within a settled hour, do not).
        self.queried = False

    @property
    def enabled(self) -> bool:
        """Whether rows are deleted at all (``TASKS_KEEP_SUCCEEDED_DAYS`` or ``TASKS_KEEP_COMPLETED_KEYS_DAYS`` set)."""
        return self.keep is not None or self.keep_keys is not None

    def tick(self) -> PruneResult | None:
        """Prune if nobody has this hour yet; what it deleted, or ``None`` when another host has the hour.

        :raises sqlalchemy.exc.SQLAlchemyError: the database failed (the scheduler's loop reports it and
            ticks again: the hour is claimed at the next tick once the database answers; a pruning interrupted
            halfway, its hour claimed, is finished by the next hour's).
        """
        import erlen_db

        self.queried = False
        if not self.enabled:
            return None
        now = self.clock()
        hour = now.replace(minute=0, second=0, microsecond=0)
        if self.settled == hour:
            return None
        self.queried = True
        try:
            with erlen_db.database_of(self.app).session_scope() as session:
                session.add(CronPeriod(job=RETENTION_CLAIM, period=hour, claimed_at=now))
        except sa.exc.IntegrityError:
            self.settled = hour  # another scheduler has this hour
            return None
        self.settled = hour
        result = self.prune(now)
        if result.jobs or result.periods or result.keys:
            logger.info(
                "Retention: deleted %d succeeded job row(s), %d claimed period(s) and %d idempotency key(s).",
                result.jobs,
                result.periods,
                result.keys,
            )
        return result

    def prune(self, now: dt.datetime | None = None) -> PruneResult:
        """Delete, in batches, the rows past the retention at ``now``; no claim (see :meth:`tick`).

        :param now: the current time (timezone-aware UTC); the clock's by default.
        """
        result = PruneResult()
        now = now or self.clock()
        if self.keep_keys is not None:
            result.keys = self._delete(CompletedKey, CompletedKey.key, CompletedKey.completed_at < now - self.keep_keys)
        if self.keep is None:
            return result
        cutoff = now - self.keep
        condition = sa.and_(JobRecord.status == DONE, JobRecord.updated_at < cutoff)
        if self.only_periodic:
            condition = sa.and_(condition, JobRecord.job.in_(self.periodic))
        result.jobs = self._delete(JobRecord, JobRecord.id, condition)
        # A claimed period older than the catch-up window is never claimed again: its row has done its work.
        period_cutoff = min(cutoff, now - self.catch_up - PERIOD_MARGIN)
        result.periods = self._delete(CronPeriod, CronPeriod.period, CronPeriod.period < period_cutoff)
        return result

    def _delete(
        self, table: type[t.Any], key: sa.orm.InstrumentedAttribute[t.Any], where: sa.ColumnElement[bool]
    ) -> int:
        """Delete the rows of ``table`` matching ``where``, the ``batch_size`` smallest values of ``key`` at a
        time (one short transaction each), at most ``max_batches`` times; how many were deleted.
        """
        import erlen_db

        database = erlen_db.database_of(self.app)
        total = 0
        for _ in range(self.max_batches):
            chosen = sa.select(key).where(where).distinct().order_by(key).limit(self.batch_size).scalar_subquery()
            statement = sa.delete(table).where(key.in_(chosen)).execution_options(synchronize_session=False)
            with database.session_scope() as session:
                deleted = int(t.cast(t.Any, session.execute(statement)).rowcount or 0)
            total += deleted
            if deleted < self.batch_size:
                break
        return total


__all__ = ["BATCH_SIZE", "MAX_BATCHES", "RETENTION_CLAIM", "PruneResult", "Retention"]

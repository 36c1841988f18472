"""Periodic jobs: each period of a cron job enqueued once, whatever the number of schedulers.

Every ``erlen tasks worker`` runs a scheduler (unless ``--no-scheduler``).
For each job declared with ``cron=``, the latest period that has begun (in
UTC) is claimed by inserting the row ``(job, period)`` of
``tasks_cron_periods``, whose primary key lets only one insert succeed, in
the same transaction as the job's row: one scheduler enqueues the period,
the others find it claimed. A period missed while no scheduler ran is
enqueued when one starts, if it began less than ``TASKS_CRON_CATCH_UP_SECONDS``
ago.

The scheduler also ticks the app's :class:`~erlen_tasks.retention.Retention`:
the rows of succeeded jobs are deleted after ``TASKS_KEEP_SUCCEEDED_DAYS``,
once an hour across hosts.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import typing as t
from collections.abc import Callable

import sqlalchemy as sa
from croniter import croniter  # type: ignore[import-untyped]  # no type hints shipped

from .enqueueing import enqueue
from .models import CronPeriod, utcnow
from .retention import Retention

logger = logging.getLogger("erlen_tasks")

if t.TYPE_CHECKING:
    from flask import Flask


def latest_period(cron: str, now: dt.datetime) -> dt.datetime:
    """The start of the latest period of ``cron`` at or before ``now`` (UTC)."""
    upcoming = t.cast(dt.datetime, croniter(cron, now).get_next(dt.datetime))
    return t.cast(dt.datetime, croniter(cron, upcoming).get_prev(dt.datetime))


class Scheduler:
    """Enqueues the periods of an app's cron jobs.

    :param app: the app.
    :param clock: returns the current time (timezone-aware UTC).
    """

    def __init__(self, app: Flask, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        from .state import state_of

        self.app = app
        self.clock = clock
        self.jobs = [job for job in state_of(app).jobs.values() if job.cron]
        self.catch_up = dt.timedelta(seconds=float(app.config.get("TASKS_CRON_CATCH_UP_SECONDS", 300.0)))
        #: The latest period this scheduler has seen settled, by job: no query until the next one.
        self.settled: dict[str, dt.datetime] = {}
        #: Deletes the rows of succeeded jobs past their retention, once an hour across schedulers.
        self.retention = Retention(app, clock=clock)

    @property
    def has_work(self) -> bool:
        """Whether the app has periodic jobs, or rows to delete after their retention."""
        return bool(self.jobs) or self.retention.enabled

    def tick(self) -> list[tuple[str, dt.datetime]]:
        """Enqueue each cron job whose latest period nobody has claimed; returns ``(job, period)`` enqueued."""
        import erlen_db

        database = erlen_db.database_of(self.app)
        now = self.clock()
        enqueued: list[tuple[str, dt.datetime]] = []
        for job in self.jobs:
            assert job.cron is not None
            period = latest_period(job.cron, now)
            if self.settled.get(job.name) == period:
                continue
            if now - period > self.catch_up:
                self.settled[job.name] = period
                continue
            try:
                with database.session_scope() as session:
                    session.add(CronPeriod(job=job.name, period=period, claimed_at=now))
                    session.flush()
                    enqueue(job, session=session, app=self.app)
            except sa.exc.IntegrityError:
                pass  # another scheduler claimed this period
            else:
                enqueued.append((job.name, period))
            self.settled[job.name] = period
        return enqueued

    def run(
        self,
        stop: threading.Event,
        *,
        poll: float = 1.0,
        report: Callable[[list[tuple[str, dt.datetime]]], None] | None = None,
    ) -> None:
        """Tick every ``poll`` seconds (and the retention) until ``stop`` is set; a database error is retried.

        :param stop: set it to end the loop.
        :param poll: seconds between ticks.
        :param report: called with what each tick enqueued, when it enqueued something.
        """
        warned = False
        while not stop.is_set():
            try:
                enqueued = self.tick()
            except sa.exc.SQLAlchemyError:
                enqueued = []
            if enqueued and report is not None:
                report(enqueued)
            try:
                self.retention.tick()
            except sa.exc.SQLAlchemyError as exc:  # tried again at the next tick; said once per outage
                if not warned:
                    logger.warning("Retention: could not delete old job rows yet: %s", exc)
                warned = True
            else:
                warned = False
            stop.wait(poll)


__all__ = ["Scheduler", "latest_period"]

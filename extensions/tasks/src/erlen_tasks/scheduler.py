"""Periodic jobs: each period of a cron job enqueued once, whatever the number of schedulers.

Every ``erlen tasks worker`` runs a scheduler (unless ``--no-scheduler``).
For each job declared with ``cron=``, the latest period that has begun (in
UTC) is claimed by inserting the row ``(job, period)`` of
``tasks_cron_periods``, whose primary key lets only one insert succeed, in
the same transaction as the job's row: one scheduler enqueues the period,
the others find it claimed. A period missed while no scheduler ran is
enqueued when one starts, if it began less than ``TASKS_CRON_CATCH_UP_SECONDS``
ago. So is a period that began while the app's database could not be reached:
once it answers, each job's latest period is enqueued, once, if it began less
than that ago; the periods before it are not (a job every minute that missed
ten runs once, not ten times). A latest period begun longer ago than that, and
enqueued by no other scheduler, is logged as a warning naming the job, the
period and the setting.

While the app's database cannot be reached, the scheduler's loop
(:meth:`Scheduler.run`) logs that once, naming the database by its URL without
the password, and once when it answers again, with how many ticks failed, as
the relay does (one watch, :mod:`erlen_tasks.database_watch`, for the periodic
jobs and the retention alike); each failed tick is logged at ``DEBUG`` only.
Other database errors (a missing table before ``erlen db upgrade``) are no
outage: each is logged once, as an error, until a tick succeeds.

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

from .database_watch import describe_database_error, is_outage, watch_database
from .enqueueing import enqueue
from .models import CronPeriod, utcnow
from .retention import Retention

logger = logging.getLogger("erlen_tasks")

if t.TYPE_CHECKING:
    from flask import Flask

    from erlen.failover import Failover


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
        import erlen_db

        from .state import state_of

        self.app = app
        self.clock = clock
        self.jobs = [job for job in state_of(app).jobs.values() if job.cron]
        seconds = float(app.config.get("TASKS_CRON_CATCH_UP_SECONDS", 300.0))
        self.catch_up = dt.timedelta(seconds=seconds)
        #: The latest period this scheduler has seen settled, by job: no query until the next one.
        self.settled: dict[str, dt.datetime] = {}
        #: Deletes the rows of succeeded jobs past their retention, once an hour across schedulers.
        self.retention = Retention(app, clock=clock)
        #: Seconds between the ticks of :meth:`run` (``TASKS_POLL_SECONDS``, as the worker's).
        self.poll = float(app.config.get("TASKS_POLL_SECONDS", 1.0))
        #: Whether the latest :meth:`tick` used the database (a tick with no period due does not).
        self.queried = False
        engine = erlen_db.database_of(app).engine
        #: Logs an outage of the app's database once, and its end, for the periodic jobs and the retention alike.
        self.database_watch: Failover = watch_database(
            engine,
            while_down="no periodic job is enqueued and no succeeded job's row deleted",
            when_back="periodic jobs are enqueued again, each job's latest period missed meanwhile once if it began "
            f"less than {seconds:g} s ago (TASKS_CRON_CATCH_UP_SECONDS), the periods before it not at all",
            retried=f"the scheduler tries it every {self.poll:g} s, its TASKS_POLL_SECONDS",
            counted="scheduler ticks",
        )
        self._engine = engine
        self._describe = describe_database_error(engine)
        #: The text of the latest error that was no outage, logged once until a tick succeeds.
        self._error_logged: str | None = None

    @property
    def has_work(self) -> bool:
        """Whether the app has periodic jobs, or rows to delete after their retention."""
        return bool(self.jobs) or self.retention.enabled

    def tick(self, enqueued: list[tuple[str, dt.datetime]] | None = None) -> list[tuple[str, dt.datetime]]:
        """Enqueue each cron job whose latest period nobody has claimed; returns ``(job, period)`` enqueued.

        :param enqueued: the list to add each ``(job, period)`` to as soon as it is committed (a new one by
            default): should a later job's claim raise, the caller still knows what this tick enqueued.
        """
        import erlen_db

        database = erlen_db.database_of(self.app)
        now = self.clock()
        enqueued = [] if enqueued is None else enqueued
        self.queried = False
        for job in self.jobs:
            assert job.cron is not None
            period = latest_period(job.cron, now)
            if self.settled.get(job.name) == period:
                continue
            if now - period > self.catch_up:
                if job.name in self.settled:
                    # Begun while this scheduler ran (it had settled an earlier one), yet too late to catch up.
                    self.queried = True
                    self._check_missed(job.name, period, now)
                self.settled[job.name] = period
                continue
            self.queried = True
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

    def _check_missed(self, job: str, period: dt.datetime, now: dt.datetime) -> None:
        """Warn that ``period`` of ``job``, begun while this scheduler ran, was enqueued by no scheduler: none could
        claim it within the catch-up window (the database could not be reached, or the process was paused).

        :raises sqlalchemy.exc.SQLAlchemyError: the database failed (the period is looked at again at the next tick).
        """
        import erlen_db

        with erlen_db.database_of(self.app).session_scope() as session:
            if session.get(CronPeriod, (job, period)) is not None:
                return  # another scheduler enqueued it
        logger.warning(
            "Periodic job %s: its period of %s UTC is not enqueued: no scheduler could claim it within "
            "TASKS_CRON_CATCH_UP_SECONDS (%g s) of its start (this one only %.0f s after it: the app's database could "
            "not be reached, or the process was paused). The job runs at its next period; raise "
            "TASKS_CRON_CATCH_UP_SECONDS to catch up later.",
            job,
            f"{period:%Y-%m-%d %H:%M}",
            self.catch_up.total_seconds(),
            (now - period).total_seconds(),
        )

    def run_once(self) -> list[tuple[str, dt.datetime]]:
        """One tick of :meth:`run`: the periodic jobs' (:meth:`tick`), then the retention's, through
        :attr:`database_watch`; returns the ``(job, period)`` enqueued.

        An outage of the app's database is logged once, when a tick first meets it, and once when a tick finds the
        database back (a tick that needs nothing of it probes it meanwhile, so the end is logged when it comes,
        not at the next period); the ticks in between at ``DEBUG``. A database error that is no outage is logged
        once until a tick succeeds, and does not keep the retention from its turn.
        """
        enqueued: list[tuple[str, dt.datetime]] = []
        queried = [False]

        def attempt() -> list[tuple[str, dt.datetime]]:
            failed = False
            try:
                self.tick(enqueued)  # filled as each period is committed, kept should a later one raise
            except sa.exc.SQLAlchemyError as exc:
                if is_outage(exc):
                    raise  # the retention would meet it too
                failed = True
                self._failed(exc)
            try:
                self.retention.tick()
            except sa.exc.SQLAlchemyError as exc:
                if is_outage(exc):
                    raise
                failed = True
                self._failed(exc)
            # An error that is no outage is an answer of the database too.
            queried[0] = failed or self.queried or self.retention.queried
            if not queried[0] and self.database_watch.outage() is not None:
                queried[0] = True
                try:
                    self._probe()  # nothing needed it this tick: is it back?
                except sa.exc.SQLAlchemyError as exc:
                    if is_outage(exc):
                        raise
                    # Any other error is an answer: the next tick that needs the database reports it.
            if not failed:
                self._error_logged = None
            return enqueued

        def kept() -> list[tuple[str, dt.datetime]]:
            outage = self.database_watch.outage()
            reason = outage[1] if outage is not None else "an earlier tick failed"
            logger.debug("Scheduler: the app's database cannot be reached (%s); periodic jobs wait.", reason)
            return enqueued  # what was enqueued before the outage's error, committed

        return self.database_watch.run(attempt, kept, reached=lambda: queried[0])

    def _probe(self) -> None:
        """Ask the app's database a trivial query, to tell whether an outage has ended.

        :raises sqlalchemy.exc.SQLAlchemyError: it has not.
        """
        with self._engine.connect() as connection:
            connection.execute(sa.select(1))

    def _failed(self, exc: sa.exc.SQLAlchemyError) -> None:
        """Log a database error that is no outage, once until a tick succeeds or the error changes."""
        text = self._describe(exc)
        if text == self._error_logged:
            return
        self._error_logged = text
        logger.error(
            "Scheduler: the app's database refused its work (%s): periodic jobs are not enqueued nor old rows "
            "deleted until this is fixed (if a table is missing, run `erlen db upgrade`); each tick tries again.",
            text,
        )

    def run(
        self,
        stop: threading.Event,
        *,
        poll: float | None = None,
        report: Callable[[list[tuple[str, dt.datetime]]], None] | None = None,
    ) -> None:
        """Tick (:meth:`run_once`) every ``poll`` seconds until ``stop`` is set; a database error is retried.

        :param stop: set it to end the loop.
        :param poll: seconds between ticks; :attr:`poll` (``TASKS_POLL_SECONDS``) by default.
        :param report: called with what each tick enqueued, when it enqueued something.
        """
        wait = self.poll if poll is None else poll
        while not stop.is_set():
            enqueued = self.run_once()
            if enqueued and report is not None:
                report(enqueued)
            stop.wait(wait)


__all__ = ["Scheduler", "latest_period"]

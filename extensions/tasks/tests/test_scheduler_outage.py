"""The scheduler while the app's database cannot be reached: logged once, and once when it answers again.

Before, ``Scheduler.run`` swallowed a failed tick without a word (periodic jobs were not enqueued and nothing said
so), and its retention step logged SQLAlchemy's whole error text once per outage, never the recovery.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import sqlite3
import threading
import typing as t
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from conftest import PLUGINS, broker_settings
from tasks_support import wait_for
from test_broker_outage import PASSWORD, messages, own_database_url

import erlen_db
from erlen_tasks.models import CronPeriod
from erlen_tasks.retention import RETENTION_CLAIM
from erlen_tasks.scheduler import Scheduler

#: 03:00:30 UTC: the period 03:00 of the test plugin's job ``test.minutely`` (``* * * * *``) began 30 s ago.
T0 = dt.datetime(2026, 12, 3, 3, 0, 30, tzinfo=dt.UTC)


def at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2026, 12, 3, hour, minute, tzinfo=dt.UTC)


class Clock:
    """The scheduler's clock, set by the test; counts its reads (each tick reads it)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.reads = 0

    def __call__(self) -> dt.datetime:
        self.reads += 1
        return self.now

    def ticks(self, count: int) -> None:
        """Wait until the scheduler has ticked ``count`` more times."""
        reads = self.reads
        wait_for(lambda: self.reads >= reads + 2 * count, what=f"{count} ticks")  # the tick's and the retention's


@contextlib.contextmanager
def running(scheduler: Scheduler) -> Iterator[list[list[tuple[str, dt.datetime]]]]:
    """Run the scheduler's loop in a thread for the block (as a worker does), every 0.05 s; yields what it reports."""
    stop = threading.Event()
    reports: list[list[tuple[str, dt.datetime]]] = []
    thread = threading.Thread(
        target=scheduler.run, args=(stop,), kwargs={"poll": 0.05, "report": reports.append}, daemon=True
    )
    thread.start()
    try:
        yield reports
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the scheduler did not stop"


def claimed(app: t.Any, job: str = "test.minutely") -> list[dt.datetime]:
    """The periods of ``job`` claimed in ``tasks_cron_periods``, as UTC times."""
    with erlen_db.database_of(app).session_scope() as session:
        found = session.scalars(sa.select(CronPeriod.period).where(CronPeriod.job == job).order_by(CronPeriod.period))
        return [p.replace(tzinfo=dt.UTC) if p.tzinfo is None else p.astimezone(dt.UTC) for p in found]


def loud(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """erlen-tasks' records above DEBUG."""
    return [r for r in caplog.records if r.name == "erlen_tasks" and r.levelno > logging.DEBUG]


def quiet_ticks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The DEBUG lines of ticks that met the outage."""
    return [r for r in caplog.records if r.levelno == logging.DEBUG and r.getMessage().startswith("Scheduler: ")]


WHILE_DOWN = (
    ": check that it runs and that this host can reach it; no periodic job is enqueued and no succeeded job's row "
    "deleted until it answers again (the scheduler tries it every 0.05 s, its TASKS_POLL_SECONDS)."
)


def when_back(seconds: int) -> str:
    return (
        "periodic jobs are enqueued again, each job's latest period missed meanwhile once if it began less than "
        f"{seconds} s ago (TASKS_CRON_CATCH_UP_SECONDS), the periods before it not at all."
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_the_scheduler_logs_an_outage_of_postgresql_once_and_its_end_and_enqueues_the_latest_period_once(
    make_db_app: t.Any, postgres_server: t.Any, queue_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The app's PostgreSQL stopped while three periods of a job every minute begin: the outage is logged once,
    naming the database without its password, what is not done and how it is tried again; each failed tick at
    DEBUG; its end once, with the count of failed ticks. Once back, the latest period (03:03, begun 20 s before)
    is enqueued, once; the two before it (03:01, 03:02) are not, as the documentation says."""
    caplog.set_level(logging.DEBUG, logger="erlen_tasks")
    app = make_db_app(
        PLUGINS, broker_settings("database", queue_prefix), url=own_database_url(postgres_server), create_all=True
    )
    clock = Clock(T0)
    scheduler = Scheduler(app, clock=clock)
    with running(scheduler) as reports:
        wait_for(lambda: reports == [[("test.minutely", at(3, 0))]], what="the period 03:00 enqueued")
        postgres_server.stop()
        clock.now = at(3, 1) + dt.timedelta(seconds=10)
        wait_for(lambda: messages(caplog, "cannot be reached"), timeout=30, what="the outage's line")
        clock.now = at(3, 2) + dt.timedelta(seconds=10)
        clock.ticks(3)
        clock.now = at(3, 3) + dt.timedelta(seconds=20)
        clock.ticks(3)
        postgres_server.start_again()
        wait_for(lambda: messages(caplog, "answers again after"), timeout=60, what="the end of the outage")
        wait_for(lambda: len(reports) == 2, what="the period 03:03 enqueued")
        clock.ticks(3)  # and no more
    assert reports == [[("test.minutely", at(3, 0))], [("test.minutely", at(3, 3))]]
    assert claimed(app) == [at(3, 0), at(3, 3)]
    where = f"The app's database postgresql+psycopg://postgres:***@127.0.0.1:{postgres_server.port}/postgres"
    where += "?connect_timeout=2 (DB_URL)"
    records = loud(caplog)
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING], [r.getMessage() for r in records]
    lost, back = (r.getMessage() for r in records)
    # A pooled connection ended by the server's stop gives psycopg's AdminShutdown; a new one, OperationalError.
    assert re.match(rf"{re.escape(where)} cannot be reached \((OperationalError|AdminShutdown): ", lost), lost
    assert "\n" not in lost and lost.endswith(WHILE_DOWN), lost
    failed = len(quiet_ticks(caplog))
    assert failed >= 6
    assert re.fullmatch(
        rf"{re.escape(where)} answers again after \d+ s \(failed scheduler ticks: {failed}\): "
        + re.escape(when_back(300)),
        back,
    ), back
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_scheduler_on_a_locked_sqlite_database_logs_it_once_and_its_end_and_another_error_once(
    make_tasks_app: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite locked by another process past the busy timeout is an outage (erlen-db's 503): one warning, the
    periodic job's tick and the retention's hour tried again at each tick, one line when it is free again, both
    done then. A missing table is no outage: one error, naming it and the fix, however many ticks meet it."""
    caplog.set_level(logging.DEBUG, logger="erlen_tasks")
    app = make_tasks_app({"DB_SQLITE_BUSY_TIMEOUT": 50, "TASKS_CRON_CATCH_UP_SECONDS": 600})
    path = erlen_db.database_of(app).engine.url.database
    assert path is not None
    clock = Clock(T0)
    scheduler = Scheduler(app, clock=clock)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        with running(scheduler) as reports:
            wait_for(lambda: reports == [[("test.minutely", at(3, 0))]], what="the period 03:00 enqueued")
            blocker.execute("BEGIN EXCLUSIVE")  # another process writing for long: readers and writers wait
            clock.now = at(4, 0) + dt.timedelta(seconds=10)  # a new period and a new hour for the retention
            wait_for(lambda: messages(caplog, "cannot be reached"), what="the outage's line")
            clock.ticks(3)
            blocker.execute("ROLLBACK")
            wait_for(lambda: messages(caplog, "answers again after"), what="the end of the outage")
            wait_for(lambda: len(reports) == 2, what="the period 04:00 enqueued")
            assert claimed(app, RETENTION_CLAIM) == [at(3, 0), at(4, 0)]  # the retention had its turn too
            blocker.execute("DROP TABLE tasks_cron_periods")
            clock.now = at(4, 1) + dt.timedelta(seconds=10)
            wait_for(lambda: messages(caplog, "refused its work"), what="the error's line")
            clock.ticks(5)
    finally:
        blocker.close()
    assert reports == [[("test.minutely", at(3, 0))], [("test.minutely", at(4, 0))]]
    where = f"The app's database sqlite:///{path} (DB_URL)"
    records = loud(caplog)
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING, logging.ERROR], [
        r.getMessage() for r in records
    ]
    lost, back, refused = (r.getMessage() for r in records)
    assert lost == f"{where} cannot be reached (OperationalError: database is locked){WHILE_DOWN}", lost
    failed = len(quiet_ticks(caplog))
    assert failed >= 3
    assert re.fullmatch(
        rf"{re.escape(where)} answers again after \d+ s \(failed scheduler ticks: {failed}\): "
        + re.escape(when_back(600)),
        back,
    ), back
    assert refused == (
        "Scheduler: the app's database refused its work (OperationalError: no such table: tasks_cron_periods): "
        "periodic jobs are not enqueued nor old rows deleted until this is fixed (if a table is missing, run "
        "`erlen db upgrade`); each tick tries again."
    ), refused


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_period_the_outage_kept_past_the_catch_up_window_is_named_in_a_warning(
    make_tasks_app: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The database back 50 s after the period 03:01 began, with a catch-up window of 20 s: the period is not
    enqueued, as documented, and a warning says so, naming the job, the period and the setting (before, it was
    skipped without a word). The next period is enqueued as usual."""
    caplog.set_level(logging.DEBUG, logger="erlen_tasks")
    app = make_tasks_app({"DB_SQLITE_BUSY_TIMEOUT": 50, "TASKS_CRON_CATCH_UP_SECONDS": 20})
    path = erlen_db.database_of(app).engine.url.database
    assert path is not None
    clock = Clock(T0 - dt.timedelta(seconds=20))  # 03:00:10
    scheduler = Scheduler(app, clock=clock)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        with running(scheduler) as reports:
            wait_for(lambda: reports == [[("test.minutely", at(3, 0))]], what="the period 03:00 enqueued")
            blocker.execute("BEGIN EXCLUSIVE")
            clock.now = at(3, 1) + dt.timedelta(seconds=5)
            wait_for(lambda: messages(caplog, "cannot be reached"), what="the outage's line")
            clock.now = at(3, 1) + dt.timedelta(seconds=50)
            clock.ticks(2)
            blocker.execute("ROLLBACK")
            wait_for(lambda: messages(caplog, "is not enqueued"), what="the missed period's line")
            clock.now = at(3, 2) + dt.timedelta(seconds=5)
            wait_for(lambda: len(reports) == 2, what="the period 03:02 enqueued")
    finally:
        blocker.close()
    assert reports == [[("test.minutely", at(3, 0))], [("test.minutely", at(3, 2))]]
    assert claimed(app) == [at(3, 0), at(3, 2)]
    [missed] = messages(caplog, "is not enqueued")
    assert missed.levelno == logging.WARNING
    assert missed.getMessage() == (
        "Periodic job test.minutely: its period of 2026-12-03 03:01 UTC is not enqueued: no scheduler could claim it "
        "within TASKS_CRON_CATCH_UP_SECONDS (20 s) of its start (this one only 50 s after it: the app's database "
        "could not be reached, or the process was paused). The job runs at its next period; raise "
        "TASKS_CRON_CATCH_UP_SECONDS to catch up later."
    )
    assert [r.levelno for r in loud(caplog)] == [logging.WARNING, logging.WARNING, logging.WARNING]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_period_enqueued_before_the_outage_hit_the_same_tick_is_reported(
    make_db_app: t.Any, queue_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two jobs due in one tick: the first's period is claimed and enqueued (committed), then the database is
    locked past the busy timeout before the second's. The tick returns the first (before, it returned nothing: the
    period was enqueued, but never reported, so `erlen tasks worker` printed no "Scheduled" line for it); the
    second is enqueued and reported at the next tick, once the database answers."""
    caplog.set_level(logging.DEBUG, logger="erlen_tasks")
    app = make_db_app(
        [*PLUGINS, "tasks_second_cron"],
        {**broker_settings("database", queue_prefix), "DB_SQLITE_BUSY_TIMEOUT": 50},
        create_all=True,
    )
    path = erlen_db.database_of(app).engine.url.database
    assert path is not None
    scheduler = Scheduler(app, clock=Clock(T0))
    assert [job.name for job in scheduler.jobs] == ["test.minutely", "test.minutely_too"]
    engine = erlen_db.database_of(app).engine
    blocker = sqlite3.connect(path, isolation_level=None)
    commits: list[object] = []

    def count_commit(connection: t.Any) -> None:
        commits.append(connection)

    def lock_after_the_first_claim(connection: t.Any) -> None:
        # Another process takes the database for long as the transaction after the first period's claim begins.
        if commits and not blocker.in_transaction:
            blocker.execute("BEGIN EXCLUSIVE")

    sa.event.listen(engine, "commit", count_commit)
    sa.event.listen(engine, "begin", lock_after_the_first_claim)
    try:
        assert scheduler.run_once() == [("test.minutely", at(3, 0))]
        assert messages(caplog, "cannot be reached")
    finally:
        sa.event.remove(engine, "begin", lock_after_the_first_claim)
        sa.event.remove(engine, "commit", count_commit)
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    assert scheduler.run_once() == [("test.minutely_too", at(3, 0))]
    assert claimed(app) == [at(3, 0)] and claimed(app, "test.minutely_too") == [at(3, 0)]


def test_a_late_period_another_scheduler_enqueued_is_not_warned_about(
    make_tasks_app: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Two schedulers (two hosts) on one database: the second, paused past the catch-up window of the period 03:01,
    finds it claimed by the first and says nothing, on SQLite (naive stored times) and PostgreSQL alike."""
    app = make_tasks_app({"TASKS_CRON_CATCH_UP_SECONDS": 20})
    start = T0 - dt.timedelta(seconds=20)  # 03:00:10
    first, second = Scheduler(app, clock=Clock(start)), Scheduler(app, clock=Clock(start))
    assert first.run_once() == [("test.minutely", at(3, 0))]
    assert second.run_once() == []  # claimed by the first
    t.cast(Clock, first.clock).now = at(3, 1) + dt.timedelta(seconds=5)
    assert first.run_once() == [("test.minutely", at(3, 1))]
    t.cast(Clock, second.clock).now = at(3, 1) + dt.timedelta(seconds=50)
    assert second.run_once() == []
    assert not messages(caplog, "is not enqueued")
    assert second.settled["test.minutely"] == at(3, 1)

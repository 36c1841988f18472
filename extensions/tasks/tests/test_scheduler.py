"""Periodic jobs: one run per period across every scheduler."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from conftest import TasksApp
from tasks_support import effects, rows, wait_for, worker_thread

import erlen_db
from erlen_tasks.models import CronPeriod
from erlen_tasks.scheduler import Scheduler, latest_period

T0 = dt.datetime(2026, 12, 3, 3, 0, 30, tzinfo=dt.UTC)


def test_latest_period() -> None:
    assert latest_period("0 3 * * *", T0) == dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC)
    assert latest_period("0 3 * * *", dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 12, 3, 3, 0, tzinfo=dt.UTC
    )
    assert latest_period("0 3 * * *", dt.datetime(2026, 12, 3, 2, 59, tzinfo=dt.UTC)) == dt.datetime(
        2026, 12, 2, 3, 0, tzinfo=dt.UTC
    )
    assert latest_period("*/15 * * * *", T0) == dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC)


def test_two_schedulers_enqueue_each_period_once(make_tasks_app: TasksApp) -> None:
    first, second = make_tasks_app(), make_tasks_app()  # two hosts on one database
    now = [T0]
    schedulers = [Scheduler(app, clock=lambda: now[0]) for app in (first, second)]
    results: list[list[tuple[str, dt.datetime]]] = []
    barrier = threading.Barrier(2)

    def tick(scheduler: Scheduler) -> None:
        barrier.wait()
        results.append(scheduler.tick())

    threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(len(r) for r in results) == [0, 1]
    assert [s.tick() for s in schedulers] == [[], []]  # the same period again: nothing
    now[0] = T0 + dt.timedelta(minutes=1)
    assert schedulers[1].tick() == [("test.minutely", dt.datetime(2026, 12, 3, 3, 1, tzinfo=dt.UTC))]
    assert schedulers[0].tick() == []
    assert [row.job for row in rows(first)] == ["test.minutely", "test.minutely"]


def test_a_missed_period_is_caught_up_only_if_recent(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app({"TASKS_CRON_CATCH_UP_SECONDS": 20})
    assert Scheduler(app, clock=lambda: T0).tick() == []  # the period began 30 s ago
    assert Scheduler(app, clock=lambda: T0 - dt.timedelta(seconds=15)).tick() != []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_workers_run_a_periodic_job_once(make_tasks_app: TasksApp) -> None:
    first, second = make_tasks_app(), make_tasks_app()
    with worker_thread(first, scheduler=True), worker_thread(second, scheduler=True):
        wait_for(lambda: effects(first, "minutely"), what="the periodic job's run")
        threading.Event().wait(1.5)  # both schedulers tick again meanwhile
    # One run per period (a minute may have begun during the test: then two periods, two runs).
    with erlen_db.database_of(first).session_scope() as session:
        periods = session.scalars(sa.select(CronPeriod.period).where(CronPeriod.job == "test.minutely")).all()
    wait_for(lambda: len(effects(first, "minutely")) == len(periods), what="a run per period")
    assert len(rows(first)) == len(periods) in (1, 2)

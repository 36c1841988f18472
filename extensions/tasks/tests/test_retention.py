"""Retention: the workers delete the rows of succeeded jobs after TASKS_KEEP_SUCCEEDED_DAYS, once an hour."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from conftest import TasksApp
from flask import Flask
from tasks_support import effects, rows, statuses, wait_for, worker_thread
from tasks_testplugin import boom, minutely, once, record

import erlen_db
from erlen_tasks import run_jobs
from erlen_tasks.models import DEAD, DONE, FAILED, PENDING, CompletedKey, CronPeriod, JobRecord, utcnow
from erlen_tasks.retention import RETENTION_CLAIM, PruneResult, Retention
from erlen_tasks.scheduler import Scheduler

DAY = dt.timedelta(days=1)


def _enqueue(app: Flask, *calls: tuple[t.Any, tuple[t.Any, ...]]) -> None:
    with app.app_context():
        for job, arguments in calls:
            job.enqueue(*arguments)
        erlen_db.session.commit()


def _age(app: Flask, days: float, *, where: sa.ColumnElement[bool] | None = None) -> None:
    """Make the rows (matching ``where``) last changed ``days`` days ago."""
    statement = sa.update(JobRecord).values(updated_at=utcnow() - dt.timedelta(days=days))
    if where is not None:
        statement = statement.where(where)
    with erlen_db.database_of(app).session_scope() as session:
        session.execute(statement)


def _by_status(app: Flask) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, status in statuses(app).items():
        found.setdefault(status, []).append(name.split("#")[0])
    return {status: sorted(names) for status, names in found.items()}


def test_succeeded_rows_are_deleted_after_the_retention_the_others_kept(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    _enqueue(app, (record, ("a",)), (record, ("b",)), (minutely, ()), (boom, ("dead",)), (record, ("failed",)))
    with erlen_db.database_of(app).session_scope() as session:
        last = session.scalar(sa.select(sa.func.max(JobRecord.id)))
        # One waits for its retry, as after a failed try.
        session.execute(sa.update(JobRecord).where(JobRecord.id == last).values(status=FAILED, eta=utcnow() + DAY))
    run_jobs(app)
    _enqueue(app, (record, ("not due",)))
    with erlen_db.database_of(app).session_scope() as session:
        session.execute(sa.update(JobRecord).where(JobRecord.status == PENDING).values(eta=utcnow() + 30 * DAY))
    _age(app, 8)  # every row: older than the week they are kept
    _age(app, 6, where=JobRecord.id == 2)  # but this one: within it
    assert _by_status(app) == {
        DONE: ["test.minutely", "test.record", "test.record"],
        DEAD: ["test.boom"],
        FAILED: ["test.record"],
        PENDING: ["test.record"],
    }

    result = Retention(app).prune()

    assert result == PruneResult(jobs=2, periods=0)
    assert _by_status(app) == {
        DONE: ["test.record"],
        DEAD: ["test.boom"],
        FAILED: ["test.record"],
        PENDING: ["test.record"],
    }
    assert [row.id for row in rows(app) if row.status == DONE] == [2]
    assert Retention(app).prune() == PruneResult()  # nothing more


def test_only_the_rows_of_periodic_jobs_when_configured(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app({"TASKS_PRUNE_ONLY_PERIODIC": True, "TASKS_KEEP_SUCCEEDED_DAYS": 0.5})
    _enqueue(app, (record, ("kept",)), (minutely, ()), (minutely, ()))
    run_jobs(app)
    _age(app, 1)
    assert Retention(app).prune() == PruneResult(jobs=2)
    assert _by_status(app) == {DONE: ["test.record"]}


def test_none_keeps_every_row(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app({"TASKS_KEEP_SUCCEEDED_DAYS": None})
    _enqueue(app, (record, ("kept",)), (minutely, ()))
    run_jobs(app)
    _age(app, 400)
    retention = Retention(app)
    assert not retention.enabled
    assert retention.tick() is None
    assert retention.prune() == PruneResult()
    assert len(rows(app)) == 2


def test_each_hour_is_pruned_by_one_host(make_tasks_app: TasksApp) -> None:
    first, second = make_tasks_app(), make_tasks_app()  # two hosts on one database
    _enqueue(first, (record, ("a",)), (record, ("b",)))
    run_jobs(first)
    _age(first, 10)
    now = [utcnow().replace(minute=59, second=50)]
    retentions = [Retention(app, clock=lambda: now[0]) for app in (first, second)]

    assert retentions[0].tick() == PruneResult(jobs=2)
    assert retentions[1].tick() is None  # the hour is claimed
    assert retentions[0].tick() is None  # and settled, without a query
    _enqueue(first, (record, ("c",)))
    run_jobs(first)
    _age(first, 10)
    assert [r.tick() for r in retentions] == [None, None]  # the same hour: the new row waits for the next
    now[0] += dt.timedelta(seconds=15)  # the next hour
    assert retentions[1].tick() == PruneResult(jobs=1)
    assert retentions[0].tick() is None
    with erlen_db.database_of(first).session_scope() as session:
        claims = session.scalars(sa.select(CronPeriod.period).where(CronPeriod.job == RETENTION_CLAIM)).all()
    assert len(claims) == 2


def test_batches_are_bounded_the_rest_waits_for_the_next_hour(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    _enqueue(app, *[(record, (str(n),)) for n in range(7)])
    run_jobs(app)
    _age(app, 10)
    retention = Retention(app, batch_size=2, max_batches=3)
    assert retention.prune() == PruneResult(jobs=6)
    assert [row.job for row in rows(app)] == ["test.record"]
    assert retention.prune() == PruneResult(jobs=1)
    assert rows(app) == []


def test_claimed_periods_are_deleted_once_no_scheduler_can_claim_them_again(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app({"TASKS_KEEP_SUCCEEDED_DAYS": 0.01, "TASKS_CRON_CATCH_UP_SECONDS": 300})
    now = utcnow().replace(second=0, microsecond=0)
    periods = [now - DAY, now - dt.timedelta(hours=2), now - dt.timedelta(minutes=10), now]
    with erlen_db.database_of(app).session_scope() as session:
        for period in periods:
            session.add(CronPeriod(job="test.minutely", period=period, claimed_at=period))
    # Older than the retention (15 min) and than the catch-up window plus a margin for clocks (1 h 5 min).
    assert Retention(app).prune(now) == PruneResult(periods=2)
    with erlen_db.database_of(app).session_scope() as session:
        left = session.scalars(sa.select(CronPeriod.period).order_by(CronPeriod.period)).all()
    assert [p.replace(tzinfo=dt.UTC) if p.tzinfo is None else p for p in left] == periods[2:]
    # The latest period is still claimed: a scheduler starting now does not enqueue it again.
    assert Scheduler(app, clock=lambda: now).tick() == []


def test_idempotency_keys_outlive_the_rows_of_their_runs(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    _enqueue(app, (once, ("order-42",)))
    run_jobs(app)
    _age(app, 30)
    assert Retention(app).prune() == PruneResult(jobs=1)
    assert rows(app) == []
    with erlen_db.database_of(app).session_scope() as session:
        assert session.scalars(sa.select(CompletedKey.key)).all() == ["test.once:order-42"]
    _enqueue(app, (once, ("order-42",)))  # delivered again, a month later
    run_jobs(app)
    assert effects(app) == ["order-42"]  # skipped: the key still holds


def test_completed_keys_are_deleted_after_their_own_retention_when_set(make_tasks_app: TasksApp) -> None:
    """TASKS_KEEP_COMPLETED_KEYS_DAYS bounds tasks_completed_keys; younger keys keep protecting their jobs."""
    app = make_tasks_app({"TASKS_KEEP_COMPLETED_KEYS_DAYS": 90.0})
    _enqueue(app, (once, ("old",)), (once, ("recent",)))
    run_jobs(app)
    with erlen_db.database_of(app).session_scope() as session:
        session.execute(
            sa.update(CompletedKey).where(CompletedKey.key == "test.once:old").values(completed_at=utcnow() - 91 * DAY)
        )
    assert Retention(app).prune().keys == 1
    with erlen_db.database_of(app).session_scope() as session:
        assert session.scalars(sa.select(CompletedKey.key)).all() == ["test.once:recent"]
    _enqueue(app, (once, ("recent",)))  # delivered again within the retention
    run_jobs(app)
    assert sorted(effects(app)) == ["old", "recent"]  # skipped: its key still holds
    assert Retention(make_tasks_app()).prune().keys == 0  # unset (the default): kept for good


def test_the_worker_prunes_by_itself(make_tasks_app: TasksApp) -> None:
    """No periodic job, no command: the worker's scheduler deletes the old rows of succeeded jobs."""
    app = make_tasks_app()
    _enqueue(app, (record, ("old",)), (boom, ("dead",)))
    run_jobs(app)
    _age(app, 8)
    with worker_thread(app, scheduler=True):
        # (The scheduler enqueues the test plugin's periodic job too: its new row is kept.)
        wait_for(lambda: "test.record" not in str(statuses(app)), what="the old succeeded row deleted")
    assert _by_status(app).get(DEAD) == ["test.boom"]

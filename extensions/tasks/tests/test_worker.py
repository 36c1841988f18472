"""The worker on each broker (database, Redis, RabbitMQ) and each database: runs, retries, time limits, queues."""

from __future__ import annotations

import datetime as dt
import typing as t
from pathlib import Path

import pytest
from conftest import PLUGINS, TasksApp, broker_settings
from flask import Flask
from tasks_support import effects, rows, statuses, wait_for, worker_thread
from tasks_testplugin import boom, flaky, hang, record, slow

import erlen_db
from erlen_tasks.models import DEAD, DONE


def enqueue_committed(app: Flask, *calls: tuple[object, tuple[object, ...], dict[str, object]]) -> None:
    with app.app_context():
        for job, args, kwargs in calls:
            job.enqueue(*args, **kwargs)  # type: ignore[attr-defined]
        erlen_db.session.commit()


def test_jobs_run_once_each(tasks_app: Flask) -> None:
    enqueue_committed(tasks_app, *[(record, (f"job{n}",), {}) for n in range(5)])
    with worker_thread(tasks_app) as reports:
        wait_for(lambda: len(effects(tasks_app)) == 5, what="five effects")
        wait_for(lambda: set(statuses(tasks_app).values()) == {DONE}, what="every job done")
    assert sorted(effects(tasks_app)) == [f"job{n}" for n in range(5)]
    assert sorted(r.outcome for r in reports) == ["done"] * 5
    assert all(row.attempts == 1 for row in rows(tasks_app))


def test_a_failing_job_is_retried_with_backoff_then_succeeds(tasks_app: Flask) -> None:
    enqueue_committed(tasks_app, (flaky, ("f",), {"failures": 2}))
    with worker_thread(tasks_app) as reports:
        wait_for(lambda: effects(tasks_app, "f"), what="the third try to succeed")
        wait_for(lambda: set(statuses(tasks_app).values()) == {DONE}, what="the job done")
    assert effects(tasks_app, "f:try") == ["f:try"] * 3
    assert [r.outcome for r in reports] == ["retrying", "retrying", "done"]
    assert rows(tasks_app)[0].attempts == 3


def test_a_failed_job_s_eta_is_the_time_of_its_next_try(tasks_app: Flask) -> None:
    """What `erlen tasks list` and the admin show of a job waiting for its retry: when it runs next. On Redis and
    RabbitMQ (whose runs the Tracking middleware records) the row kept the time of its first enqueue before."""
    from tasks_testplugin import retried_later

    from erlen_tasks.models import FAILED, aware

    enqueue_committed(tasks_app, (retried_later, ("r",), {}))
    [queued] = rows(tasks_app)
    with worker_thread(tasks_app):
        wait_for(lambda: set(statuses(tasks_app).values()) == {FAILED}, what="the first try failed")
        [failed] = rows(tasks_app)
        wait_for(lambda: set(statuses(tasks_app).values()) == {DONE}, what="the second try done")
    first_enqueue, next_try, failure = aware(queued.eta), aware(failed.eta), aware(failed.updated_at)
    assert first_enqueue is not None and next_try is not None and failure is not None
    # The backoff of test.retried_later's first retry is 1.5 to 3 seconds after the failure (Dramatiq's jitter).
    assert next_try - failure >= dt.timedelta(seconds=1), (first_enqueue, failure, next_try)
    assert next_try - first_enqueue >= dt.timedelta(seconds=1)
    assert effects(tasks_app, "r:try") == ["r:try"] * 2


def test_a_job_out_of_tries_is_dead_with_its_error(tasks_app: Flask) -> None:
    enqueue_committed(tasks_app, (boom, ("b",), {}))
    with worker_thread(tasks_app) as reports:
        wait_for(lambda: set(statuses(tasks_app).values()) == {DEAD}, what="the job dead")
    [row] = rows(tasks_app)
    assert row.last_error == "RuntimeError: boom b"
    assert [r.outcome for r in reports] == ["dead"]


def test_a_job_past_its_timeout_is_interrupted(tasks_app: Flask) -> None:
    enqueue_committed(tasks_app, (hang, ("h",), {}))
    with worker_thread(tasks_app) as reports:
        wait_for(lambda: set(statuses(tasks_app).values()) == {DEAD}, timeout=15, what="the job interrupted")
    assert effects(tasks_app) == []
    assert "TimeLimitExceeded" in (rows(tasks_app)[0].last_error or "")
    assert reports[0].seconds < 5


def test_two_workers_on_two_queues(make_tasks_app: TasksApp, broker_kind: str, queue_prefix: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = broker_settings(broker_kind, queue_prefix)
    first, second = make_tasks_app(settings), make_tasks_app(settings)
    enqueue_committed(
        first,
        (record, ("default-queue",), {}),
        (slow, ("slow-queue",), {"seconds": 0.0, "started_file": str(tmp_path / "started")}),
    )
    with worker_thread(first, queues=["default"]) as default_runs, worker_thread(second, queues=["slow"]) as slow_runs:
        wait_for(lambda: len(effects(first)) == 2, what="both jobs")
    assert [r.job for r in default_runs] == ["test.record"]
    assert [r.job for r in slow_runs] == ["test.slow"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_priority_orders_waiting_jobs_on_the_database_broker(make_tasks_app: TasksApp) -> None:
    from erlen_tasks.jobs import job

    app = make_tasks_app()
    # Rows of one queue are claimed by priority, then time: the later, more urgent job runs first.
    with app.app_context():
        record.enqueue("low")
        row = record.enqueue("urgent")
        row.priority = 0
        rows_low = erlen_db.session.get(type(row), row.id - 1)
        assert rows_low is not None
        rows_low.priority = 9
        erlen_db.session.commit()
    with worker_thread(app, threads=1):
        wait_for(lambda: len(effects(app)) == 2, what="both jobs")
    assert effects(app) == ["urgent", "low"]
    assert job  # the decorator is public API


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_job_no_plugin_of_the_worker_declares_is_dead_with_its_name(
    make_tasks_app: TasksApp, broker_kind: str, queue_prefix: str
) -> None:
    """A job enqueued by newer code than the worker's (or renamed): dead, its error naming it, its line written,
    and `erlen tasks retry` can queue it again; on Redis and RabbitMQ it stayed "relayed" for good before."""
    import json

    import sqlalchemy as sa

    from erlen_tasks.models import JobRecord

    app = make_tasks_app({**broker_settings(broker_kind, queue_prefix), "TASKS_HANDOFF": False})
    with app.app_context():
        row = record.enqueue("unknown")
        message = json.loads(row.message)
        message["actor_name"] = "test.added_later"
        renamed = {"job": "test.added_later", "message": json.dumps(message)}
        erlen_db.session.execute(sa.update(JobRecord).where(JobRecord.id == row.id).values(**renamed))
        record.enqueue("known")
        erlen_db.session.commit()
    with worker_thread(app) as reports:
        wait_for(lambda: sorted(statuses(app).values()) == [DEAD, DONE], what="the unknown job dead, the other done")
    assert effects(app) == ["known"]
    [unknown] = [row for row in rows(app) if row.job == "test.added_later"]
    error = "ActorNotFound: no enabled plugin of this worker declares the job 'test.added_later'."
    assert unknown.last_error == error
    assert [(r.job, r.outcome, r.error) for r in reports if r.job == "test.added_later"] == [
        ("test.added_later", "dead", error)
    ]
    result = app.test_cli_runner().invoke(args=["tasks", "retry", "--dead"])
    assert result.exit_code == 0 and "Queued 1 job(s) again" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_a_database_outage_during_a_job_does_not_run_it_again(
    make_db_app: t.Any, postgres_server: t.Any, queue_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The database broker on a PostgreSQL of the test's own, stopped while a job runs: Dramatiq's worker closes
    the queue's consumer and makes another. The job, ending once the database is back, is settled once and
    runs once (before, its acknowledgement went through the new consumer's claim token and matched no row, its
    lease was no longer renewed, and the job ran a second time)."""
    from tasks_testplugin import gated

    settings = {**broker_settings("database", queue_prefix), "TASKS_LEASE_SECONDS": 2.0}
    app = make_db_app(PLUGINS, settings, url=postgres_server.url + "?connect_timeout=2", create_all=True)
    started, gate = tmp_path / "started", tmp_path / "gate"
    enqueue_committed(app, (gated, ("job",), {"started_file": str(started), "gate_file": str(gate)}))
    with worker_thread(app, threads=3):
        wait_for(started.exists, what="the job to start")
        postgres_server.stop()
        wait_for(
            lambda: any("cannot be reached" in r.getMessage() for r in caplog.records),
            what="the consumer's error while the database is away",
        )
        postgres_server.start_again()
        # Once the queue's consumer is made anew (Dramatiq waits 3 s), a job enqueued now runs; only then does the
        # first job end.
        opened = tmp_path / "opened"
        opened.write_text("go")
        marker = {"started_file": str(tmp_path / "marker-started"), "gate_file": str(opened)}
        enqueue_committed(app, (gated, ("marker",), marker))
        wait_for(lambda: effects(app, "marker"), timeout=30, what="the queue's new consumer to run a job")
        gate.write_text("go")
        wait_for(lambda: set(statuses(app).values()) == {DONE}, timeout=30, what="both jobs done")
    assert sorted(effects(app)) == ["job", "marker"]
    assert [row.attempts for row in rows(app)] == [1, 1]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_a_job_ending_while_the_database_is_away_is_acknowledged_once_it_is_back(
    make_db_app: t.Any, postgres_server: t.Any, queue_prefix: str, tmp_path: Path
) -> None:
    """The database broker: a job (touching no database) ends while the database is stopped. Its acknowledgement
    waits for the database and is written once it is back; the job runs once (before, Dramatiq dropped the
    failed acknowledgement: the row stayed running, and the job ran again)."""
    from tasks_testplugin import gated_file

    settings = {**broker_settings("database", queue_prefix), "TASKS_LEASE_SECONDS": 2.0}
    app = make_db_app(PLUGINS, settings, url=postgres_server.url + "?connect_timeout=2", create_all=True)
    runs, started, gate = tmp_path / "runs", tmp_path / "started", tmp_path / "gate"
    arguments = {"runs_file": str(runs), "started_file": str(started), "gate_file": str(gate)}
    enqueue_committed(app, (gated_file, (), arguments))
    with worker_thread(app):
        wait_for(started.exists, what="the job to start")
        postgres_server.stop()
        gate.write_text("go")
        wait_for(runs.exists, what="the job to end")
        postgres_server.start_again()
        wait_for(lambda: set(statuses(app).values()) == {DONE}, timeout=40, what="the job acknowledged")
    assert runs.read_text() == "ran\n"
    assert [row.attempts for row in rows(app)] == [1]


def test_a_job_whose_queued_arguments_no_longer_fit_is_dead_at_once(make_tasks_app: TasksApp) -> None:
    """A job changed while it was queued (an argument removed): its stored arguments never fit again, yet it
    was tried again with backoff, each try a traceback, before it was dead."""
    import dramatiq

    app = make_tasks_app()
    with app.app_context():
        row = record.enqueue("changed")
        message = dramatiq.Message.decode(row.message.encode())
        # As queued by an earlier version of the job, which had the argument "colour".
        row.message = message.copy(kwargs={**message.kwargs, "colour": "red"}).encode().decode()
        erlen_db.session.commit()
    with worker_thread(app) as reports:
        wait_for(lambda: set(statuses(app).values()) == {DEAD}, what="the job dead")
    [dead] = rows(app)
    assert dead.attempts == 1 and effects(app) == []
    assert (
        dead.last_error == "JobArgumentError: Job 'test.record' no longer has the argument 'colour' it was queued with."
    )
    assert [(r.job, r.outcome) for r in reports] == [("test.record", "dead")]


@pytest.mark.parametrize("stored", ["{not json", '{"queue_name": "default"}', "[]"])
def test_a_row_whose_stored_message_cannot_be_read_is_dead_and_the_queue_goes_on(
    make_tasks_app: TasksApp, stored: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A row written by another program or edited by hand: the consumer raised DecodeError (a traceback) and
    the row, left running, was claimed again after every lease, forever."""
    import sqlalchemy as sa

    from erlen_tasks.models import JobRecord

    app = make_tasks_app({"TASKS_LEASE_SECONDS": 1.0})
    with app.app_context():
        broken = record.enqueue("broken")
        erlen_db.session.execute(sa.update(JobRecord).where(JobRecord.id == broken.id).values(message=stored))
        record.enqueue("fine")
        erlen_db.session.commit()
        broken_id = broken.id
    with caplog.at_level("ERROR", logger="erlen_tasks"), worker_thread(app):
        wait_for(lambda: sorted(statuses(app).values()) == [DEAD, DONE], what="the broken row dead, the other done")
    assert effects(app) == ["fine"]
    [dead] = [row for row in rows(app) if row.id == broken_id]
    assert dead.last_error is not None and dead.last_error.startswith("The stored message cannot be read (")
    assert dead.last_error.endswith("Enqueue the job again.") and dead.attempts == 1
    logged = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert logged == [f"erlen-tasks: job row {broken_id} of the queue {dead.queue!r} is dead: {dead.last_error}"]
    # No try reads it better: `erlen tasks retry` leaves it dead rather than fail on it.
    result = app.test_cli_runner().invoke(args=["tasks", "retry", "--dead"])
    assert result.exit_code == 0 and "Queued 0 job(s) again" in result.output, result.output
    assert [row.status for row in rows(app) if row.id == broken_id] == [DEAD]

"""The hand-off: a committed job goes to Redis or RabbitMQ from the enqueuing process, at the commit."""

from __future__ import annotations

import dramatiq
import pytest
import redis
from conftest import TasksApp, broker_settings
from flask import Flask
from tasks_support import effects, rows, wait_for, worker_thread
from tasks_testplugin import record

import erlen_db
from erlen_tasks import state_of
from erlen_tasks.brokers.tracking import Tracking
from erlen_tasks.models import DONE, PENDING, RELAYED
from erlen_tasks.relay import Relay


def waiting_in_redis(app: Flask) -> int:
    """The messages waiting in the app's default queue in Redis."""
    client = redis.Redis.from_url(app.config["TASKS_URL"])
    try:
        return int(client.hlen(f"dramatiq:{state_of(app).queue_name('default')}.msgs"))
    finally:
        client.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_a_committed_job_reaches_the_broker_at_the_commit(
    make_tasks_app: TasksApp, queue_prefix: str, kind: str
) -> None:
    app = make_tasks_app(broker_settings(kind, queue_prefix))
    handoff = state_of(app).handoff
    with app.app_context():
        record.enqueue("handed")
        erlen_db.session.commit()
    [row] = rows(app)
    # Sent, its mark not written yet: the row's claim keeps the relay away from it.
    assert (row.status, row.claim_token) == (PENDING, handoff.token)
    assert Relay(app).relay_once().relayed == 0
    handoff.flush()
    [row] = rows(app)
    assert (row.status, row.claim_token, row.claimed_until) == (RELAYED, None, None)
    with worker_thread(app, relay=False):  # no relay: the job is in the broker already
        wait_for(lambda: effects(app) == ["handed"], what="the handed-off job")
        wait_for(lambda: rows(app)[0].status == DONE, what="its row done")


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_only_the_jobs_of_the_committed_transaction_are_handed_off(make_tasks_app: TasksApp, queue_prefix: str) -> None:
    app = make_tasks_app(broker_settings("redis", queue_prefix))
    with app.app_context():
        session = erlen_db.session
        with session.begin_nested() as savepoint:
            record.enqueue("savepoint rolled back")
            savepoint.rollback()
        with session.begin_nested():
            record.enqueue("savepoint released")
        record.enqueue("committed")
        session.commit()
        record.enqueue("transaction rolled back")
        session.rollback()
        record.enqueue("session closed")
        session.close()
        session.commit()  # a later commit of the same session sends nothing of the closed transaction
    assert waiting_in_redis(app) == 2
    state_of(app).handoff.flush()
    assert [(row.status, row.message.count("released")) for row in rows(app)] == [(RELAYED, 1), (RELAYED, 0)]
    with worker_thread(app, relay=False):
        wait_for(lambda: sorted(effects(app)) == ["committed", "savepoint released"], what="the committed jobs")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_with_the_handoff_off_the_relay_hands_jobs_over(make_tasks_app: TasksApp, queue_prefix: str) -> None:
    app = make_tasks_app({**broker_settings("redis", queue_prefix), "TASKS_HANDOFF": False})
    with app.app_context():
        record.enqueue("relayed")
        erlen_db.session.commit()
    assert waiting_in_redis(app) == 0
    [row] = rows(app)
    assert (row.status, row.claim_token) == (PENDING, None)
    assert Relay(app).relay_once().relayed == 1
    assert waiting_in_redis(app) == 1


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_the_mark_leaves_a_row_whose_run_a_worker_recorded_as_the_worker_wrote_it(
    make_tasks_app: TasksApp, queue_prefix: str
) -> None:
    """The worker's record came first: the hand-off's mark writes nothing (no relayed, no later updated_at)."""
    app = make_tasks_app(broker_settings("redis", queue_prefix))
    handoff = state_of(app).handoff
    with app.app_context():
        record.enqueue("ran before its mark")
        erlen_db.session.commit()
    [row] = rows(app)
    tracking = Tracking(erlen_db.database_of(app).engine)
    message = dramatiq.Message.decode(row.message.encode())
    tracking.before_process_message(state_of(app).broker, message)
    tracking.after_process_message(state_of(app).broker, message)
    tracking.close()
    [recorded] = rows(app)
    assert (recorded.status, recorded.attempts, recorded.claim_token, recorded.claimed_until) == (DONE, 1, None, None)
    handoff.flush()
    [after] = rows(app)
    assert (after.status, after.updated_at, after.claim_token) == (DONE, recorded.updated_at, None)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_marking_thread_lets_a_sent_row_wait_before_its_mark(make_tasks_app: TasksApp, queue_prefix: str) -> None:
    app = make_tasks_app(broker_settings("redis", queue_prefix))
    handoff = state_of(app).handoff
    assert 0 < handoff.mark_delay <= handoff.lease.total_seconds() / 3
    with app.app_context():
        record.enqueue("just sent")
        erlen_db.session.commit()
    handoff.flush(older_than=60.0)  # sent a moment ago: not yet
    [row] = rows(app)
    assert (row.status, row.claim_token) == (PENDING, handoff.token)
    assert Relay(app).relay_once().relayed == 0  # its claim still keeps the relay away
    handoff.flush(older_than=0.0)
    [row] = rows(app)
    assert (row.status, row.claim_token, row.claimed_until) == (RELAYED, None, None)

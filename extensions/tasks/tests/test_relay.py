"""The relay: committed jobs reach Redis or RabbitMQ after the commit, and wait while the broker is away."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from conftest import TasksApp, broker_settings
from tasks_support import OwnRedis, effects, rows, statuses, wait_for, worker_thread
from tasks_testplugin import record

import erlen_db
from erlen.testing import free_port
from erlen_tasks import state_of
from erlen_tasks.models import DONE, PENDING, RELAYED
from erlen_tasks.relay import Relay


@pytest.fixture
def own_redis(tmp_path: Path) -> t.Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_jobs_enqueued_while_redis_is_down_are_kept_then_relayed(
    make_tasks_app: TasksApp, own_redis: OwnRedis, queue_prefix: str
) -> None:
    app = make_tasks_app(
        {**broker_settings("database", queue_prefix), "TASKS_BROKER": "redis", "TASKS_URL": own_redis.url}
    )

    @app.post("/notes/<label>")
    def create(label: str) -> str:
        record.enqueue(label)
        erlen_db.session.commit()
        return "created"

    client = app.test_client()
    assert client.post("/notes/before").status_code == 200  # handed to Redis at the commit
    handoff = state_of(app).handoff
    handoff.flush()
    assert [row.status for row in rows(app)] == [RELAYED]
    own_redis.stop()
    # Requests keep working while the broker is away: the hand-off fails, the jobs stay in the outbox.
    for n in range(3):
        assert client.post(f"/notes/during{n}").status_code == 200
    assert not handoff.active  # it stopped trying for a while: the relay takes the jobs
    handoff.flush()  # the failed hand-off's claim released
    relay = Relay(app)
    result = relay.relay_once()
    assert result.relayed == 0 and result.error is not None and "Connection" in result.error
    assert [row.status for row in rows(app)] == [RELAYED, PENDING, PENDING, PENDING]
    assert all(row.claim_token is None for row in rows(app))  # released for the next pass

    own_redis.start()  # the same port: the broker is back
    # Tried again once the outage's retry interval has passed (the calls meanwhile do not wait on it).
    result = wait_for(lambda: (passed := relay.relay_once()).error is None and passed, what="a relay pass")
    assert (result.relayed, result.error) == (3, None)
    assert {row.status for row in rows(app)} == {RELAYED}
    # The test's Redis keeps nothing across a restart (no persistence): "before", in Redis when it stopped,
    # went with it. The three jobs the outbox kept while it was away all run.
    with worker_thread(app):
        wait_for(lambda: len(effects(app)) == 3, what="the three jobs")
        wait_for(lambda: list(statuses(app).values())[1:] == [DONE] * 3, what="those jobs done")
    assert sorted(effects(app)) == ["during0", "during1", "during2"]
    app.extensions["tasks"].close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_jobs_wait_for_rabbitmq_then_go_through(make_tasks_app: TasksApp, queue_prefix: str) -> None:
    settings = {**broker_settings("rabbitmq", queue_prefix), "TASKS_HANDOFF": False}
    away = make_tasks_app({**settings, "TASKS_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"})
    with away.app_context():
        record.enqueue("waits")
        erlen_db.session.commit()
    result = Relay(away).relay_once()
    assert result.relayed == 0 and result.error
    assert [row.status for row in rows(away)] == [PENDING]
    # The broker is reachable (here: a second process of the app, configured with the real one).
    back = make_tasks_app(settings)
    assert Relay(back).relay_once().relayed == 1
    with worker_thread(back):
        wait_for(lambda: effects(back) == ["waits"], what="the job")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_rolled_back_job_never_reaches_the_broker(make_tasks_app: TasksApp, queue_prefix: str) -> None:
    app = make_tasks_app({**broker_settings("redis", queue_prefix), "TASKS_HANDOFF": False})
    with app.app_context():
        record.enqueue("rolled back")
        erlen_db.session.rollback()
        record.enqueue("committed")
        erlen_db.session.commit()
    assert Relay(app).relay_once().relayed == 1
    with worker_thread(app):
        wait_for(lambda: effects(app) == ["committed"], what="the committed job")
    assert len(rows(app)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_jobs_not_due_yet_are_not_relayed(make_tasks_app: TasksApp, queue_prefix: str) -> None:
    app = make_tasks_app(broker_settings("redis", queue_prefix))
    with app.app_context():
        record.enqueue("tomorrow", delay=86400)
        erlen_db.session.commit()
    assert Relay(app).relay_once().relayed == 0
    assert [row.status for row in rows(app)] == [PENDING]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_a_row_whose_stored_message_cannot_be_read_is_dead_and_holds_up_no_other(
    make_tasks_app: TasksApp, queue_prefix: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A row written by another program or edited by hand: its DecodeError was taken for the broker refusing,
    the batch kept, and every pass stopped at that row again, so no job queued after it ever reached the
    broker."""
    import sqlalchemy as sa

    from erlen_tasks.models import DEAD, JobRecord

    app = make_tasks_app({**broker_settings(kind, queue_prefix), "TASKS_HANDOFF": False})
    with app.app_context():
        broken = record.enqueue("broken")
        erlen_db.session.execute(sa.update(JobRecord).where(JobRecord.id == broken.id).values(message="{not json"))
        record.enqueue("after it")
        erlen_db.session.commit()
        broken_id = broken.id
    with caplog.at_level("ERROR", logger="erlen_tasks"):
        result = Relay(app).relay_once()
    assert (result.relayed, result.error) == (1, None)
    [dead, relayed] = rows(app)
    assert (dead.id, dead.status, relayed.status) == (broken_id, DEAD, RELAYED)
    assert dead.claim_token is None and dead.last_error is not None
    assert (
        dead.last_error.startswith("The stored message cannot be read (") and "Enqueue the job again" in dead.last_error
    )
    assert [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()] == [
        f"erlen-tasks: job row {broken_id} of the queue {dead.queue!r} is dead: {dead.last_error}"
    ]
    assert Relay(app).relay_once().relayed == 0  # nothing left to hand over, nothing refused
    with worker_thread(app):
        wait_for(lambda: effects(app) == ["after it"], what="the job queued after the unreadable one")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_database_error_that_is_no_outage_is_not_logged_as_one(
    make_tasks_app: TasksApp, queue_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite raises OperationalError for a missing table (erlen db upgrade not run) or a read-only file too: the
    relay reports such an error with each pass, as before, rather than as an outage ("cannot be reached ...
    check that it runs") logged once, whose passes then say nothing above DEBUG."""
    import sqlalchemy as sa

    app = make_tasks_app({**broker_settings("redis", queue_prefix), "TASKS_HANDOFF": False})
    with app.app_context():
        erlen_db.session.execute(sa.text("DROP TABLE tasks_jobs"))
        erlen_db.session.commit()
    relay = Relay(app)
    with caplog.at_level("DEBUG", logger="erlen_tasks"):
        results = [relay.relay_once() for _ in range(2)]
    for result in results:
        assert result.database_failed and not result.database_unreachable
        assert result.error == "database error: OperationalError"
    assert "cannot be reached" not in caplog.text

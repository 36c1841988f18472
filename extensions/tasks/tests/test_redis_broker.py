"""The Redis broker recovers the messages of a fetch whose answer was lost (Dramatiq issue #527).

Dramatiq's fetch script moves a message into the worker's set of unacknowledged
messages and answers with it; when the connection breaks before the answer
arrives, the message sits in the set of a worker that lives on, and plain
Dramatiq runs it only once that worker has stopped. Each test leaves Redis in
the state such a fetch leaves it: the message in the worker's set, in no queue.
"""

from __future__ import annotations

import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
import redis
from conftest import TasksApp, broker_settings
from tasks_support import OwnRedis, effects, require_redis, rows, statuses, wait_for, worker_thread
from tasks_testplugin import record

import erlen_db
from erlen_tasks import state_of
from erlen_tasks.brokers.redis import RecoveringRedisBroker
from erlen_tasks.models import DONE, RELAYED

QUEUE = "default"


@pytest.fixture
def broker() -> Iterator[RecoveringRedisBroker]:
    """A broker on the shared Redis, in a namespace of the test's own."""
    namespace = f"erlen-test-{uuid.uuid4().hex[:10]}"
    made = RecoveringRedisBroker(url=require_redis(), namespace=namespace)
    made.declare_queue(QUEUE)
    yield made
    made.close()
    client = redis.Redis.from_url(require_redis())
    for key in client.scan_iter(match=f"{namespace}:*"):
        client.delete(key)
    client.close()


def send(broker: dramatiq.Broker, label: str, *, delay: int | None = None) -> dramatiq.Message[t.Any]:
    message = dramatiq.Message(queue_name=QUEUE, actor_name="test.record", args=(label,), kwargs={}, options={})
    return broker.enqueue(message, delay=delay)


def fetch_and_lose_the_answer(broker: RecoveringRedisBroker, queue_name: str) -> None:
    """Run the fetch script as a consumer would, and drop its answer: the state a broken connection leaves."""
    assert broker.do_fetch(queue_name, 1)  # type: ignore[attr-defined]


def labels(proxies: list[dramatiq.MessageProxy | None]) -> list[str]:
    return [proxy.args[0] for proxy in proxies if proxy is not None]


def next_messages(consumer: dramatiq.Consumer, count: int) -> list[dramatiq.MessageProxy | None]:
    return [next(consumer) for _ in range(count)]


def acks(broker: RecoveringRedisBroker, queue_name: str = QUEUE) -> set[bytes]:
    return t.cast(set[bytes], broker.client.smembers(broker.acks_key(queue_name)))


def test_a_fetch_whose_answer_was_lost_is_handed_out_by_the_next_consumer(broker: RecoveringRedisBroker) -> None:
    send(broker, "lost")
    fetch_and_lose_the_answer(broker, QUEUE)
    consumer = broker.consume(QUEUE, prefetch=1, timeout=50)
    (proxy,) = next_messages(consumer, 1)
    assert proxy is not None and proxy.args == ("lost",)
    consumer.ack(proxy)
    assert acks(broker) == set()
    assert next(consumer) is None  # once only


def test_messages_the_worker_holds_stay_with_it_when_its_consumer_restarts(broker: RecoveringRedisBroker) -> None:
    for label in ("running", "lost"):
        send(broker, label)
    first = broker.consume(QUEUE, prefetch=1, timeout=50)
    (running,) = next_messages(first, 1)
    assert running is not None and running.args == ("running",)  # handed to a worker thread, being run
    fetch_and_lose_the_answer(broker, QUEUE)  # "lost": then the connection broke, and Dramatiq makes a new consumer
    second = broker.consume(QUEUE, prefetch=1, timeout=50)
    assert labels(next_messages(second, 2)) == ["lost"]  # "running" was not put back: it is not run twice
    second.ack(running)  # the running job's acknowledgement goes through the new consumer
    assert len(acks(broker)) == 1  # "lost", handed out and not acknowledged yet
    assert labels(next_messages(broker.consume(QUEUE, prefetch=1, timeout=50), 1)) == []


def test_a_delayed_message_dropped_by_a_restarted_consumer_is_recovered(broker: RecoveringRedisBroker) -> None:
    delay_queue = f"{QUEUE}.DQ"
    send(broker, "later", delay=60_000)
    first = broker.consume(delay_queue, prefetch=1, timeout=50)
    (held,) = next_messages(first, 1)
    assert held is not None and held.options["eta"]  # into the consumer thread's delay queue...
    # ...which Dramatiq's consumer thread drops after a connection error, with the consumer.
    second = broker.consume(delay_queue, prefetch=1, timeout=50)
    (again,) = next_messages(second, 1)
    assert again is not None and again.args == ("later",)


def test_a_consumer_running_on_recovers_what_its_fetch_lost(broker: RecoveringRedisBroker) -> None:
    """The Redis client sends a fetch again on a new connection when the first one broke: no consumer restarts."""
    broker.recovery_interval = 0.0
    send(broker, "running")
    consumer = broker.consume(QUEUE, prefetch=2, timeout=50)
    (running,) = next_messages(consumer, 1)
    assert running is not None
    send(broker, "lost")
    fetch_and_lose_the_answer(broker, QUEUE)
    assert labels(next_messages(consumer, 2)) == ["lost"]  # at its next fetch; "running" is still held


def test_a_consumer_running_on_keeps_its_delayed_messages(broker: RecoveringRedisBroker) -> None:
    broker.recovery_interval = 0.0
    send(broker, "later", delay=60_000)
    consumer = broker.consume(f"{QUEUE}.DQ", prefetch=1, timeout=50)
    assert labels(next_messages(consumer, 3)) == ["later"]  # held in its thread's delay queue: not put back


def test_requeued_and_rejected_messages_are_no_longer_held(broker: RecoveringRedisBroker) -> None:
    for label in ("requeued", "rejected"):
        send(broker, label)
    consumer = broker.consume(QUEUE, prefetch=2, timeout=50)
    requeued, rejected = next_messages(consumer, 2)
    assert requeued is not None and rejected is not None
    rejected.fail()
    consumer.nack(rejected)
    consumer.requeue([requeued])
    assert acks(broker) == set()
    # Fetched again and lost: had the requeue left it held, the next consumer would not put it back.
    fetch_and_lose_the_answer(broker, QUEUE)
    assert labels(next_messages(broker.consume(QUEUE, prefetch=1, timeout=50), 2)) == ["requeued"]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis", "--appendonly", "yes")  # keeps its data across a restart
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("outage", ["restart", "reconnect"])
def test_a_running_worker_runs_a_job_whose_fetch_answer_was_lost(
    make_tasks_app: TasksApp, own_redis: OwnRedis, queue_prefix: str, caplog: pytest.LogCaptureFixture, outage: str
) -> None:
    """End to end: the relayed job of a live worker whose fetch answer was lost runs once its connection is back.

    ``restart``: Redis restarts, the worker's consumer fails and Dramatiq starts a new one. ``reconnect``: the
    connection breaks, and the Redis client sends the next command on a new one: the consumer runs on.
    """
    app = make_tasks_app(
        {
            **broker_settings("database", queue_prefix),
            "TASKS_BROKER": "redis",
            "TASKS_URL": own_redis.url,
            "TASKS_HANDOFF": False,  # jobs reach Redis only through the worker's relay, on the worker's broker
            "TASKS_REDIS_RECOVERY_SECONDS": 0.5,
        }
    )
    client = redis.Redis.from_url(own_redis.url)
    with worker_thread(app):
        with app.app_context():
            record.enqueue("before")
            erlen_db.session.commit()
        wait_for(lambda: effects(app) == ["before"], what="the first job")
        (worker_id,) = client.zrange("dramatiq:__heartbeats__", 0, -1)  # the worker's broker, the only one here
        # A job the relay handed to Redis, fetched by the worker's consumer, its answer lost on the way.
        with app.app_context():
            row = record.enqueue("lost")
            row.status = RELAYED  # committed as the relay leaves it: handed to Redis
            message = dramatiq.Message.decode(row.message.encode())
            erlen_db.session.commit()
        redis_id = str(uuid.uuid4())
        queue = state_of(app).queue_name("default")
        data = message.copy(options={**message.options, "redis_message_id": redis_id}).encode()
        client.hset(f"dramatiq:{queue}.msgs", redis_id, data)
        client.sadd(f"dramatiq:__acks__.{worker_id.decode()}.{queue}", redis_id)
        if outage == "restart":
            client.close()
            own_redis.stop()
            wait_for(lambda: "cannot be reached" in caplog.text, what="the worker to meet the outage")
            own_redis.start()
        else:
            client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            client.close()
        wait_for(lambda: sorted(effects(app)) == ["before", "lost"], timeout=30.0, what="the job of the lost fetch")
        wait_for(lambda: set(statuses(app).values()) == {DONE}, what="both jobs done")
    assert [row.attempts for row in rows(app)] == [1, 1]
    app.extensions["tasks"].close()

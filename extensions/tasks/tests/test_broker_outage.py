"""A Redis or RabbitMQ broker that cannot be reached: logged once per outage, naming it, and once when it is back.

Before, the worker's consumer threads each wrote Dramatiq's ``Consumer encountered a connection error`` at every
restart (every 3 s, per queue and delay queue; for RabbitMQ without the host), the worker command a ``Relay:
broker unavailable`` line per relay pass, and ``relay --once`` a RabbitMQ error naming no host.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import time
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import dramatiq.worker
import pytest
import sqlalchemy as sa
from conftest import TasksApp, broker_settings
from flask import Flask
from tasks_support import CuttableLink, OwnRedis, effects, require_rabbitmq, rows, wait_for, worker_thread
from tasks_testplugin import gated, record

import erlen_db
from erlen.testing import free_port
from erlen_tasks.brokers.outage import BrokerUnreachable, BrokerWatch
from erlen_tasks.brokers.rabbitmq import WatchedRabbitmqBroker
from erlen_tasks.brokers.redis import RecoveringRedisBroker
from erlen_tasks.models import DONE, PENDING

PASSWORD = "outage-test-s3cret"

#: Dramatiq's lines about connection errors, written at each retry.
DRAMATIQ_LINES = ("Consumer encountered", "Restarting consumer", "post_process_message")


def unreachable_url(kind: str) -> tuple[str, str]:
    """A URL of broker ``kind`` with a password, on a free loopback port where nothing listens, and its host:port."""
    port = free_port()
    if kind == "redis":
        return f"redis://:{PASSWORD}@127.0.0.1:{port}/0", f"127.0.0.1:{port}"
    return f"amqp://guest:{PASSWORD}@127.0.0.1:{port}/%2F", f"127.0.0.1:{port}"


def commit(app: Flask, label: str) -> None:
    with app.app_context():
        record.enqueue(label)
        erlen_db.session.commit()


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if text in record.getMessage()]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_redis_outage_is_logged_once_naming_the_broker_and_its_end_once(
    make_tasks_app: TasksApp,
    queue_prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker whose Redis (of the test's own, with a password) stops, then starts again on the same port."""
    caplog.set_level(logging.INFO)
    # Dramatiq restarts a consumer 3 s after a connection error: 0.1 s here, so the outage sees many restarts.
    monkeypatch.setattr(dramatiq.worker, "CONSUMER_RESTART_DELAY_SECS", 0.1)
    server = OwnRedis(tmp_path / "redis", "--requirepass", PASSWORD, "--appendonly", "yes")
    server.start()
    try:
        url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
        settings = {**broker_settings("database", queue_prefix), "TASKS_BROKER": "redis", "TASKS_URL": url}
        app = make_tasks_app({**settings, "TASKS_HANDOFF": False})  # jobs reach Redis through the worker's relay
        relay_errors: list[t.Any] = []
        with worker_thread(app, report_relay=lambda result: result.error and relay_errors.append(result)):
            commit(app, "before")
            wait_for(lambda: effects(app) == ["before"], what="a job run through Redis")
            server.stop()
            commit(app, "during")  # waits in the outbox: the relay tries to hand it over, pass after pass
            wait_for(lambda: len(relay_errors) >= 4, what="four relay passes meeting the outage")
            assert effects(app) == ["before"]
            server.start()
            wait_for(lambda: effects(app) == ["before", "during"], timeout=30, what="the job of the outage run")
            wait_for(lambda: messages(caplog, "answers again after"), what="the end of the outage logged")
    finally:
        server.stop()
    where = f"The jobs' Redis at 127.0.0.1:{server.port} (TASKS_URL)"
    [lost] = messages(caplog, "cannot be reached")
    assert lost.levelno == logging.WARNING and lost.name == "erlen_tasks"
    assert lost.getMessage().startswith(f"{where} cannot be reached (ConnectionError: ")
    assert "this process keeps trying to connect until it answers again (tried every 0.1 s)" in lost.getMessage()
    [back] = messages(caplog, "answers again after")
    assert back.getMessage().startswith(f"{where} answers again after ")
    assert all(result.unreachable for result in relay_errors)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith(DRAMATIQ_LINES)] == []
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_the_worker_command_on_an_unreachable_broker_says_so_once(
    make_tasks_app: TasksApp, queue_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """``erlen tasks worker`` started while nothing listens on TASKS_URL's port: one line naming the broker, its
    host and port and what failed, and none per retry (of its consumers, or of its relay: a job is waiting)."""
    from test_cli import output, start_worker, stop

    monkeypatch.setenv("dramatiq_restart_delay", "100")  # Dramatiq's consumer restarts, every 0.1 s
    url, where = unreachable_url(kind)
    app = make_tasks_app({**broker_settings("database", queue_prefix), "TASKS_BROKER": kind, "TASKS_URL": url})
    app.config["TASKS_HANDOFF"] = False
    commit(app, "waiting")
    process = start_worker(app, tmp_path)
    try:
        wait_for(lambda: "cannot be reached" in output(tmp_path), timeout=60, what="the outage's line")
        time.sleep(1.0)  # not an assertion: time for retries, each of which wrote a line before
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, output(tmp_path)
    finally:
        stop(process)
    log = output(tmp_path)
    name = {"redis": "Redis", "rabbitmq": "RabbitMQ"}[kind]
    lines = [line for line in log.splitlines() if "cannot be reached" in line]
    assert len(lines) == 1, log
    assert lines[0].startswith(f"The jobs' {name} at {where} (TASKS_URL) cannot be reached ("), log
    assert "Connection refused" in lines[0] and "keeps trying to connect" in lines[0], log
    assert not any(line in log for line in (*DRAMATIQ_LINES, "Relay: broker unavailable", "Traceback")), log
    assert PASSWORD not in log
    assert [row.status for row in rows(app)] == [PENDING]  # kept in the outbox for when the broker is back


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_relay_once_on_an_unreachable_broker_names_it_and_fails(
    make_tasks_app: TasksApp, queue_prefix: str, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """No traceback, no password, no "keeps trying" line for a command that tries once; exit status 1."""
    url, where = unreachable_url(kind)
    settings = {**broker_settings("database", queue_prefix), "TASKS_BROKER": kind, "TASKS_URL": url}
    app = make_tasks_app({**settings, "TASKS_HANDOFF": False})
    commit(app, "waiting")
    result = app.test_cli_runner().invoke(args=["tasks", "relay", "--once"])
    assert result.exit_code == 1, result.output
    name = {"redis": "Redis", "rabbitmq": "RabbitMQ"}[kind]
    assert f"Error: The jobs' {name} at {where} (TASKS_URL) cannot be reached (" in result.output
    assert "relayed 0 job(s); the others wait in the outbox table" in result.output
    assert PASSWORD not in result.output and PASSWORD not in caplog.text
    assert "Traceback" not in result.output and "keeps trying" not in caplog.text
    assert [row.status for row in rows(app)] == [PENDING]


def job_message(label: str) -> dramatiq.Message[t.Any]:
    return dramatiq.Message(queue_name="default", actor_name="test.record", args=(label,), kwargs={}, options={})


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The watch's lines, in order: ``lost`` for each outage logged, ``back`` for each recovery."""
    found = []
    for line in (r.getMessage() for r in caplog.records if r.name == "erlen_tasks"):
        if "cannot be reached" in line:
            found.append("lost")
        elif "answers again after" in line:
            found.append("back")
    return found


def test_fetches_served_from_the_prefetched_messages_do_not_end_a_redis_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A fetch served from what the consumer prefetched, or that has as many messages out as it may prefetch,
    asks nothing of Redis: it took the failover's retry turn and logged "answers again" while Redis was down
    (then the next real call logged the outage again, and so on). Only a call Redis answers ends the outage."""
    caplog.set_level(logging.INFO)
    server = OwnRedis(tmp_path / "redis", "--appendonly", "yes")  # keeps the messages across the restart
    server.start()
    broker = RecoveringRedisBroker(url=server.url, namespace="outage", recovery_interval=3600.0)
    broker.watch = BrokerWatch("redis", server.url, retry_interval=0.0)  # every call may try Redis again
    try:
        broker.declare_queue("default")
        for label in ("a", "b", "c"):
            broker.enqueue(job_message(label))
        consumer = broker.consume("default", prefetch=3, timeout=10)
        first = next(consumer)  # one fetch of the three: two wait in the consumer's cache
        assert first is not None
        server.stop()
        late = job_message("late")
        fetched = []
        for _cycle in range(6):  # two fetches from the cache, then four with all three messages out: no request
            with pytest.raises(BrokerUnreachable):
                broker.enqueue(late)  # a call that does reach for Redis, between the fetches
            fetched.append(next(consumer))
        assert [proxy.args[0] for proxy in fetched if proxy is not None] == ["b", "c"]
        assert outage_lines(caplog) == ["lost"]
        server.start()
        consumer.ack(first)  # Redis answers: the outage ends, once
        for proxy in fetched:
            if proxy is not None:
                consumer.ack(proxy)
        assert outage_lines(caplog) == ["lost", "back"]
        warnings = [r for r in caplog.records if r.name == "erlen_tasks" and r.levelno >= logging.WARNING]
        assert len(warnings) == 2
    finally:
        broker.close()
        server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_a_process_that_only_enqueues_says_it_tries_the_broker_again_with_a_later_job(
    make_tasks_app: TasksApp, queue_prefix: str, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """A web process hands its committed jobs over and never tries the broker on its own: its line said "this
    process keeps trying to connect (tried every 3 s)", which only a worker (or the relay command) does."""
    url, where = unreachable_url(kind)
    app = make_tasks_app({**broker_settings("database", queue_prefix), "TASKS_BROKER": kind, "TASKS_URL": url})
    commit(app, "handed over after the commit")
    [line] = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    name = {"redis": "Redis", "rabbitmq": "RabbitMQ"}[kind]
    assert line.startswith(f"The jobs' {name} at {where} (TASKS_URL) cannot be reached ("), line
    assert line.endswith(
        ": committed jobs wait in the outbox table (a worker's relay hands them over) until it answers again "
        "(this process tries it again only when it hands over a job committed 5 s or more after a failed "
        "hand-off)."
    ), line
    assert "keeps trying" not in caplog.text and "tried every" not in caplog.text
    assert [row.status for row in rows(app)] == [PENDING]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dramatiqs_warning_that_an_unacknowledged_job_may_run_again_is_kept_once_per_outage(
    make_tasks_app: TasksApp,
    queue_prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job that ends while Redis is down cannot be acknowledged: Dramatiq retries and warns that a worker
    restarted meanwhile runs it again. That line was left out with the connection errors; it is kept, once."""
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(dramatiq.worker, "CONSUMER_RESTART_DELAY_SECS", 0.1)
    monkeypatch.setattr(dramatiq.worker, "POST_PROCESS_MESSAGE_RETRY_DELAY_SECS", 0.1)  # 5 s: ten retries a second
    server = OwnRedis(tmp_path / "redis", "--appendonly", "yes")
    server.start()
    try:
        settings = {**broker_settings("database", queue_prefix), "TASKS_BROKER": "redis", "TASKS_URL": server.url}
        app = make_tasks_app({**settings, "TASKS_HANDOFF": False})
        started, gate = tmp_path / "started", tmp_path / "gate"
        with worker_thread(app):
            with app.app_context():
                gated.enqueue("acknowledged late", started_file=str(started), gate_file=str(gate))
                erlen_db.session.commit()
            wait_for(started.exists, what="the job to start")
            server.stop()
            wait_for(lambda: messages(caplog, "cannot be reached"), what="the worker to meet the outage")
            gate.touch()  # the job ends: its acknowledgement fails, and is tried again every 0.1 s
            wait_for(lambda: messages(caplog, "post_process_message"), what="Dramatiq's warning")
            time.sleep(1.0)  # not an assertion: time for about ten more tries, each of which Dramatiq warns of
            server.start()
            wait_for(lambda: messages(caplog, "answers again after"), timeout=30, what="the end of the outage")
            wait_for(lambda: effects(app) == ["acknowledged late"], what="the job's effect")
    finally:
        server.stop()
    [kept] = messages(caplog, "post_process_message")
    assert kept.levelno == logging.WARNING
    assert "If you restart this worker before this operation succeeds" in kept.getMessage()
    assert f"Redis at 127.0.0.1:{server.port} (TASKS_URL) cannot be reached" in kept.getMessage()
    assert outage_lines(caplog) == ["lost", "back"]


@pytest.fixture
def rabbitmq_queue() -> Iterator[str]:
    """A queue name of the test's own on the shared RabbitMQ, deleted afterwards (with its delay queues)."""
    import pika

    name = f"erlen-test-{uuid.uuid4().hex[:10]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(require_rabbitmq()))
    channel = connection.channel()
    for queue in (name, f"{name}.DQ", f"{name}.XQ"):
        channel.queue_delete(queue)
    connection.close()


def close_consumer(consumer: dramatiq.Consumer) -> None:
    """Close ``consumer``'s connection, as Dramatiq's consumer thread does: one that broke says so, harmlessly."""
    with contextlib.suppress(dramatiq.errors.BrokerConnectionError):
        consumer.close()


def test_calls_that_ask_nothing_of_rabbitmq_do_not_end_its_outage(
    rabbitmq_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An acknowledgement of a delivery its connection no longer knows, and a requeue (RabbitMQ redelivers on
    its own), return without a word to RabbitMQ: they logged "answers again" while it could not be reached.

    The shared RabbitMQ is reached through a link of the test's own, which the test cuts and restores."""
    caplog.set_level(logging.INFO)
    shared = sa.make_url(require_rabbitmq().replace("amqp://", "amqp+x://"))
    link = CuttableLink(shared.host or "127.0.0.1", shared.port or 5672)
    link.restore()
    url = f"amqp://{shared.username}:{shared.password}@127.0.0.1:{link.port}/%2F"
    broker = WatchedRabbitmqBroker(url=url, confirm_delivery=True)
    broker.watch = BrokerWatch("rabbitmq", url, retry_interval=0.0)  # every call may try RabbitMQ again
    with contextlib.ExitStack() as closing:
        closing.callback(link.cut)
        closing.callback(broker.close)
        broker.declare_queue(rabbitmq_queue)
        message = job_message("a").copy(queue_name=rabbitmq_queue)
        broker.enqueue(message)
        consumer = broker.consume(rabbitmq_queue, prefetch=1, timeout=100)
        closing.callback(close_consumer, consumer)
        fetched = wait_for(lambda: next(consumer), what="the message")
        consumer.ack(fetched)
        link.cut()
        for _cycle in range(3):
            with pytest.raises(BrokerUnreachable):
                broker.enqueue(message)  # a call that does reach for RabbitMQ (publisher confirms)
            consumer.ack(fetched)  # a delivery tag this connection no longer knows: nothing is sent
            consumer.requeue([fetched])  # nothing to ask: RabbitMQ redelivers what a closed connection held
        assert outage_lines(caplog) == ["lost"]
        link.restore()
        broker.enqueue(message)
        assert outage_lines(caplog) == ["lost", "back"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_stopped_during_a_redis_outage_stops_and_its_jobs_come_back_to_the_next_worker(
    make_tasks_app: TasksApp,
    queue_prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped while Redis is away, a worker can neither acknowledge the job that ended nor put back the one it
    had fetched: Dramatiq retried the acknowledgement until the stop timeout, then the jobs waited for its
    maintenance (one command in a thousand) to see the worker dead. Now it gives up at once, says so, and a
    worker running on puts them back once the stopped one's heartbeat is older than TASKS_REDIS_HEARTBEAT_SECONDS.
    """
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(dramatiq.worker, "CONSUMER_RESTART_DELAY_SECS", 0.1)
    monkeypatch.setattr(dramatiq.worker, "POST_PROCESS_MESSAGE_RETRY_DELAY_SECS", 0.1)
    server = OwnRedis(tmp_path / "redis", "--appendonly", "yes")
    server.start()
    try:
        settings = {**broker_settings("database", queue_prefix), "TASKS_BROKER": "redis", "TASKS_URL": server.url}
        app = make_tasks_app(
            {
                **settings,
                "TASKS_HANDOFF": False,
                "TASKS_REDIS_HEARTBEAT_SECONDS": 3.0,
                "TASKS_REDIS_RECOVERY_SECONDS": 0.5,
            }
        )
        started, gate = tmp_path / "started", tmp_path / "gate"
        with app.app_context():
            for label in ("ran", "fetched"):  # one thread: "fetched" waits in the worker's memory meanwhile
                gated.enqueue(label, started_file=str(started), gate_file=str(gate))
            erlen_db.session.commit()
        # A stop timeout longer than the test's wait for the worker: the old retries outlasted the latter.
        with worker_thread(app, threads=1, stop_timeout=60.0):
            wait_for(started.exists, what="the first job to start")
            wait_for(lambda: [row.status for row in rows(app)] == ["running", "relayed"], what="both fetched")
            server.stop()
            wait_for(lambda: messages(caplog, "cannot be reached"), what="the worker to meet the outage")
            gate.touch()  # "ran" ends: its acknowledgement cannot be sent
            wait_for(lambda: effects(app) == ["ran"], what="the first job's effect")
        assert effects(app) == ["ran"]  # "fetched" was not started
        gave_up = [r.getMessage() for r in messages(caplog, "as this worker stops")]
        assert len(gave_up) == 2 and all("TASKS_REDIS_HEARTBEAT_SECONDS" in line for line in gave_up)
        assert "it gave up acknowledging test.gated" in gave_up[0]
        assert "it gave up putting back on their queue test.gated" in gave_up[1]
        assert not messages(caplog, "found a bug") and not messages(caplog, "Failed to requeue")
        server.start()
        with worker_thread(app, threads=1):  # a worker of its own: the stopped one's jobs are not its own
            wait_for(lambda: sorted(effects(app)) == ["fetched", "ran", "ran"], timeout=30, what="both jobs again")
    finally:
        server.stop()


def own_database_url(postgres_server: t.Any) -> str:
    """The URL of the test's own PostgreSQL with a password (its trust authentication ignores it) and a short
    connection timeout."""
    url = sa.make_url(postgres_server.url).set(password=PASSWORD)
    return url.render_as_string(hide_password=False) + "?connect_timeout=2"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_the_worker_says_once_that_the_relay_met_a_database_outage_not_a_broker_one(
    make_db_app: t.Any, postgres_server: t.Any, queue_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay reads the outbox table: with the app's PostgreSQL stopped, the worker wrote "Relay: broker
    unavailable, jobs kept: database error: OperationalError", sending operators to a broker that was fine, then
    "Relay: the app's database failed" at every pass. Now one line names the database, and one its return."""
    from conftest import PLUGINS
    from test_cli import output, start_worker, stop

    settings = broker_settings("redis", queue_prefix)  # the shared Redis, which stays up
    app = make_db_app(PLUGINS, settings, url=own_database_url(postgres_server), create_all=True)
    process = start_worker(app, tmp_path)
    try:
        wait_for(lambda: "Worker started" in output(tmp_path), timeout=60, what="the worker")
        postgres_server.stop()
        wait_for(lambda: "cannot be reached" in output(tmp_path), timeout=30, what="the outage's line")
        postgres_server.start_again()
        wait_for(lambda: "answers again after" in output(tmp_path), timeout=60, what="the end of the outage")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, output(tmp_path)
    finally:
        stop(process)
    log = output(tmp_path)
    where = f"The app's database postgresql+psycopg://postgres:***@127.0.0.1:{postgres_server.port}/postgres"
    [lost] = [line for line in log.splitlines() if "cannot be reached" in line]
    assert lost.startswith(f"{where}?connect_timeout=2 (DB_URL) cannot be reached ("), log
    assert "check that it runs and that this host can reach it; committed jobs wait in its outbox table" in lost
    [back] = [line for line in log.splitlines() if "answers again after" in line]
    assert back.startswith(f"{where}?connect_timeout=2 (DB_URL) answers again after "), log
    assert "broker unavailable" not in log and "Relay: the app's database failed" not in log, log
    assert PASSWORD not in log


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_the_relay_logs_an_outage_of_the_apps_database_once_and_its_end_with_the_passes_failed(
    make_db_app: t.Any,
    postgres_server: t.Any,
    queue_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the app's PostgreSQL was stopped, the relay reported every pass (every 0.1 to 30 s, as long as the
    outage lasted) as an error. It logs the outage once, naming the database without its password and what to
    do, each failed pass at DEBUG only, and the end once, with how long it lasted and how many passes failed."""
    from conftest import PLUGINS

    caplog.set_level(logging.DEBUG, logger="erlen_tasks")
    settings = {**broker_settings("redis", queue_prefix), "TASKS_HANDOFF": False}  # jobs reach Redis by the relay
    app = make_db_app(PLUGINS, settings, url=own_database_url(postgres_server), create_all=True)
    failed: list[t.Any] = []
    with worker_thread(app, report_relay=lambda result: result.database_failed and failed.append(result)):
        commit(app, "before")
        wait_for(lambda: effects(app) == ["before"], what="a job relayed and run")
        # Its run is recorded after it ends, in the worker's next batch: recorded during the outage, it would
        # (rightly) warn that it could not be recorded yet, a third line this test is not about.
        wait_for(lambda: [row.status for row in rows(app)] == [DONE], what="the job's run recorded")
        postgres_server.stop()
        wait_for(lambda: len(failed) >= 4, timeout=60, what="four relay passes meeting the outage")
        postgres_server.start_again()
        commit(app, "after")
        wait_for(lambda: effects(app) == ["before", "after"], timeout=60, what="a job relayed after the outage")
        wait_for(lambda: messages(caplog, "answers again after"), what="the end of the outage logged")
    where = f"The app's database postgresql+psycopg://postgres:***@127.0.0.1:{postgres_server.port}/postgres"
    where += "?connect_timeout=2 (DB_URL)"
    loud = [r for r in caplog.records if r.name == "erlen_tasks" and r.levelno > logging.DEBUG]
    assert [r.levelno for r in loud] == [logging.WARNING, logging.WARNING], [r.getMessage() for r in loud]
    lost, back = (r.getMessage() for r in loud)
    # The stop ends the pooled connections: the pass that meets it gets psycopg's AdminShutdown ("terminating
    # connection due to administrator command") when one was in use, OperationalError otherwise.
    assert re.match(rf"{re.escape(where)} cannot be reached \((OperationalError|AdminShutdown): ", lost), lost
    assert "\n" not in lost
    assert lost.endswith(
        ": check that it runs and that this host can reach it; committed jobs wait in its outbox table (none is "
        "lost) and none is handed to Redis until it answers again (the relay tries it at each pass, at most 30 s "
        "apart)."
    ), lost
    assert back.startswith(f"{where} answers again after "), back
    assert back.endswith(f" s (failed relay passes: {len(failed)}): committed jobs are handed over again."), back
    assert all(result.database_unreachable for result in failed)
    quiet = [r for r in caplog.records if r.levelno == logging.DEBUG and r.getMessage().startswith("Relay: ")]
    assert len(quiet) == len(failed)
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_an_outage_of_the_database_broker_is_logged_once_and_its_end_once(
    make_db_app: t.Any,
    postgres_server: t.Any,
    queue_prefix: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database broker's consumers, their PostgreSQL stopped: Dramatiq wrote a CRITICAL "Consumer encountered
    a connection error" of several lines per queue and per restart (every 3 s), naming no outage's end."""
    from conftest import PLUGINS

    caplog.set_level(logging.INFO)
    monkeypatch.setattr(dramatiq.worker, "CONSUMER_RESTART_DELAY_SECS", 0.1)
    app = make_db_app(
        PLUGINS,
        broker_settings("database", queue_prefix),
        url=postgres_server.url + "?connect_timeout=2",
        create_all=True,
    )
    with worker_thread(app):
        commit(app, "before")
        wait_for(lambda: effects(app) == ["before"], what="a job run")
        postgres_server.stop()
        wait_for(lambda: messages(caplog, "cannot be reached"), what="the outage's line")
        time.sleep(1.0)  # not an assertion: time for about ten consumer restarts, each of which wrote lines before
        postgres_server.start_again()
        commit(app, "after")
        wait_for(lambda: effects(app) == ["before", "after"], timeout=30, what="a job run after the outage")
        wait_for(lambda: messages(caplog, "answers again after"), what="the end of the outage")
    where = f"The jobs' database at 127.0.0.1:{sa.make_url(postgres_server.url).port} (DB_URL)"
    [lost] = messages(caplog, "cannot be reached")
    assert lost.levelno == logging.WARNING
    # The driver's error: the connection refused, or a pooled one ended by the server's shutdown (AdminShutdown).
    assert lost.getMessage().startswith(f"{where} cannot be reached ("), lost.getMessage()
    assert "\n" not in lost.getMessage()
    assert "no job is claimed, jobs that end wait to be acknowledged, and this worker keeps trying" in lost.getMessage()
    assert outage_lines(caplog) == ["lost", "back"]
    assert not messages(caplog, "Consumer encountered") and not messages(caplog, "Restarting consumer")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_the_lease_renewals_of_a_running_job_meeting_a_database_outage_log_it_once(
    make_db_app: t.Any,
    postgres_server: t.Any,
    queue_prefix: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker's database broker renews the leases of its running jobs five times a lease: while their database
    was away, each renewal logged "could not renew the leases of running jobs" with SQLAlchemy's error (the SQL
    statement, its parameters, a link), beside the watch's one line. Renewals now go through the watch."""
    import threading

    from conftest import PLUGINS

    from erlen_tasks import state_of
    from erlen_tasks.brokers import close_broker, make_broker

    caplog.set_level(logging.INFO)
    monkeypatch.setattr(dramatiq.worker, "CONSUMER_RESTART_DELAY_SECS", 0.0)  # each renewal may try the database
    settings = {**broker_settings("database", queue_prefix), "TASKS_LEASE_SECONDS": 0.5}  # a renewal every 0.1 s
    app = make_db_app(PLUGINS, settings, url=postgres_server.url + "?connect_timeout=2", create_all=True)
    commit(app, "held while the database is away")
    state = state_of(app)
    # The renewals' tries to connect to the stopped database, counted on the broker's lease thread.
    renewals: list[str] = []

    def connecting(*_args: t.Any) -> None:
        if threading.current_thread().name == "erlen-tasks-lease":
            renewals.append("connect")

    sa.event.listen(erlen_db.database_of(app).engine, "do_connect", connecting)
    broker = make_broker(state, keeps_trying=True)  # a worker's
    try:
        consumer = broker.consume(state.queue_name("default"), prefetch=1, timeout=50)
        wait_for(lambda: next(consumer), what="the job claimed, its lease renewed from now on")
        postgres_server.stop()
        wait_for(lambda: len(renewals) >= 5, timeout=60, what="five renewals meeting the outage")
    finally:
        close_broker(broker)
    assert not messages(caplog, "could not renew")
    [lost] = messages(caplog, "cannot be reached")
    assert "\n" not in lost.getMessage()
    assert outage_lines(caplog) == ["lost"]


def start_relay(app: Flask, tmp_path: Path) -> subprocess.Popen[str]:
    """``erlen tasks relay`` in a process of its own, on ``app``'s settings; its output goes to ``relay.log``."""
    from test_cli import TESTS

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ERLEN_", "FLASK_"))}
    environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), environ.get("PYTHONPATH", "")])
    environ["ERLEN_DB_URL"] = str(app.config["DB_URL"])
    for key in ("TASKS_BROKER", "TASKS_URL", "TASKS_QUEUE_PREFIX"):
        environ[f"ERLEN_{key}"] = str(app.config[key])
    with open(tmp_path / "relay.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "erlen", "--app", "tasks_cliapp:create", "tasks", "relay"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
            cwd=tmp_path,
            text=True,
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_relay_command_on_an_unreachable_broker_says_it_keeps_trying(
    make_tasks_app: TasksApp, queue_prefix: str, tmp_path: Path
) -> None:
    """``erlen tasks relay`` tries pass after pass: its line says so, unlike a process that only enqueues."""
    from test_cli import output, stop

    url, where = unreachable_url("redis")
    app = make_tasks_app({**broker_settings("database", queue_prefix), "TASKS_BROKER": "redis", "TASKS_URL": url})
    commit(app, "waiting")
    process = start_relay(app, tmp_path)
    try:
        wait_for(lambda: "cannot be reached" in output(tmp_path, "relay"), timeout=60, what="the outage's line")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, output(tmp_path, "relay")
    finally:
        stop(process)
    [line] = [line for line in output(tmp_path, "relay").splitlines() if "cannot be reached" in line]
    assert line.startswith(f"The jobs' Redis at {where} (TASKS_URL) cannot be reached ("), line
    assert line.endswith("this process keeps trying to connect until it answers again (tried every 3 s)."), line
    assert PASSWORD not in output(tmp_path, "relay")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_the_relay_command_says_once_that_the_apps_database_cannot_be_reached_and_once_that_it_answers(
    make_db_app: t.Any, postgres_server: t.Any, queue_prefix: str, tmp_path: Path
) -> None:
    """``erlen tasks relay`` printed "Relayed 0; database error: OperationalError" at every pass while the app's
    PostgreSQL was stopped; now the relay's two lines, the outage's and its end's, and none per pass."""
    from conftest import PLUGINS
    from test_cli import output, stop

    app = make_db_app(PLUGINS, broker_settings("redis", queue_prefix), url=own_database_url(postgres_server))
    erlen_db.database_of(app).create_all()
    app.config["TASKS_HANDOFF"] = False
    commit(app, "relayed before the outage")
    process = start_relay(app, tmp_path)
    try:
        wait_for(lambda: "Relayed 1" in output(tmp_path, "relay"), timeout=60, what="the relay's first pass")
        postgres_server.stop()
        wait_for(lambda: "cannot be reached" in output(tmp_path, "relay"), timeout=30, what="the outage's line")
        postgres_server.start_again()
        wait_for(lambda: "answers again after" in output(tmp_path, "relay"), timeout=60, what="the outage's end")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, output(tmp_path, "relay")
    finally:
        stop(process)
    log = output(tmp_path, "relay")
    where = f"The app's database postgresql+psycopg://postgres:***@127.0.0.1:{postgres_server.port}/postgres"
    [lost] = [line for line in log.splitlines() if "cannot be reached" in line]
    assert lost.startswith(f"{where}?connect_timeout=2 (DB_URL) cannot be reached ("), log
    [back] = [line for line in log.splitlines() if "answers again after" in line]
    assert back.startswith(f"{where}?connect_timeout=2 (DB_URL) answers again after "), log
    assert log.count("Relayed") == 1 and PASSWORD not in log, log


def test_the_line_about_jobs_given_up_as_a_worker_stops_names_ten_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A worker stopping during an outage puts back the delayed jobs it holds (Dramatiq prefetches up to a thousand
    per worker thread from a delay queue): the line saying it gave up named every one, a line of tens of
    kilobytes. It names ten and counts the others."""
    from dramatiq.broker import MessageProxy

    url, _where = unreachable_url("redis")
    watch = BrokerWatch("redis", url)
    held = [MessageProxy(job_message(str(number))) for number in range(2000)]
    watch.abandoned("putting back on their queue", held)
    [line] = messages(caplog, "as this worker stops")
    named = ", ".join(f"test.record ({proxy.message_id})" for proxy in held[:10])
    assert f"it gave up putting back on their queue {named} and 1990 more; Redis gives them" in line.getMessage()
    assert held[10].message_id not in line.getMessage()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the test's own PostgreSQL in any case
def test_a_worker_stopped_during_an_outage_of_the_database_broker_stops_and_its_jobs_come_back(
    make_db_app: t.Any,
    postgres_server: t.Any,
    queue_prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Redis test above, on the database broker: stopped while its PostgreSQL is away, a worker can neither
    acknowledge the job that ended nor give back the one it had claimed. It gives both up at once, says so, and
    a worker started once the database is back runs them again when their leases have run out."""
    from conftest import PLUGINS
    from tasks_testplugin import gated_file

    caplog.set_level(logging.INFO)
    monkeypatch.setattr(dramatiq.worker, "CONSUMER_RESTART_DELAY_SECS", 0.1)
    monkeypatch.setattr(dramatiq.worker, "POST_PROCESS_MESSAGE_RETRY_DELAY_SECS", 0.1)
    settings = {**broker_settings("database", queue_prefix), "TASKS_LEASE_SECONDS": 2.0}
    app = make_db_app(PLUGINS, settings, url=postgres_server.url + "?connect_timeout=2", create_all=True)
    runs, started, gate = tmp_path / "runs", tmp_path / "started", tmp_path / "gate"
    with app.app_context():
        for _job in range(2):  # one thread: the second waits, claimed, in the worker's memory meanwhile
            gated_file.enqueue(str(runs), started_file=str(started), gate_file=str(gate))
        erlen_db.session.commit()
    # A stop timeout longer than the test's wait for the worker: retried acknowledgements would outlast the latter.
    with worker_thread(app, threads=1, stop_timeout=60.0):
        wait_for(started.exists, what="the first job to start")
        wait_for(lambda: [row.status for row in rows(app)] == ["running", "running"], what="both claimed")
        postgres_server.stop()
        wait_for(lambda: messages(caplog, "cannot be reached"), what="the worker to meet the outage")
        gate.touch()  # the first job ends: its acknowledgement cannot be written
        wait_for(lambda: runs.exists() and runs.read_text() == "ran\n", what="the first job's run")
    assert runs.read_text() == "ran\n"  # the second was not started
    gave_up = [r.getMessage() for r in messages(caplog, "as this worker stops")]
    assert len(gave_up) == 2 and all("TASKS_LEASE_SECONDS" in line for line in gave_up), gave_up
    assert "it gave up acknowledging test.gated_file" in gave_up[0]
    assert "it gave up putting back on their queue test.gated_file" in gave_up[1]
    assert not messages(caplog, "found a bug") and not messages(caplog, "Failed to requeue")
    postgres_server.start_again()
    with worker_thread(app, threads=1):
        wait_for(lambda: runs.read_text() == "ran\n" * 3, timeout=30, what="both jobs again")

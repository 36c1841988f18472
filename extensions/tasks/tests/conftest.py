"""Fixtures of the erlen-tasks tests: apps with db, tasks and the test plugin on each broker."""

from __future__ import annotations

import typing as t
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from tasks_support import RABBITMQ_URL, REDIS_URL, require_rabbitmq, require_redis

if t.TYPE_CHECKING:
    from erlen_db.testing import MakeDbApp

PLUGINS = ("tasks", "tasks_testplugin")


class TasksApp(t.Protocol):
    def __call__(self, config: dict[str, t.Any] | None = None) -> Flask: ...


def broker_settings(kind: str, prefix: str) -> dict[str, t.Any]:
    """The settings of an app on broker ``kind`` with queues of its own."""
    settings: dict[str, t.Any] = {"TASKS_BROKER": kind, "TASKS_QUEUE_PREFIX": prefix, "TASKS_POLL_SECONDS": 0.05}
    if kind == "redis":
        settings["TASKS_URL"] = require_redis()
    elif kind == "rabbitmq":
        settings["TASKS_URL"] = require_rabbitmq()
    return settings


def clean_broker(app: Flask) -> None:
    """Delete the test's queues from the shared Redis or RabbitMQ."""
    from erlen_tasks import state_of

    state = state_of(app)
    if state.broker_kind == "database":
        state.close()
        return
    queues = {state.queue_name(job.queue) for job in state.jobs.values()}
    if state.broker_kind == "redis":
        import redis

        client = redis.Redis.from_url(app.config["TASKS_URL"])
        for key in client.scan_iter(match=f"*{app.config['TASKS_QUEUE_PREFIX']}*"):
            client.delete(key)
        client.close()
    else:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(app.config["TASKS_URL"]))
        channel = connection.channel()
        for queue in queues:
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                channel.queue_delete(name)
        connection.close()
    state.close()


@pytest.fixture
def queue_prefix() -> str:
    return f"erlen-test-{uuid.uuid4().hex[:10]}-"


@pytest.fixture
def make_tasks_app(make_db_app: MakeDbApp, queue_prefix: str) -> Iterator[TasksApp]:
    """Apps with db, tasks and the test plugin on ``database_url``; the first creates the tables."""
    made: list[Flask] = []

    def make(config: dict[str, t.Any] | None = None) -> Flask:
        settings = {**broker_settings("database", queue_prefix), **(config or {})}
        app = make_db_app(PLUGINS, settings, create_all=not made)
        made.append(app)
        return app

    yield make
    for app in made:
        try:
            clean_broker(app)
        except Exception as exc:  # a broker of the test's own, already stopped, or an unreachable URL
            if app.config["TASKS_URL"] in (REDIS_URL, RABBITMQ_URL):
                raise
            del exc


@pytest.fixture(params=["database", "redis", "rabbitmq"])
def broker_kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


@pytest.fixture
def tasks_app(make_tasks_app: TasksApp, broker_kind: str, queue_prefix: str) -> Flask:
    """An app on each broker (and each database)."""
    return make_tasks_app(broker_settings(broker_kind, queue_prefix))

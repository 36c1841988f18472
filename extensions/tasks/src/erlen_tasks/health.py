"""erlen-tasks' readiness checks for erlen-ops' ``/readyz``, and the outbox figures its metrics read.

``outbox``: the jobs due and not yet taken (by the relay, with Redis or
RabbitMQ; by a worker, with the database broker), the age of the oldest of
them, and the dead jobs. It fails only when the table cannot be read: a
backlog is the workers' trouble, not this process's, and shows in the
numbers and the metrics. ``broker``, with Redis or RabbitMQ and
``TASKS_HEALTH_BROKER`` on: the broker accepts a connection (a ``PING``
for Redis) within ``TASKS_HEALTH_TIMEOUT`` seconds.

An optional hook: erlen-tasks does not depend on erlen-ops.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from .models import DEAD, FAILED, PENDING, JobRecord, aware, utcnow
from .state import state_of

if t.TYPE_CHECKING:
    from flask import Flask

TABLE: sa.Table = t.cast(sa.Table, JobRecord.__table__)


@dataclass(frozen=True)
class JobsBacklog:
    """The jobs of the outbox table waiting to be taken, and the dead ones.

    :param waiting: jobs due and not taken yet: ``pending`` (and, on the database broker, ``failed``
        ones due for their retry), their eta past.
    :param oldest_seconds: how long the longest-waiting of them has been due; 0 when none waits.
    :param dead: jobs that failed on every try (``erlen tasks retry`` queues them again).
    """

    waiting: int
    oldest_seconds: float
    dead: int


def jobs_backlog(app: Flask) -> JobsBacklog:
    """The outbox's backlog: one query on the jobs table.

    With Redis or RabbitMQ, the waiting jobs are those the relay has not
    handed over yet (the broker was away, or no worker runs the relay); jobs
    waiting in the broker itself are not counted. With the database broker,
    they are the jobs no worker has taken yet.

    :raises sqlalchemy.exc.SQLAlchemyError: the table cannot be read.
    """
    import erlen_db

    now = utcnow()
    statuses = (PENDING,) if state_of(app).uses_relay else (PENDING, FAILED)
    due = sa.and_(TABLE.c.status.in_(statuses), TABLE.c.eta <= now)
    query = sa.select(
        sa.func.count().filter(due),
        sa.func.min(TABLE.c.eta).filter(due),
        sa.func.count().filter(TABLE.c.status == DEAD),
    )
    with erlen_db.database_of(app).engine.connect() as connection:
        waiting, oldest_eta, dead = connection.execute(query).one()
    oldest = aware(oldest_eta)
    age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return JobsBacklog(int(waiting or 0), age, int(dead or 0))


def ping_broker(app: Flask) -> None:
    """Connect to the app's Redis (and ``PING`` it) or RabbitMQ, then close; ``TASKS_HEALTH_TIMEOUT`` bounds it.

    A connection of its own (not the broker's, which has no timeout): the
    check answers within the timeout even while the broker hangs.

    :raises Exception: the broker cannot be reached (the client library's error).
    """
    state = state_of(app)
    url = str(app.config.get("TASKS_URL", ""))
    timeout = float(app.config.get("TASKS_HEALTH_TIMEOUT", 2.0))
    if state.broker_kind == "redis":
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    else:
        import pika  # type: ignore[import-untyped]  # no type hints shipped

        parameters = pika.URLParameters(url)
        parameters.socket_timeout = timeout
        parameters.blocked_connection_timeout = timeout
        parameters.connection_attempts = 1
        connection = pika.BlockingConnection(parameters)
        connection.close()


def readiness_checks(app: Flask) -> Mapping[str, Callable[[], Mapping[str, float] | None]]:
    """``outbox``, and ``broker`` (Redis or RabbitMQ, with ``TASKS_HEALTH_BROKER`` on): the plugin's
    ``erlen_health_checks``.

    :param app: the app whose jobs table and broker are checked.
    """

    def outbox() -> Mapping[str, float]:
        backlog = jobs_backlog(app)
        return {"backlog": backlog.waiting, "oldest_seconds": round(backlog.oldest_seconds, 3), "dead": backlog.dead}

    checks: dict[str, Callable[[], Mapping[str, float] | None]] = {"outbox": outbox}
    if state_of(app).uses_relay and app.config.get("TASKS_HEALTH_BROKER", True):

        def broker() -> None:
            ping_broker(app)

        checks["broker"] = broker
    return checks


__all__ = ["JobsBacklog", "jobs_backlog", "ping_broker", "readiness_checks"]

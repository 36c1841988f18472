"""Making an app's Dramatiq broker from its settings, with an actor per declared job."""

from __future__ import annotations

import typing as t

import dramatiq
from dramatiq.middleware import Middleware, Retries, ShutdownNotifications, TimeLimit

from erlen import ConfigError

from ..errors import JobArgumentError
from ..runner import make_runner
from .database import DatabaseBroker, WatchedDatabaseBroker
from .outage import BrokerWatch
from .tracking import Tracking

if t.TYPE_CHECKING:
    from ..state import TasksState


def _middleware() -> list[Middleware]:
    return [TimeLimit(), ShutdownNotifications(), Retries()]


def make_broker(state: TasksState, *, watched: bool = True, keeps_trying: bool = False) -> dramatiq.Broker:
    """The broker ``TASKS_BROKER`` names, on ``TASKS_URL``, with an actor per job of ``state``.

    :param state: the app's erlen-tasks state.
    :param watched: Redis and RabbitMQ: log each outage of the broker once, and its end (see
        :class:`~erlen_tasks.brokers.outage.BrokerWatch`), for processes that try it more than once. Off, its
        calls raise the client's errors as they are.
    :param keeps_trying: whether the process tries the broker on its own until it answers (a worker, the relay
        command) rather than when it next hands a job over (the app's processes that enqueue jobs): the
        outage's message says which.
    :raises ConfigError: the broker's client library is not installed.
    """
    import erlen_db

    app = state.app
    config = app.config
    engine = erlen_db.database_of(app).engine
    kind = state.broker_kind
    url = str(config.get("TASKS_URL") or "")
    broker: dramatiq.Broker
    if kind == "database":
        # Only a worker consumes, and only its consumers meet outages of the jobs' database (an enqueue writes
        # in the caller's transaction, whose errors the caller sees).
        watch = (
            BrokerWatch(kind, engine.url.render_as_string(hide_password=False)) if watched and keeps_trying else None
        )
        broker = (WatchedDatabaseBroker if watch else DatabaseBroker)(
            engine,
            lease=float(config.get("TASKS_LEASE_SECONDS", 30.0)),
            poll=float(config.get("TASKS_POLL_SECONDS", 1.0)),
            middleware=[*_middleware(), *([watch] if watch else [])],
        )
        if isinstance(broker, WatchedDatabaseBroker):
            broker.watch = watch
    elif kind == "redis":
        try:
            from .redis import RecoveringRedisBroker
        except ImportError:
            raise ConfigError(
                "TASKS_BROKER is 'redis', but the redis client is missing: install erlen-tasks[redis]."
            ) from None
        watch = BrokerWatch(kind, url, keeps_trying=keeps_trying) if watched else None
        broker = RecoveringRedisBroker(
            url=url,
            middleware=[Tracking(engine), *_middleware(), *([watch] if watch else [])],
            heartbeat_timeout=int(float(config.get("TASKS_REDIS_HEARTBEAT_SECONDS", 60.0)) * 1000),
            maintenance_chance=int(config.get("TASKS_REDIS_MAINTENANCE_CHANCE", 1000)),
            recovery_interval=float(config.get("TASKS_REDIS_RECOVERY_SECONDS", 10.0)),
        )
        broker.watch = watch
    else:
        try:
            from .rabbitmq import WatchedRabbitmqBroker
        except ImportError:
            raise ConfigError(
                "TASKS_BROKER is 'rabbitmq', but the pika client is missing: install erlen-tasks[rabbitmq]."
            ) from None
        watch = BrokerWatch(kind, url, keeps_trying=keeps_trying) if watched else None
        # Publisher confirms: the relay marks a job relayed only once RabbitMQ has taken it.
        broker = WatchedRabbitmqBroker(
            url=url, middleware=[Tracking(engine), *_middleware(), *([watch] if watch else [])], confirm_delivery=True
        )
        broker.watch = watch
    for job in state.jobs.values():
        declare = dramatiq.actor(
            broker=broker,
            actor_name=job.name,
            queue_name=state.queue_name(job.queue),
            priority=job.priority,
            max_retries=job.retries,
            min_backoff=int(job.backoff * 1000),
            max_backoff=int(job.max_backoff * 1000),
            time_limit=int(job.timeout * 1000),
            # Stored arguments that no longer fit the job (changed while queued) never will: no retries.
            throws=(JobArgumentError,),
        )
        declare(make_runner(app, job))
    return broker


def close_broker(broker: dramatiq.Broker) -> None:
    """Write the runs' records still waiting (see :class:`Tracking`), then close ``broker``."""
    for middleware in broker.middleware:
        if isinstance(middleware, Tracking):
            middleware.close()
    broker.close()


__all__ = ["close_broker", "make_broker"]

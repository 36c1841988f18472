"""``erlen check --deploy`` for erlen-tasks: can other hosts reach the jobs, and do they survive a restart."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask

from erlen.checks import CheckMessage, warning

from .state import state_of


def deploy_problems(app: Flask) -> list[CheckMessage]:
    """The problems of ``app``'s jobs set-up that matter in production.

    ``tasks.W001``: jobs wait in SQLite, out of reach of other hosts. With ``TASKS_BROKER = "redis"`` the
    check asks the server itself (``INFO``, within ``TASKS_HEALTH_TIMEOUT``): ``tasks.W002`` when it keeps no
    append-only file (jobs handed to it since its last snapshot are lost when it restarts), ``tasks.W003`` when
    it evicts any key when full, ``tasks.W004`` when it cannot be asked.

    :param app: the app being checked.
    """
    problems: list[CheckMessage] = []
    broker = state_of(app).broker_kind
    if broker == "database" and str(app.config.get("DB_URL", "")).startswith("sqlite"):
        problems.append(
            warning(
                "tasks.W001",
                "Jobs wait in an SQLite database: workers on other hosts cannot reach them.",
                "For several hosts, set TASKS_BROKER to redis or rabbitmq (and TASKS_URL), or DB_URL to PostgreSQL.",
            )
        )
    if broker == "redis":
        timeout = float(app.config.get("TASKS_HEALTH_TIMEOUT", 2.0))
        problems.extend(redis_durability(str(app.config.get("TASKS_URL", "")), timeout))
    return problems


def redis_durability(url: str, timeout: float) -> list[CheckMessage]:
    """Whether the Redis at ``url`` keeps the jobs handed to it through a restart and when its memory is full.

    :param url: the Redis URL (``TASKS_URL``); messages name only its host and port, never its password.
    :param timeout: seconds to connect and to wait for each answer.
    """
    import redis

    parts = urlsplit(url)
    where = f"Redis at {parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        persistence = client.info("persistence")
        memory = client.info("memory")
    except redis.RedisError as exc:
        return [
            warning(
                "tasks.W004",
                f"{where} (TASKS_URL) could not be asked whether jobs survive its restart: {type(exc).__name__}.",
                "Check that it is running and reachable from this host, then run `erlen check --deploy` again.",
            )
        ]
    finally:
        client.close()
    problems: list[CheckMessage] = []
    if not int(persistence.get("aof_enabled", 0)):
        problems.append(
            warning(
                "tasks.W002",
                f"{where} keeps no append-only file (appendonly no): jobs handed to it since its last snapshot are "
                "lost if it restarts or crashes.",
                "Set `appendonly yes` (with `appendfsync everysec`, at most a second of jobs is at risk) in its "
                "configuration, or use TASKS_BROKER = 'rabbitmq'.",
            )
        )
    policy = str(memory.get("maxmemory_policy", "noeviction"))
    if policy.startswith("allkeys"):
        problems.append(
            warning(
                "tasks.W003",
                f"{where} evicts any key when its memory is full (maxmemory-policy {policy}): waiting jobs can be "
                "dropped without a trace.",
                "Set `maxmemory-policy noeviction` for the Redis that holds jobs (a full Redis then refuses new "
                "jobs, which the outbox keeps and relays later).",
            )
        )
    return problems

"""The connection budget: can the app's processes open more connections than PostgreSQL accepts?

Each process of the app (a gunicorn worker, a mail worker) has its own
engine, whose pool opens up to ``pool_size + max_overflow`` connections. At
full load the deployment needs::

    web workers x (pool_size + max_overflow)
  + other processes x (pool_size + max_overflow)
  + ADMIN_HEADROOM
  <= max_connections - superuser_reserved_connections - reserved_connections

and no more than the role's or the database's ``CONNECTION LIMIT``. Past
that, PostgreSQL refuses connections ("too many clients already") and
requests get 503 pages under load. ``erlen check --deploy`` compares both
sides (:func:`check`): the web workers come from ``DB_WEB_WORKERS`` or from
the ``WEB_CONCURRENCY`` variable that gunicorn reads, the server's limits
from the server itself, when it can be reached.
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass

from erlen.checks import CheckMessage, info, warning

from .names import BUDGET_SETTINGS

if t.TYPE_CHECKING:
    import sqlalchemy as sa
    from flask import Flask

    from .database import Database

#: The environment variable gunicorn takes its number of workers from, when its configuration sets none.
WORKERS_VARIABLE = "WEB_CONCURRENCY"

#: Connections kept free for what runs besides the app's processes: ``erlen db upgrade``, a ``psql``, a backup.
ADMIN_HEADROOM = 3

#: SQLAlchemy's ``max_overflow`` of a ``QueuePool`` when the engine options set none.
DEFAULT_MAX_OVERFLOW = 10

#: The server's limits: max_connections, the reserved slots (PostgreSQL 16 adds reserved_connections), and the
#: CONNECTION LIMIT of the role and of the database (-1 when unlimited). A string, not ``sa.text``: the ``db``
#: plugin declares this module's settings, and importing SQLAlchemy for them would slow ``erlen --help``.
_LIMITS = (
    "SELECT current_setting('max_connections')::int,"
    " current_setting('superuser_reserved_connections')::int,"
    " coalesce(current_setting('reserved_connections', true), '0')::int,"
    " (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user),"
    " (SELECT datconnlimit FROM pg_database WHERE datname = current_database()),"
    " current_user, current_database()"
)


#: The settings of the check, declared by the ``db`` plugin (defined apart: the plugin module declares them
#: whenever the app is created, and needs nothing else of this module then).
SETTINGS = BUDGET_SETTINGS


@dataclass(frozen=True)
class ServerLimit:
    """How many connections the PostgreSQL server lets the app's role open in its database.

    :param max_connections: the server's ``max_connections``.
    :param reserved: the slots only superusers (or roles with ``pg_use_reserved_connections``) may use.
    :param role_limit: the ``CONNECTION LIMIT`` of the role, ``-1`` for none.
    :param database_limit: the ``CONNECTION LIMIT`` of the database, ``-1`` for none.
    :param role: the role's name.
    :param database: the database's name.
    """

    max_connections: int
    reserved: int
    role_limit: int
    database_limit: int
    role: str
    database: str

    @property
    def available(self) -> int:
        """The most connections the app may count on."""
        limits = [self.max_connections - self.reserved]
        limits += [limit for limit in (self.role_limit, self.database_limit) if limit >= 0]
        return min(limits)

    def describe(self) -> str:
        """Where :attr:`available` comes from, for people."""
        server = f"max_connections {self.max_connections} minus {self.reserved} reserved for superusers"
        if self.role_limit >= 0 and self.role_limit == self.available:
            return f"the CONNECTION LIMIT of the role {self.role!r}"
        if self.database_limit >= 0 and self.database_limit == self.available:
            return f"the CONNECTION LIMIT of the database {self.database!r}"
        return server


def read_server_limit(engine: sa.Engine) -> ServerLimit:
    """Ask the server behind ``engine`` for its connection limits.

    :param engine: a PostgreSQL engine.
    :raises sqlalchemy.exc.SQLAlchemyError: the server cannot be reached or refuses the query.
    """
    import sqlalchemy as sa

    with engine.connect() as connection:
        row = connection.execute(sa.text(_LIMITS)).one()
    max_connections, superuser_reserved, reserved, role_limit, database_limit, role, database = row
    return ServerLimit(
        max_connections=int(max_connections),
        reserved=int(superuser_reserved) + int(reserved),
        role_limit=-1 if role_limit is None else int(role_limit),
        database_limit=-1 if database_limit is None else int(database_limit),
        role=str(role),
        database=str(database),
    )


def connections_per_process(database: Database) -> int | None:
    """The most connections one process's pool opens, or ``None`` when its pool has no bound.

    :param database: the app's database.
    """
    from sqlalchemy.pool import NullPool, QueuePool

    pool = database.engine.pool
    if isinstance(pool, NullPool):
        return None  # a connection per checkout: as many as the process has threads
    if not isinstance(pool, QueuePool):
        return 1  # StaticPool, SingletonThreadPool: one connection (per thread for the latter, rare on a server)
    overflow = int(database.engine_options.get("max_overflow", DEFAULT_MAX_OVERFLOW))
    return None if overflow < 0 else pool.size() + overflow


def web_workers(app: Flask) -> int | str | None:
    """The number of web workers: ``DB_WEB_WORKERS``, else ``WEB_CONCURRENCY``; ``None`` when neither is set.

    :returns: the number, or the raw value of ``WEB_CONCURRENCY`` when it is not a positive whole number.
    """
    configured = app.config.get("DB_WEB_WORKERS")
    if configured is not None:
        return int(configured)
    raw = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        workers = int(raw)
    except ValueError:
        return raw
    return workers if workers >= 1 else raw


def check(app: Flask, database: Database) -> list[CheckMessage]:
    """The connection budget's messages for ``erlen check --deploy``; nothing unless the database is PostgreSQL.

    :param app: the app.
    :param database: its database.
    """
    import sqlalchemy as sa

    if database.url.get_backend_name() != "postgresql":
        return []
    workers = web_workers(app)
    if isinstance(workers, str):
        return [
            warning(
                "db.W003",
                f"{WORKERS_VARIABLE} is {workers!r}, not a number of workers: gunicorn fails to start with it, "
                "and the connections the workers may open cannot be counted.",
                f"Set {WORKERS_VARIABLE} to gunicorn's number of worker processes, such as 4.",
            )
        ]
    if workers is None:
        return [
            info(
                "db.I002",
                "The number of web workers is not known, so the connections they may open are not compared with "
                "the server's max_connections.",
                f"Set {WORKERS_VARIABLE} (gunicorn reads it too) or DB_WEB_WORKERS to the number of web workers.",
            )
        ]
    per_process = connections_per_process(database)
    if per_process is None:
        return [
            warning(
                "db.W002",
                "The pool of each process has no upper bound (NullPool, or max_overflow -1): under load the "
                "processes may open more connections than the server accepts.",
                "Set pool_size and max_overflow (0 or more) in DB_ENGINE_OPTIONS.",
            )
        ]
    others = int(app.config.get("DB_OTHER_PROCESSES", 1))
    needed = (workers + others) * per_process + ADMIN_HEADROOM
    try:
        limit = read_server_limit(database.engine)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return [
            info(
                "db.I003",
                f"{database.display_url} cannot be reached ({type(exc).__name__}: {reason}), so its "
                f"max_connections is not known: the app's processes may open up to {needed} connections.",
                "Run erlen check --deploy where the database can be reached to compare them.",
            )
        ]
    if needed <= limit.available:
        return []
    return [
        warning(
            "db.W002",
            f"At full load the app may open {needed} connections to {database.display_url}: ({workers} web "
            f"worker(s) + {others} other process(es)) x {per_process} (pool_size + max_overflow) + "
            f"{ADMIN_HEADROOM} for administration; the server accepts {limit.available} ({limit.describe()}).",
            f"Lower {WORKERS_VARIABLE} or DB_WEB_WORKERS, pool_size or max_overflow in DB_ENGINE_OPTIONS, or "
            "DB_OTHER_PROCESSES if fewer run; or raise the server's max_connections (a restart) or put "
            "PgBouncer in front of it.",
        )
    ]

"""The example app deployed as docs/deployment.rst says, on servers of the suite's own.

PostgreSQL, Redis and the SMTP server each listen on a free loopback port and
are started and stopped by the suite (never the machine's shared services);
gunicorn runs ``notes_app:create_app()`` with several workers. Each
deployment is of one of two kinds (:data:`KINDS`):

``mail``
    the app without its ``tasks`` plugin, ``erlen mail worker`` delivering
    the outbox;
``tasks``
    the app as the guide deploys it, ``tasks`` enabled, ``erlen tasks
    worker`` running its jobs and delivering the outbox (a job too), with a
    Redis of the suite's own as the jobs' broker (a second one, apart from
    the log-in throttle's, so that either can be stopped alone).

Every process reads the same ``ERLEN_*`` environment, as the guide's
``production.env``.

Some settings differ from production, and say so: cheap password hashing
(the suite logs in hundreds of times on two cores), a retry backoff and poll
of the outbox in seconds rather than minutes, so that mail held back by an
outage is delivered within the test's bounded wait, and, for ``tasks``, a
Redis heartbeat of seconds, so that the jobs of a killed worker run again
within that wait too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from erlen.testing import free_port
from erlen_auth.testing import FAST_HASHING, RedisServer, make_user
from erlen_db.testing import PostgresServer
from erlen_mail.testing import SMTPTestServer

from .load import PASSWORD, UserPlan
from .processes import Gunicorn, Worker, run_command

#: gunicorn workers: several, so a killed one leaves others serving (two cores: more would only queue).
WORKERS = 3

#: AUTH_THROTTLE_ACCOUNT_LIMIT of the deployment: failed log-ins per account before it is throttled.
ACCOUNT_LIMIT = 3

#: The superuser the app mails about each new note.
ADMIN_EMAIL = "admin@example.com"

#: The folder holding the package ``production`` (this suite), for subprocesses that import its plugin.
TESTS_FOLDER = Path(__file__).resolve().parent.parent

#: The plugins of the example app's erlen.toml, in its order, but ``tasks``: the ``mail`` deployment runs
#: ``erlen mail worker`` delivering its outbox (its faults are that worker's), so its processes get this list
#: (ERLEN_PLUGINS); without ``tasks`` the admins' notifications are queued by the request itself.
EXAMPLE_PLUGINS = ["db", "forms", "mail", "migrate", "auth", "admin", "api", "profiles", "notes_app.notes"]

#: The plugins of the example app's erlen.toml, in its order: the ``tasks`` deployment's.
TASKS_PLUGINS = ["db", "forms", "mail", "migrate", "auth", "admin", "api", "tasks", "profiles", "notes_app.notes"]

#: The kinds of deployment (see the module's documentation), named as the background worker each runs.
KINDS = ("mail", "tasks")

#: Seconds without a heartbeat after which a tasks worker counts as dead and its jobs run elsewhere (60 in
#: production, TASKS_REDIS_HEARTBEAT_SECONDS' default): a killed worker's jobs come back within the test.
TASKS_HEARTBEAT_SECONDS = 3


def deployment_environ(
    *, database_url: str, redis_url: str, smtp: SMTPTestServer, broker_url: str | None = None
) -> dict[str, str]:
    """The ``ERLEN_*`` variables of every process, over the suite's environment minus its own ``ERLEN_*``.

    :param database_url: the app's PostgreSQL database.
    :param redis_url: the Redis of the log-in throttle.
    :param smtp: the mail server.
    :param broker_url: the Redis of the jobs, for the ``tasks`` deployment (``None``: the app without tasks).
    """
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ERLEN_") or k == "ERLEN_REQUIRE_SERVICES"}
    # Every process imports the whole stack: let the first one cache the bytecode for the others.
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    environ.update(
        ERLEN_SECRET_KEY=secrets.token_urlsafe(48),
        ERLEN_DB_URL=database_url,
        ERLEN_DB_ENGINE_OPTIONS=json.dumps({"pool_size": 5, "max_overflow": 5}),
        ERLEN_AUTH_THROTTLE_REDIS_URL=redis_url,
        ERLEN_MAIL_BACKEND="smtp",
        ERLEN_MAIL_SMTP_HOST=smtp.host,
        ERLEN_MAIL_SMTP_PORT=str(smtp.port),
        ERLEN_MAIL_DEFAULT_SENDER="Team notes <notes@example.com>",
        # Seconds, not minutes: mail held back by an outage goes out within the test's wait.
        ERLEN_MAIL_OUTBOX_BACKOFF_SECONDS="1",
        ERLEN_MAIL_OUTBOX_MAX_BACKOFF_SECONDS="2",
        ERLEN_MAIL_OUTBOX_POLL_SECONDS="0.5",
        PYTHONUNBUFFERED="1",
        ERLEN_PLUGINS=json.dumps(EXAMPLE_PLUGINS if broker_url is None else TASKS_PLUGINS),
    )
    if broker_url is not None:
        environ.update(
            ERLEN_TASKS_BROKER="redis",
            ERLEN_TASKS_URL=broker_url,
            # Seconds, not a minute: the jobs of a killed worker run again within the test's wait. Every broker
            # command also looks for dead workers' jobs (a thousand in a million by default).
            ERLEN_TASKS_REDIS_HEARTBEAT_SECONDS=str(TASKS_HEARTBEAT_SECONDS),
            ERLEN_TASKS_REDIS_MAINTENANCE_CHANCE="1000000",
        )
    # Three failed log-ins per account (5 by default): the Redis scenarios need fewer wrong passwords
    # to show that every worker still counts them while Redis is out.
    environ["ERLEN_AUTH_THROTTLE_ACCOUNT_LIMIT"] = str(ACCOUNT_LIMIT)
    # Cheap hashing: hundreds of log-ins on two cores. Never in production.
    environ.update({f"ERLEN_{key}": str(value) for key, value in FAST_HASHING.items()})
    return environ


@dataclass
class Deployment:
    """The running deployment and the suite's handles on each of its parts."""

    directory: Path
    postgres: PostgresServer
    redis: RedisServer
    smtp: SMTPTestServer
    environ: dict[str, str]
    database_url: str
    #: ``mail`` or ``tasks`` (:data:`KINDS`).
    kind: str = "mail"
    #: The Redis of the jobs (the ``tasks`` deployment's).
    broker: RedisServer | None = None
    gunicorn: Gunicorn | None = None
    #: The background workers started, the newest last.
    workers: list[Worker] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    #: Seconds each start-up step took, for the report.
    timings: dict[str, float] = field(default_factory=dict)
    _engine: sa.Engine | None = None

    # Starting and stopping

    @classmethod
    def start(cls, directory: Path, *, accounts: int, kind: str = "mail") -> Deployment:
        """Start every server, apply the migrations, create the accounts and start gunicorn and a worker.

        Stops whatever it started when a step fails.

        :param directory: the suite's temporary folder (logs, the app's instance folder).
        :param accounts: how many confirmed accounts the simulated writers log in as.
        :param kind: ``mail`` or ``tasks`` (:data:`KINDS`).
        """
        started = time.monotonic()
        stack = contextlib.ExitStack()
        with stack:
            postgres = PostgresServer.start()
            stack.callback(postgres.close)
            redis = RedisServer(directory / "redis")
            redis.start()
            stack.callback(redis.stop)
            smtp = SMTPTestServer(port=free_port())
            smtp.start()
            stack.callback(smtp.stop)
            broker = None
            if kind == "tasks":
                # Durable, as a broker must be (docs/tasks.rst): the jobs it holds survive its restart.
                broker = RedisServer(directory / "broker", appendonly=True)
                broker.start()
                stack.callback(broker.stop)
            database_url = _create_database(postgres.url, "notes")
            deployment = cls(
                directory=directory,
                postgres=postgres,
                redis=redis,
                smtp=smtp,
                environ=deployment_environ(
                    database_url=database_url,
                    redis_url=redis.url,
                    smtp=smtp,
                    broker_url=broker.url if broker is not None else None,
                ),
                database_url=database_url,
                kind=kind,
                broker=broker,
            )
            stack.callback(deployment.close)
            deployment.timings["servers"] = time.monotonic() - started
            for step, action in [
                ("erlen db upgrade", deployment._migrate),
                ("accounts", lambda: deployment._create_accounts(accounts)),
                ("gunicorn", deployment.start_gunicorn),
                (f"{kind} worker", deployment.start_worker),
            ]:
                begun = time.monotonic()
                action()
                deployment.timings[step] = time.monotonic() - begun
            stack.pop_all()
        return deployment

    def close(self) -> None:
        """Stop every process and server the deployment started; safe to call twice."""
        steps: list[Callable[[], object]] = [worker.stop for worker in self.workers]
        if self.gunicorn is not None:
            steps.append(self.gunicorn.stop)
        if self._engine is not None:
            steps.append(self._engine.dispose)
        if self.broker is not None:
            steps.append(self.broker.stop)
        steps += [self.redis.stop, self.smtp.stop, self.postgres.close]
        errors = []
        for step in steps:
            try:
                step()
            except Exception as exc:  # every other part must still be stopped
                errors.append(f"{step}: {exc}")
        if errors:
            raise RuntimeError("stopping the deployment failed: " + "; ".join(errors))

    def _migrate(self) -> None:
        result = run_command(self.environ, self.directory, "db", "upgrade")
        if result.returncode != 0:
            raise RuntimeError(f"erlen db upgrade failed:\n{result.stdout}{result.stderr}")

    def _create_accounts(self, count: int) -> None:
        import notes_app

        app = notes_app.create_app(self.environ, instance_path=str(self.directory / "instance"))
        try:
            make_user(app, ADMIN_EMAIL, password=PASSWORD, superuser=True)
            for number in range(1, count + 1):
                email = f"writer-{number}@example.com"
                make_user(app, email, password=PASSWORD)
                self.accounts.append(email)
        finally:
            _dispose(app)

    @property
    def port(self) -> int:
        """The port gunicorn serves the app on."""
        if self.gunicorn is None:
            raise RuntimeError("gunicorn is not started")
        return self.gunicorn.port

    def start_gunicorn(self) -> None:
        """Start gunicorn with :data:`WORKERS` workers and wait until it answers."""
        self.gunicorn = Gunicorn(self.environ, self.directory, port=free_port(), workers=WORKERS)
        self.gunicorn.start()
        self.gunicorn.wait_ready()

    def start_worker(self) -> Worker:
        """Start one more background worker of the deployment's kind (``erlen mail worker`` or ``erlen tasks
        worker``) and wait until it runs."""
        worker = Worker(self.environ, self.directory, kind=self.kind, number=len(self.workers) + 1)
        self.workers.append(worker)
        worker.start()
        worker.wait_ready()
        return worker

    @property
    def worker(self) -> Worker:
        """The newest background worker."""
        return self.workers[-1]

    def make_healthy(self) -> None:
        """Undo what a failed scenario may have left: every server up, gunicorn's workers all back, a worker."""
        if not self.postgres.running:
            self.postgres.start_again()
        if self.broker is not None and not self.broker.running:
            self.broker.start_again()
        if self.redis.frozen:
            self.redis.thaw()
        if not self.redis.running:
            self.redis.start_again()
        self.smtp.on_data = None
        self.smtp.start()
        assert self.gunicorn is not None
        if not self.gunicorn.running:
            self.gunicorn.stop()
            self.start_gunicorn()
        self.gunicorn.wait_ready()
        if not self.worker.running:
            self.start_worker()

    # Plans of the simulated users

    def writers(self, count: int | None = None, **options: t.Any) -> list[UserPlan]:
        """Plans for ``count`` users who log in and read and write notes (every account by default)."""
        emails = self.accounts if count is None else self.accounts[:count]
        return [UserPlan(email, **options) for email in emails]

    # The database, read by the checks

    @property
    def engine(self) -> sa.Engine:
        """An engine on the app's database without a pool (the server is stopped and started under it)."""
        if self._engine is None:
            self._engine = sa.create_engine(self.database_url, poolclass=sa.NullPool)
        return self._engine

    def query(self, statement: str, **parameters: t.Any) -> list[tuple[t.Any, ...]]:
        """Run a read-only SQL statement on the app's database; its rows."""
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(statement), parameters)]

    def database_answers(self) -> bool:
        """Whether the app's database accepts a query."""
        try:
            self.query("SELECT 1")
        except sa.exc.OperationalError:
            return False
        return True

    def queue_mail(self, count: int, *, to: str) -> list[str]:
        """Queue ``count`` test messages in the outbox, as the app would, in one transaction; their Message-IDs."""
        import notes_app

        from erlen_db import session
        from erlen_mail import queue_template

        app = notes_app.create_app(self.environ, instance_path=str(self.directory / "instance"))
        try:
            with app.test_request_context():
                rows = [queue_template("erlen/test", to=to, app_name="notes") for _ in range(count)]
                session.commit()
                return [str(row.message_id) for row in rows if row is not None]
        finally:
            _dispose(app)

    def job_statuses(self, since: int) -> dict[str, int]:
        """The rows of ``tasks_jobs`` after id ``since``, counted by status (empty without ``tasks``)."""
        if self.kind != "tasks":
            return {}
        rows = self.query("SELECT status, count(*) FROM tasks_jobs WHERE id > :since GROUP BY status", since=since)
        return {str(row[0]): int(row[1]) for row in rows}

    def last_job_id(self) -> int:
        """The largest id of ``tasks_jobs`` (0 without ``tasks`` or jobs)."""
        if self.kind != "tasks":
            return 0
        return int(self.query("SELECT coalesce(max(id), 0) FROM tasks_jobs")[0][0])


def _dispose(app: t.Any) -> None:
    """Release what an app made in the suite's own process: its connections, and its tasks broker's."""
    import erlen
    import erlen_db

    if erlen.plugins_of(app).get("tasks") is not None:
        import erlen_tasks

        erlen_tasks.state_of(app).close()
    erlen_db.database_of(app).engine.dispose()


def _create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``server_url``; its URL."""
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


__all__ = [
    "ACCOUNT_LIMIT",
    "ADMIN_EMAIL",
    "EXAMPLE_PLUGINS",
    "KINDS",
    "TASKS_PLUGINS",
    "TESTS_FOLDER",
    "WORKERS",
    "Deployment",
    "deployment_environ",
]

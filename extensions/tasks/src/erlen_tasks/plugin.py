"""The ``tasks`` plugin: settings, declared jobs, tables, migrations and the ``tasks`` command group."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

import erlen
from erlen import ConfigError, PluginError, Setting

from .state import EXTENSION_KEY, TasksState

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import ModuleType

    import click
    from flask import Flask
    from flask.cli import AppGroup

    from erlen.checks import CheckMessage

    from .jobs import Job

PLUGIN = erlen.Plugin(
    name="tasks",
    requires=["db"],
    integrates_with=["migrate", "admin"],
    description="Background jobs on Dramatiq: enqueued with the transaction, retried, scheduled.",
    title="Background jobs",
)


def _prefix(value: object) -> None:
    if isinstance(value, str) and not all(c.isalnum() or c in "-_." for c in value):
        raise ValueError("must be letters, digits, '-', '_' or '.'")


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    from . import hookspecs

    return [hookspecs]


@erlen.hookimpl
def erlen_settings() -> Iterable[Setting]:
    return [
        Setting(
            "BROKER",
            t.Literal["database", "redis", "rabbitmq"],
            default="database",
            help="Where jobs wait: database (the app's database, no server: the default), or redis or rabbitmq "
            "(TASKS_URL) for workers on several hosts.",
        ),
        Setting(
            "URL",
            str,
            default="",
            secret=True,
            help="The Redis or RabbitMQ URL, such as redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672/%2F.",
        ),
        Setting(
            "QUEUE_PREFIX",
            str,
            default="",
            validate=_prefix,
            help="Put before every queue's name in the broker, so that apps (or test runs) sharing one do not mix.",
        ),
        Setting(
            "LEASE_SECONDS",
            float,
            default=30.0,
            validate=erlen.greater_than(0),
            help="How long a database worker's (or relay's) claim on a job lasts; a live worker renews it five times "
            "per lease. After it, another worker runs the job of a worker that died.",
        ),
        Setting(
            "POLL_SECONDS",
            float,
            default=1.0,
            validate=erlen.greater_than(0),
            help="How long a database worker, the relay and the scheduler wait when nothing is due.",
        ),
        Setting(
            "WORKER_THREADS",
            int,
            default=4,
            validate=erlen.greater_than(0),
            help="Jobs one `erlen tasks worker` runs at once.",
        ),
        Setting(
            "HANDOFF",
            bool,
            default=True,
            help="Redis and RabbitMQ: the process that enqueued a job hands it to the broker right after the "
            "transaction commits; the relay takes the jobs it could not hand over (the broker was away). Off: only "
            "the relay hands jobs over, a poll later.",
        ),
        Setting(
            "HEALTH_BROKER",
            bool,
            default=True,
            help="With erlen-ops: /readyz checks that the Redis or RabbitMQ broker accepts a connection. Off: the "
            "app stays ready while the broker is away (its jobs wait in the outbox meanwhile).",
        ),
        Setting(
            "HEALTH_TIMEOUT",
            float,
            default=2.0,
            validate=erlen.greater_than(0),
            help="Seconds the broker's readiness check waits for a connection.",
        ),
        Setting(
            "RELAY_BATCH_SIZE",
            int,
            default=100,
            validate=erlen.greater_than(0),
            help="Committed jobs the relay claims per pass.",
        ),
        Setting(
            "CRON_CATCH_UP_SECONDS",
            float,
            default=300.0,
            validate=erlen.at_least(0),
            help="A periodic job's period missed while no scheduler ran is still enqueued if it began less than "
            "this long ago.",
        ),
        Setting(
            "KEEP_SUCCEEDED_DAYS",
            float | None,
            default=7.0,
            validate=erlen.greater_than(0),
            help="How long the row of a job that succeeded is kept in tasks_jobs; the workers then delete it "
            "(once an hour, on one host). Failed and dead jobs are kept, and so are idempotency keys. None: kept "
            "until `erlen tasks purge`.",
        ),
        Setting(
            "KEEP_COMPLETED_KEYS_DAYS",
            float | None,
            default=None,
            validate=erlen.greater_than(0),
            help="How long an idempotency key of tasks_completed_keys is kept once its job completed; the workers "
            "then delete it (once an hour, on one host). A job redelivered after that would run its effect again: "
            "choose days, well beyond any redelivery. None: kept for good (the table grows with every keyed run).",
        ),
        Setting(
            "PRUNE_ONLY_PERIODIC",
            bool,
            default=False,
            help="Delete after TASKS_KEEP_SUCCEEDED_DAYS only the rows of periodic (cron) jobs, keeping those of "
            "every other job until `erlen tasks purge`.",
        ),
        Setting(
            "REDIS_HEARTBEAT_SECONDS",
            float,
            default=60.0,
            validate=erlen.greater_than(0),
            help="Redis broker: after this long without a heartbeat, a worker is dead and its jobs run again "
            "elsewhere.",
        ),
        Setting(
            "REDIS_MAINTENANCE_CHANCE",
            int,
            default=1000,
            validate=erlen.at_least(0),
            help="Redis broker: out of a million broker commands, how many also give the jobs of dead workers back "
            "to their queues (Dramatiq's maintenance_chance). The workers also do so every "
            "TASKS_REDIS_RECOVERY_SECONDS, for each queue they work on.",
        ),
        Setting(
            "REDIS_RECOVERY_SECONDS",
            float,
            default=10.0,
            validate=erlen.greater_than(0),
            help="Redis broker: how often a worker puts back on their queues the jobs it fetched but never received "
            "(the connection broke during the fetch), and those of dead workers (TASKS_REDIS_HEARTBEAT_SECONDS). "
            "Such a job runs at most this long after Redis is back, or after the dead worker's heartbeat expired.",
        ),
    ]


def collect_jobs(app: Flask) -> tuple[dict[str, Job], dict[str, str]]:
    """Every job the enabled plugins declare, by name, and the plugin of each.

    :raises PluginError: a plugin returned something other than jobs, or two jobs share a name.
    """
    from .jobs import Job

    jobs: dict[str, Job] = {}
    owners: dict[str, str] = {}
    for plugin, provided in erlen.plugins_of(app).call_each("erlen_tasks_jobs"):
        for item in erlen.hook_items(plugin.name, "erlen_tasks_jobs", provided, "a list of jobs"):
            if not isinstance(item, Job):
                raise PluginError(
                    f"Plugin {plugin.name!r}: erlen_tasks_jobs returned {item!r}; return jobs made with "
                    "@erlen_tasks.job.",
                    plugin=plugin.name,
                )
            if item.name in jobs and jobs[item.name] is not item:
                raise PluginError(
                    f"Plugins {owners[item.name]!r} and {plugin.name!r} both declare a job named {item.name!r}; "
                    "give one of them another name (@job(name=...)).",
                    plugin=plugin.name,
                )
            jobs[item.name] = item
            owners[item.name] = plugin.name
    return jobs, owners


#: The URL schemes the client of each broker takes.
URL_SCHEMES = {"redis": ("redis", "rediss", "unix"), "rabbitmq": ("amqp", "amqps")}


def check_broker_url(broker: str, url: str) -> None:
    """Refuse a ``TASKS_URL`` that ``TASKS_BROKER``'s client cannot take, naming the setting.

    Checked when the app is made: otherwise the worker, the relay or a request's hand-off would stop on the
    client's bare ``ValueError``. The message names the URL's scheme, never the URL (it may hold a password).

    :param broker: ``TASKS_BROKER``, ``redis`` or ``rabbitmq``.
    :param url: ``TASKS_URL``.
    :raises ConfigError: the URL is empty, or of another scheme.
    """
    example = "redis://127.0.0.1:6379/0" if broker == "redis" else "amqp://guest:guest@127.0.0.1:5672/%2F"
    if not url:
        raise ConfigError(f"TASKS_BROKER is {broker!r} but TASKS_URL is empty: set it, such as {example!r}.")
    scheme, separator, _ = url.partition("://")
    schemes = URL_SCHEMES[broker]
    if not separator or scheme.lower() not in schemes:
        found = f"its scheme is {scheme!r}" if separator else "it has no scheme"
        raise ConfigError(
            f"TASKS_URL must be a {broker} URL, beginning with "
            + " or ".join(f"{name}://" for name in schemes)
            + f" (TASKS_BROKER is {broker!r}), such as {example!r}: {found}."
        )


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    broker = app.config.get("TASKS_BROKER", "database")
    if broker != "database":
        check_broker_url(broker, str(app.config.get("TASKS_URL") or ""))
    # Deferred in an app the `erlen` command made: the plugins' job modules import SQLAlchemy and their models,
    # which `erlen --help` does not need. Created any other way, the app collects (and checks) them now.
    erlen.defer_setup(app, set_up_jobs)


def set_up_jobs(app: Flask) -> None:
    """Collect the enabled plugins' jobs into the app's :class:`TasksState` (run by :func:`erlen.defer_setup`).

    :param app: the app being set up.
    :raises PluginError: see :func:`collect_jobs`.
    """
    jobs, owners = collect_jobs(app)
    app.extensions[EXTENSION_KEY] = TasksState(app, jobs, owners)


@erlen.hookimpl
def erlen_app_close(app: Flask) -> None:
    # Before erlen-db's (closing runs in reverse load order): the hand-off writes its last marks first.
    state = app.extensions.get(EXTENSION_KEY)
    if isinstance(state, TasksState):
        state.close()


@erlen.hookimpl(optionalhook=True)
def erlen_db_models() -> Iterable[t.Any]:
    from .models import CompletedKey, CronPeriod, JobRecord

    return [JobRecord, CompletedKey, CronPeriod]


@erlen.hookimpl(optionalhook=True)
def erlen_migrate_locations() -> str:
    return "migrations"


#: ``erlen tasks``'s help: here, so that ``erlen --help`` lists it without importing :mod:`erlen_tasks.cli`.
TASKS_HELP = "Run and inspect background jobs."


@erlen.hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    # Imported when run (LazyCommand): every worker creates the app, none runs it.
    return [erlen.LazyCommand("tasks", "erlen_tasks.cli:tasks_group", help=TASKS_HELP)]


@erlen.hookimpl(optionalhook=True)
def erlen_admin_views(app: Flask) -> Iterable[t.Any]:
    # Called only when the admin is enabled (so erlen-admin is installed).
    from erlen_admin import Action, ModelView

    from .models import FAILED, JobRecord
    from .operations import requeue, retryable

    def retry(view: t.Any, objects: t.Sequence[JobRecord]) -> str:
        # On Redis and RabbitMQ a failed job's next try waits in the broker: queued again, it would run twice.
        # Asked here, not when the views are made: erlen-tasks' state may not be set up yet then.
        statuses = retryable(app)
        kinds = "dead nor failed" if FAILED in statuses else "dead"
        count = requeue(objects, statuses)
        skipped = len(objects) - count
        return f"Queued {count} job(s) again." + (f" {skipped} not {kinds}, left alone." if skipped else "")

    return [
        ModelView(
            JobRecord,
            name="Job",
            plural="Jobs",
            list_columns=["job", "status", "queue", "attempts", "eta", "last_error"],
            # Indexed columns only: the table grows by a row per run. The id orders by enqueue time;
            # a job is found by its name's filter (indexed) rather than a search (a full scan).
            sortable=["id"],
            filters=["status", "queue", "job"],
            detail_columns=[
                "job",
                "status",
                "queue",
                "priority",
                "attempts",
                "eta",
                "last_error",
                "message",
                "message_id",
                "created_at",
                "updated_at",
                "claimed_until",
            ],
            can_create=False,  # jobs are enqueued by code, with checked arguments
            form_columns=["eta", "priority"],  # reschedule or reprioritise a waiting job
            actions=[Action("retry", "Retry", retry, permission="edit", confirm=False)],
        )
    ]


@erlen.hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # Imported here (with erlen.checks): only `erlen check` runs the checks, never a worker.
    from . import checks

    return checks.deploy_problems(app) if deploy else []


# erlen-ops' hooks, optional (erlen-tasks does not depend on erlen-ops). Their modules import SQLAlchemy and
# Dramatiq, which `erlen --help` does not: imported when erlen-ops calls.
@erlen.hookimpl(optionalhook=True)
def erlen_health_checks(app: Flask) -> Mapping[str, Callable[[], Mapping[str, float] | None]]:
    from .health import readiness_checks

    return readiness_checks(app)


@erlen.hookimpl(optionalhook=True)
def erlen_ops_metrics(app: Flask, metrics: t.Any) -> None:
    from .metrics import install_metrics

    install_metrics(app, metrics)


__all__ = ["PLUGIN", "collect_jobs", "set_up_jobs"]

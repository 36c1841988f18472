"""The ``db`` plugin: SQLAlchemy 2 for every Erlen app and plugin."""

from __future__ import annotations

import math
import os
import typing as t
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import click
from flask import Flask, current_app, got_request_exception

import erlen

# Nothing here imports SQLAlchemy: every process imports this module, and the erlen command lists the app's
# commands without the database (erlen.defer_setup). The modules that need SQLAlchemy are imported by the
# functions that use them, which run when the app is set up (at once outside the erlen command).
from . import hookspecs
from .names import BUDGET_SETTINGS, EXTENSION_KEY, database_if_set_up

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flask.cli import AppGroup
    from sqlalchemy.engine import URL

    from erlen.checks import CheckMessage

    from .database import Database

PLUGIN = erlen.Plugin(name="db", description="SQLAlchemy 2 databases for apps and plugins", title="Database")

#: The SQLite file in the instance folder used when ``DB_URL`` is not set.
DEFAULT_SQLITE_FILE = "app.sqlite3"

#: Seconds to wait for a PostgreSQL server to accept a connection, unless the URL or engine options say otherwise.
CONNECT_TIMEOUT = 10


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    return [hookspecs]


#: The statement each value of ``DB_SQLITE_BEGIN`` begins an SQLite transaction with.
SQLITE_BEGINS = {"deferred": "BEGIN", "immediate": "BEGIN IMMEDIATE"}


def _sqlite_begin(value: object) -> None:
    if value not in SQLITE_BEGINS:
        raise ValueError(f"must be one of {', '.join(map(repr, SQLITE_BEGINS))}")


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    return [
        erlen.Setting(
            "URL",
            str | None,
            default=None,
            help="The database URL, such as postgresql+psycopg://user:password@host/name; by default an SQLite "
            f"file {DEFAULT_SQLITE_FILE} in the app's instance folder.",
            secret=True,
        ),
        erlen.Setting(
            "ENGINE_OPTIONS",
            dict[str, t.Any],
            default={},
            help="Keyword arguments of sqlalchemy.create_engine, such as pool_size or pool_timeout.",
        ),
        erlen.Setting("ECHO", bool, default=False, help="Log every SQL statement."),
        erlen.Setting(
            "LONE_READS",
            bool,
            default=True,
            help="On PostgreSQL with psycopg under READ COMMITTED, and on SQLite, run a SELECT that cannot change "
            "anything outside a transaction when none is open (it saves BEGIN and ROLLBACK); turn off for an app "
            "that relies on the locks a transaction's first SELECT takes, on when the transaction starts, or, on "
            "SQLite, on its reads before the first write seeing one snapshot.",
        ),
        erlen.Setting(
            "SQLITE_BUSY_TIMEOUT",
            int,
            default=5000,
            help="Milliseconds an SQLite connection waits for a lock before failing.",
        ),
        erlen.Setting(
            "SQLITE_BEGIN",
            str,
            default="deferred",
            validate=_sqlite_begin,
            help="How an SQLite transaction begins: 'deferred' (BEGIN) takes the write lock at its first write; "
            "'immediate' (BEGIN IMMEDIATE) at its first statement that is not a lone read, so that a request "
            "that reads with a function call (a count) and then writes never fails with 'database is locked' "
            "because another connection committed in between, and waits for the lock instead (Django's "
            "transaction_mode). Such transactions then hold the lock while they read.",
        ),
        *BUDGET_SETTINGS,
    ]


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    # The engine, the models and the handlers: at once, except while the erlen command only lists commands
    # (then on the first database_of(app), or before any command runs).
    # In every app, when it is created: in an app the erlen command made, the session's removal then keeps a
    # served app's place among the other plugins' teardowns (Flask runs them in reverse, so theirs may still
    # use the session) although the database comes later; and the rollback after an unhandled exception is a
    # receiver of the signal from the start, as in a served app.
    app.teardown_appcontext(_remove_session_once_set_up)
    got_request_exception.connect(_roll_back_after_exception, app)
    erlen.defer_setup(app, set_up_database)


def _remove_session_once_set_up(exception: BaseException | None = None) -> None:
    """The app context's teardown: the session's removal, once the database is set up."""
    database = database_if_set_up(current_app)
    if database is not None:
        database.remove_session(exception)


def set_up_database(app: Flask) -> None:
    """Make the app's :class:`~erlen_db.Database`, claim every plugin's models and register the handlers.

    The ``db`` plugin's set-up, run by :func:`erlen.defer_setup`: when the app
    is created, or under the ``erlen`` command when the database is first needed.

    :param app: the app.
    :raises erlen.SettingError: ``DB_URL`` or ``DB_ENGINE_OPTIONS`` is invalid.
    :raises TableConflictError: two plugins declare the same table.
    """
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from . import urls
    from .database import Database, install_sqlite_pragmas
    from .errors import mark_unreachable_errors, register_error_handler, register_pagination_error_handler
    from .timezones import install_sqlite_aware_datetimes

    url = _configured_url(app)
    options: dict[str, t.Any] = {"echo": app.config["DB_ECHO"]}
    # A server can drop a pooled connection (restart, idle timeout): find it before use. Polling the idle
    # socket costs a request no round trip, where pool_pre_ping sends "SELECT 1" on every checkout; the ping
    # stays for a driver whose socket cannot be polled. An SQLite connection is a file handle that nothing
    # drops: neither is needed.
    sqlite = urls.is_sqlite(url)
    polled = False
    if not sqlite:
        # Imported only here: a server's connections, never an SQLite app's, are polled.
        from . import stale_connections

        polled = stale_connections.can_check(url)
    if not sqlite and not polled:
        options["pool_pre_ping"] = True
    if not urls.is_sqlite_memory(url):
        options["pool_timeout"] = 10  # SQLAlchemy's 30 seconds keep a request waiting too long for its 503
    options.update(_checked_engine_options(app.config["DB_ENGINE_OPTIONS"]))
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        # Without it, a server that drops packets keeps a request waiting minutes for its 503.
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT, **options.get("connect_args", {})}
    try:
        database = Database(app, url, options)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise erlen.SettingError(
            f"Setting DB_ENGINE_OPTIONS of plugin 'db' holds an option that create_engine does not accept for "
            f"{urls.redact(url)}: {type(exc).__name__}: {urls.redact(str(exc))}. Check the options' names and "
            "the types of their values.",
            key="DB_ENGINE_OPTIONS",
            plugin="db",
        ) from None
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise erlen.SettingError(
            f"Setting DB_URL of plugin 'db' cannot make an engine for {urls.redact(url)}: "
            f"{type(exc).__name__}: {urls.redact(str(exc))}. Check the driver name (postgresql+psycopg, sqlite) "
            "and that the driver is installed.",
            key="DB_URL",
            plugin="db",
        ) from None
    _check_isolation_level(database)
    if polled and not options.get("pool_pre_ping"):
        stale_connections.install(database.engine)
    if sqlite:
        install_sqlite_pragmas(
            database.engine, app.config["DB_SQLITE_BUSY_TIMEOUT"], begin=SQLITE_BEGINS[app.config["DB_SQLITE_BEGIN"]]
        )
        lone_reads_possible = True  # after the pragmas, whose BEGIN lone reads defer
    else:
        # Imported only here: psycopg's prepared statements, never used by an SQLite app.
        from . import prepared_statements

        lone_reads_possible = prepared_statements.can_keep(url)
        if lone_reads_possible:
            # Every request that does not commit ends in a rollback, which would make psycopg forget the
            # statements it prepared: each request would parse and plan its statements anew.
            prepared_statements.install(database.engine)
    if lone_reads_possible and app.config["DB_LONE_READS"]:
        from . import lone_reads

        # A request that only reads then costs one round trip instead of BEGIN, the statement and ROLLBACK.
        lone_reads.install(database.engine)
    if sqlite:
        install_sqlite_aware_datetimes(database.engine)
    mark_unreachable_errors(database.engine)
    app.extensions[EXTENSION_KEY] = database
    register_error_handler(app)
    register_pagination_error_handler(app)
    for plugin, declared in erlen.plugins_of(app).call_each("erlen_db_models"):
        database.claim(
            plugin.name, erlen.hook_items(plugin.name, "erlen_db_models", declared, "models, MetaData or Tables")
        )
    erlen.plugins_of(app).call_each("erlen_db_engine_created", app=app, engine=database.engine)


#: Engine options whose value must be a number; create_engine accepts any value, the pool then fails on every checkout.
_NUMERIC_ENGINE_OPTIONS = ("pool_size", "max_overflow", "pool_timeout", "pool_recycle")


def _pool_range_problem(name: str, value: int | float) -> str | None:
    """What is wrong with the number ``value`` of the pool option ``name``, or ``None`` when the pool can use it.

    ``create_engine`` takes any number, but the pool misbehaves on those out of range only once it is used: a
    negative ``pool_timeout`` fails the checkout that should wait (a 500 where a 503 was due), a NaN one waits
    forever, a ``max_overflow`` below -1 recurses without end, and a negative ``pool_size`` counts its
    connections wrong.

    :param name: one of :data:`_NUMERIC_ENGINE_OPTIONS`.
    :param value: its value, a number that is not a bool.
    """
    if math.isnan(value):
        return f"{name} must be a number, not NaN"
    if name == "pool_size" and (not isinstance(value, int) or value < 0):
        return f"pool_size must be a whole number of connections, 0 or more (0: no limit), not {value!r}"
    if name == "max_overflow" and (not isinstance(value, int) or value < -1):
        return f"max_overflow must be a whole number of connections, 0 or more (-1: no limit), not {value!r}"
    if name == "pool_timeout" and (value < 0 or math.isinf(value)):
        return f"pool_timeout must be the seconds to wait for a free connection, 0 or more and finite, not {value!r}"
    return None


def _checked_engine_options(options: dict[str, t.Any]) -> dict[str, t.Any]:
    """``DB_ENGINE_OPTIONS``, with the values that would fail only once connecting checked now.

    :raises erlen.SettingError: ``connect_args`` is not a mapping, or a pool size or time is not a number
        or is out of the range the pool works with.
    """
    problems: list[str] = []
    for name in _NUMERIC_ENGINE_OPTIONS:
        if name not in options:
            continue
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{name} must be a number, not {value!r}")
        elif (problem := _pool_range_problem(name, value)) is not None:
            problems.append(problem)
    if not isinstance(options.get("connect_args", {}), dict):
        problems.append(
            f"connect_args must be a mapping of the driver's connect() arguments, not {options['connect_args']!r}"
        )
    if problems:
        raise erlen.SettingError(
            f"Setting DB_ENGINE_OPTIONS of plugin 'db' is invalid: {'; '.join(problems)}.",
            key="DB_ENGINE_OPTIONS",
            plugin="db",
        )
    return options


def _check_isolation_level(database: Database) -> None:
    """Check ``isolation_level`` of ``DB_ENGINE_OPTIONS`` against the levels of the database, without connecting.

    ``create_engine`` accepts any value and SQLAlchemy checks it on each new
    connection, so a misspelt level would let the app start and fail every request.

    :param database: the database just made, with the engine options.
    :raises erlen.SettingError: the level is not one the database's dialect accepts.
    """
    level = database.engine_options.get("isolation_level")
    if level is None:
        return
    try:
        # The public way to the accepted levels. It takes a DBAPI connection so that a dialect may ask the
        # server; SQLAlchemy's own dialects answer without one, and the app must start while the database is down.
        accepted = [str(name) for name in database.engine.dialect.get_isolation_level_values(t.cast(t.Any, None))]
    except (NotImplementedError, AttributeError, TypeError):
        return  # a dialect that needs a connection to say: SQLAlchemy checks the level when connecting
    # SQLAlchemy's own normalization, so that "read_committed" or "serializable" pass as they would when connecting.
    if isinstance(level, str) and level.replace("_", " ").upper() in accepted:
        return
    raise erlen.SettingError(
        f"Setting DB_ENGINE_OPTIONS of plugin 'db' has isolation_level {level!r}, which {database.display_url} "
        f"does not accept. Use one of: {', '.join(accepted)}.",
        key="DB_ENGINE_OPTIONS",
        plugin="db",
    )


def _roll_back_after_exception(sender: Flask, **extra: t.Any) -> None:
    """Roll back the request's session when it raised an unhandled exception, before the 500 handlers run.

    Nothing while the database is not set up: a request before then has no session.

    :param sender: the app whose request raised.
    :param extra: the signal's arguments (``exception``).
    """
    database = database_if_set_up(sender)
    if database is not None:
        database.rollback_session()


def _configured_url(app: Flask) -> URL:
    from sqlalchemy.exc import NoSuchModuleError

    from . import urls

    raw = app.config["DB_URL"]
    if raw is None:
        os.makedirs(app.instance_path, exist_ok=True)
        raw = "sqlite:///" + str(Path(app.instance_path) / DEFAULT_SQLITE_FILE)
    try:
        url = urls.parse(raw)
        url.get_dialect()
    except ValueError as exc:
        raise erlen.SettingError(
            f"Setting DB_URL of plugin 'db' has the value {urls.redact(raw)!r}: {exc}.", key="DB_URL", plugin="db"
        ) from None
    except NoSuchModuleError:
        raise erlen.SettingError(
            f"Setting DB_URL of plugin 'db' has the value {urls.redact(raw)!r}, whose database or driver "
            f"{urls.parse(raw).drivername!r} SQLAlchemy does not know. Use postgresql+psycopg://... or sqlite:///...",
            key="DB_URL",
            plugin="db",
        ) from None
    if url.database and urls.is_sqlite(url) and not urls.is_sqlite_memory(url) and not url.database.startswith("file:"):
        path = Path(url.database)
        if not path.is_absolute():
            # Like Flask-SQLAlchemy: a relative SQLite file lives in the instance folder, not the working directory.
            os.makedirs(app.instance_path, exist_ok=True)
            url = url.set(database=str(Path(app.instance_path) / path))
    return url


#: ``erlen db``'s help: here, so that ``erlen --help`` lists it without importing :mod:`erlen_db.cli`.
DB_HELP = "Work with the app's database."


@erlen.hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    # Imported when run (LazyCommand): every worker creates the app, none runs it. db_group makes a new group
    # for each app (migrate adds its commands to it).
    return [erlen.LazyCommand("db", "erlen_db.cli:db_group", help=DB_HELP)]


@erlen.hookimpl
def erlen_shell_context() -> dict[str, t.Any]:
    from .session import session

    return {"session": session}


@erlen.hookimpl
def erlen_app_close(app: Flask) -> None:
    # Pooled connections would otherwise stay open until the garbage collector finds the engine. An app whose
    # set-up is still deferred has no engine: closing it must not make one.
    database = database_if_set_up(app)
    if database is not None:
        database.dispose()


@erlen.hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # Imported when called: only `erlen check` runs the checks, never a worker.
    from erlen.checks import info, warning

    from . import urls
    from .database import database_of

    database = database_of(app)
    found: list[CheckMessage] = []
    if deploy and urls.is_sqlite(database.url):
        found.append(
            info(
                "db.I001",
                f"The database is SQLite ({database.display_url}).",
                "Fine for one server; set DB_URL to a PostgreSQL server for several.",
            )
        )
    if deploy and app.config["DB_ECHO"]:
        found.append(warning("db.W001", "DB_ECHO is on: every SQL statement is logged.", "Turn DB_ECHO off."))
    if deploy:
        from . import connection_budget

        found.extend(connection_budget.check(app, database))
    return found


# erlen-ops' hooks, optional (erlen-db does not depend on erlen-ops): their module is imported when erlen-ops
# calls, never by the workers of an app without it.
@erlen.hookimpl(optionalhook=True)
def erlen_health_checks(app: Flask) -> Mapping[str, Callable[[], None]]:
    from .health import readiness_checks

    return readiness_checks(app)

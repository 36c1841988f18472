"""The ``migrate`` plugin: an Alembic branch per plugin, so composed schemas just work."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable
from types import ModuleType

import click
from flask import Flask

import erlen

from . import hookspecs

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flask.cli import AppGroup
    from sqlalchemy.engine import Connection

    from erlen.checks import CheckMessage

    from .migrations import Migrations

PLUGIN = erlen.Plugin(
    name="migrate", requires=["db"], description="Migrations: an Alembic branch per plugin", title="Migrations"
)

#: The key of ``app.extensions`` under which the :class:`Migrations` live.
EXTENSION_KEY = "migrate"


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    return [hookspecs]


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    return [
        erlen.Setting(
            "APP_DIRECTORY",
            str,
            default="migrations",
            help="The folder of the app's own migrations (the 'app' branch), relative to the app's root folder.",
        ),
    ]


class _NotMadeYet:
    """What ``app.extensions["migrate"]`` holds until :func:`migrations_of` first asks for the app's migrations."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<erlen-migrate: migrations made on first use>"


_NOT_MADE_YET = _NotMadeYet()


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    # The Migrations object is made by the first migrations_of(): erlen_migrate.migrations (some 130 KiB of
    # code) then serves the commands, `erlen check` and the readiness check, never a web worker's pages.
    app.extensions[EXTENSION_KEY] = _NOT_MADE_YET


def migrations_of(app: Flask) -> Migrations:
    """The :class:`Migrations` of ``app``, made on the first call.

    :param app: the app.
    :raises erlen.PluginNotEnabledError: the ``migrate`` plugin is not enabled on the app (a ``ConfigError``).
    """
    found = erlen.extension_state(EXTENSION_KEY, app)
    if found is _NOT_MADE_YET:
        from .migrations import Migrations

        # Two threads may both get here: each makes one, which holds nothing but the app, and one is kept.
        found = app.extensions[EXTENSION_KEY] = Migrations(app)
    return t.cast("Migrations", found)


@erlen.hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    group = cli.commands.get("db")
    if group is None:  # pragma: no cover - db is required, so its group exists
        raise erlen.PluginError("The 'db' command group is missing; is the db plugin enabled?", plugin="migrate")
    # erlen-db's group is a LazyCommand: the migration commands (and Alembic's code) are imported with it,
    # when ``erlen db ...`` runs, never in a worker.
    erlen.when_loaded(group, _add_commands)
    return []


def _add_commands(group: click.Command) -> None:
    from .cli import add_commands

    add_commands(t.cast("AppGroup", group))


@erlen.hookimpl
def erlen_db_managed_by(app: Flask, connection: Connection) -> str | None:
    from sqlalchemy import inspect

    from .migrations import VERSION_TABLE

    migrations = migrations_of(app)
    try:
        has_revisions = migrations.scripts().has_revisions
    except erlen.ErlenError:
        has_revisions = True
    if has_revisions or inspect(connection).has_table(VERSION_TABLE):
        return "erlen db upgrade"
    return None


@erlen.hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # SQLAlchemy and erlen-db here, not at the top: erlen --help imports this module, not SQLAlchemy.
    from sqlalchemy.exc import SQLAlchemyError

    import erlen_db

    # Imported when called: only `erlen check` runs the checks, never a worker.
    from erlen.checks import error, info, warning

    from .migrations import APP_BRANCH

    migrations = migrations_of(app)
    try:
        scripts = migrations.scripts()
    except erlen.ErlenError as exc:
        return [error("migrate.E001", str(exc), "Fix the migration files named above.")]
    found: list[CheckMessage] = []
    for owner, tables in migrations.owners_without_migrations(scripts).items():
        names = ", ".join(tb.name for tb in tables)
        how = (
            "implement the erlen_migrate_locations hook and run "
            if owner != APP_BRANCH and owner not in scripts.branches
            else "run "
        )
        found.append(
            warning(
                "migrate.W002",
                f"{'The app' if owner == APP_BRANCH else f'Plugin {owner!r}'} owns tables ({names}) that no "
                "migration creates.",
                f"To ship them, {how}erlen db revision --plugin {owner} --autogenerate -m 'initial'."
                if owner != APP_BRANCH
                else f"Create its first migration: erlen db revision --autogenerate -m 'initial' (written into "
                f"{scripts.branches[APP_BRANCH].folder}).",
            )
        )
    try:
        with migrations.connect() as connection:
            statuses = migrations.status(connection, scripts)
    except SQLAlchemyError as exc:
        found.append(
            info(
                "migrate.I001",
                f"Cannot read the applied migrations: {erlen_db.describe_error(exc, erlen_db.database_of(app))}",
                "Check that the database is reachable.",
            )
        )
        return found
    for status in statuses:
        if status.pending:
            found.append(
                warning(
                    "migrate.W001",
                    f"{'The app' if status.name == APP_BRANCH else f'Plugin {status.name!r}'} has "
                    f"{len(status.pending)} unapplied migration{'s' if len(status.pending) != 1 else ''} "
                    f"(head {status.pending[-1].revision}).",
                    "Run erlen db upgrade.",
                )
            )
    return found


# erlen-ops' hooks, optional (erlen-migrate does not depend on erlen-ops): their module is imported when erlen-ops
# calls, never by the workers of an app without it.
@erlen.hookimpl(optionalhook=True)
def erlen_health_checks(app: Flask) -> Mapping[str, Callable[[], Mapping[str, float]]]:
    from .health import readiness_checks

    return readiness_checks(app)

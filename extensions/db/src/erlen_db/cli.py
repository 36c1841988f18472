"""``erlen db``: look at the database and, in development, create its tables.

The module imports neither SQLAlchemy nor the database layer at its top:
``erlen db --help`` (and ``erlen db upgrade --help``, whose commands
erlen-migrate adds to this group) load it to print the group's help without
finishing the app's set-up, so that no help page imports SQLAlchemy. The
commands import them when they run.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup

import erlen

from .plugin import DB_HELP

if t.TYPE_CHECKING:
    from .database import Database

#: The table Alembic keeps the revision of a migrated database in.
ALEMBIC_VERSION_TABLE = "alembic_version"


def db_group() -> AppGroup:
    """The ``db`` command group; migrations plugins add their commands to it through ``cli.commands["db"]``."""
    group = AppGroup("db", help=DB_HELP)
    group.add_command(info_command)
    group.add_command(create_all_command)
    return group


@contextmanager
def reported_errors(database: Database) -> Iterator[None]:
    """Turn Erlen's errors and the database's errors into a one-paragraph message and exit status 1.

    For the commands of any plugin that uses the database: a table conflict, a
    missing plugin or a database error (busy, unreachable, refused) becomes a
    :class:`click.ClickException` that says what went wrong and what to do,
    with the URL's password hidden, instead of a traceback.

    :param database: the app's database, whose URL the messages name.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from .errors import database_error_message

    try:
        yield
    except erlen.ErlenError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(database_error_message(exc, database)) from None


@click.command("info")
def info_command() -> None:
    """Show the database URL (password hidden) and the tables of each plugin."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from .database import database_of
    from .errors import is_unavailable

    database = database_of()
    click.echo(f"URL: {database.display_url}")
    click.echo(f"Dialect: {database.engine.dialect.name}+{database.engine.dialect.driver}")
    with reported_errors(database):
        by_owner = database.tables_by_owner()
        existing: set[str] | None = None
        try:
            with database.engine.connect() as connection:
                inspector = inspect(connection)
                existing = {
                    f"{schema}.{name}" if schema else name
                    for schema in {table.schema for tables in by_owner.values() for table in tables}
                    for name in inspector.get_table_names(schema=schema)
                }
            click.echo("Database: reachable")
        except SQLAlchemyError as exc:
            if not is_unavailable(exc):
                raise
            click.echo("Database: unreachable (tables are listed as the models define them)")
    for owner, tables in by_owner.items():
        click.echo(f"{owner}:")
        for table in tables:
            missing = existing is not None and table.key not in existing
            click.echo(f"  {table.key}" + ("  (not created)" if missing else ""))
    if not by_owner:
        click.echo("No tables are defined.")


@click.command("create-all")
@click.option("--force", is_flag=True, help="Run even when the app is neither in debug nor testing mode.")
def create_all_command(force: bool) -> None:
    """Create the tables that do not exist yet, for development. Use migrations elsewhere."""
    from sqlalchemy import inspect

    from .database import database_of

    app = current_app
    if not (app.debug or app.testing or force):
        raise click.ClickException(
            "db create-all is for development: run it with --debug (or set DEBUG), or pass --force. "
            "Use migrations to set up production databases."
        )
    database = database_of()
    with reported_errors(database):
        database.tables_by_owner()  # a table conflict stops the command before it touches the database
        with database.engine.connect() as connection:
            managed = erlen.plugins_of(app).hook.erlen_db_managed_by(app=app, connection=connection)
            if managed is None and inspect(connection).has_table(ALEMBIC_VERSION_TABLE):
                managed = "erlen db upgrade"
        if managed:
            raise click.ClickException(
                f"The database at {database.display_url} is managed by migrations; create-all would bypass them. "
                f"Run `{managed}` instead."
            )
        database.create_all()
    click.echo(f"Created the missing tables of {database.display_url}.")

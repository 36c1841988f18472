"""The migration commands, added to ``erlen db``.

Loaded with the ``db`` group, also for its help pages (``erlen db --help``,
``erlen db upgrade --help``), which the ``erlen`` command prints without
finishing the app's set-up: so neither SQLAlchemy nor Alembic is imported at
the top, only when a command runs.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup

import erlen_db
from erlen_db import reported_errors

from .diffs import describe

if t.TYPE_CHECKING:
    from .migrations import Migrations
    from .scripts import BranchScripts

F = t.TypeVar("F", bound=Callable[..., t.Any])

plugin_option = click.option("--plugin", "plugin", metavar="NAME", help="The plugin (or 'app') whose branch to use.")


def migrations() -> Migrations:
    from .plugin import migrations_of

    return migrations_of(t.cast(Flask, current_app._get_current_object()))  # type: ignore[attr-defined]


def reported() -> t.ContextManager[None]:
    """Turn Erlen's errors and database errors into a message and exit status 1."""
    return reported_errors(erlen_db.database_of())


def add_commands(group: AppGroup) -> None:
    """Add the migration commands to the ``db`` group."""
    for command in (upgrade, downgrade, revision, current, history, heads, stamp, check):
        group.add_command(command)


@click.command("upgrade")
@plugin_option
def upgrade(plugin: str | None) -> None:
    """Apply the migrations of every enabled plugin (or of --plugin NAME and those it depends on)."""
    with reported():
        migrations().upgrade(plugin, echo=click.echo)


@click.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.option("--plugin", "plugin", metavar="NAME", required=True, help="The plugin (or 'app') to downgrade.")
@click.argument("revision")
def downgrade(plugin: str, revision: str) -> None:
    """Undo a plugin's migrations down to REVISION (a revision id, -1, or base)."""
    with reported():
        migrations().downgrade(plugin, revision, echo=click.echo)


@click.command("revision")
@click.option("--plugin", "plugin", metavar="NAME", default="app", show_default=True, help="Whose migration to write.")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--autogenerate", is_flag=True, help="Fill it with the differences between the models and the database.")
def revision(plugin: str, message: str, autogenerate: bool) -> None:
    """Write a new revision into a plugin's migrations folder (the first one starts its branch)."""
    with reported():
        migrations().revision(plugin, message, autogenerate=autogenerate, echo=click.echo)


@click.command("current")
def current() -> None:
    """Show the applied revision of each plugin's branch."""
    with reported():
        m = migrations()
        scripts = m.scripts()
        with m.connect() as connection:
            statuses = m.status(connection, scripts)
            rows = m.database_heads(connection)
        for status in statuses:
            if status.head is None:
                state = "no migrations"
            elif status.current is None:
                state = f"not applied ({len(status.pending)} pending)"
            elif status.pending:
                state = f"{len(status.pending)} pending"
            else:
                state = "head"
            rev = status.current.revision if status.current else "-"
            click.echo(f"{status.name}: {rev} ({state})")
        for row in rows:
            if row not in scripts.owner_of:
                click.echo(f"(unknown): {row} (a plugin that is not enabled, or a deleted migration file)")


@click.command("history")
@plugin_option
def history(plugin: str | None) -> None:
    """List each plugin's revisions, first to last."""
    from alembic.util import to_tuple

    with reported():
        m = migrations()
        scripts = m.scripts()
        names = [scripts.branch(plugin).name] if plugin else list(scripts.branches)
        try:
            with m.connect() as connection:
                applied: set[str] | None = scripts.ancestors(m.database_heads(connection))
        except Exception:
            applied = None
        for name in names:
            branch = scripts.branches[name]
            click.echo(f"{name} ({branch.folder}):")
            if not branch.revisions:
                click.echo("  no revisions")
            for script in branch.revisions:
                mark = "" if applied is None else (" [applied]" if script.revision in applied else " [pending]")
                deps = to_tuple(script.dependencies, default=())
                needs = f" depends on {', '.join(_label(scripts, d) for d in deps)}" if deps else ""
                click.echo(f"  {script.revision} {script.doc}{needs}{mark}")


def _label(scripts: BranchScripts, revision: str) -> str:
    return f"{scripts.owner_of.get(revision, revision)}@{revision}" if revision in scripts.owner_of else revision


@click.command("heads")
def heads() -> None:
    """Show the head revision of each plugin's branch."""
    with reported():
        scripts = migrations().scripts()
        for branch in scripts.branches.values():
            head = branch.head
            click.echo(f"{branch.name}: {head.revision + ' ' + head.doc if head else '(no revisions)'}")


@click.command("stamp")
@plugin_option
@click.argument("revision", default="head")
def stamp(plugin: str | None, revision: str) -> None:
    """Record a branch (every branch without --plugin) as being at REVISION without running migrations."""
    with reported():
        migrations().stamp(plugin, revision, echo=click.echo)


@click.command("check")
def check() -> None:
    """Exit 1 when the enabled plugins' models and their migrations differ (for CI)."""
    with reported():
        m = migrations()
        scripts = m.scripts()
        problems: list[str] = []
        for owner, tables in m.owners_without_migrations(scripts).items():
            problems.append(
                f"{owner}: its tables ({', '.join(tb.name for tb in tables)}) have no migrations. "
                f"Run erlen db revision --plugin {owner} --autogenerate -m 'initial'."
            )
        with m.connect() as connection:
            behind = [s for s in m.status(connection, scripts) if s.pending]
            if behind:
                problems.extend(
                    f"{s.name}: {len(s.pending)} migrations are not applied to the database; run erlen db upgrade "
                    "first (check compares the models with the migrated database)."
                    for s in behind
                )
            else:
                for owner, diffs in m.compare(connection, scripts).items():
                    if owner in {o for o in m.owners_without_migrations(scripts)}:
                        continue
                    lines = "\n".join(f"  - {describe(diff)}" for diff in diffs)
                    problems.append(
                        f"{owner}: the models differ from the migrations:\n{lines}\n"
                        f"  Run erlen db revision --plugin {owner} --autogenerate -m '...'."
                    )
        if problems:
            for problem in problems:
                click.secho(problem, fg="red", err=True)
            raise SystemExit(1)
        click.echo("Models and migrations agree.")

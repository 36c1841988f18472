"""Running an app's migrations: upgrade, downgrade, stamp, new revisions and model comparison.

Alembic is driven in code: no ``alembic.ini`` and no ``env.py``. One
``alembic_version`` table holds a row per branch head, so a plugin enabled
later adds its row, and the row of a plugin that is disabled stays as it is
(revisions the enabled plugins do not know are left out of every command).
"""

from __future__ import annotations

import time
import typing as t
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Connection

import erlen
import erlen_db
from erlen_db import OWNER_INFO_KEY, connect_with_transactions, is_search_index

from .errors import MigrationError, MigrationFailed, UnknownBranchError
from .render import render_item
from .sqlite_lock import sqlite_migrations_lock

if t.TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext, MigrationInfo
    from alembic.script import Script

    from .scripts import BranchScripts

# Alembic is imported by the methods that use it, never with this module: the plugin imports this module in every
# process (each web worker, each ``--help``), and Alembic's import costs more than the rest of the plugin.

#: The label of the app's own branch, and the owner of the app's tables.
APP_BRANCH = erlen_db.APP_OWNER

#: The PostgreSQL advisory lock taken while migrations run in the ``public`` schema ("ERLENMIG").
LOCK_KEY = 0x45524C454E4D4947

#: The table holding the applied head of each branch.
VERSION_TABLE = "alembic_version"

Echo = Callable[[str], None]


def migrations_folders(app: Flask) -> dict[str, Path]:
    """The migrations folder of each enabled plugin that ships migrations, and the app's, in load order.

    :param app: the app.
    """
    folders: dict[str, Path] = {}
    for plugin, location in erlen.plugins_of(app).call_each("erlen_migrate_locations"):
        if location is None:
            continue
        path = Path(location)
        if not path.is_absolute():
            module_file = getattr(plugin.obj, "__file__", None)
            if module_file is None:
                raise MigrationError(
                    f"Plugin {plugin.name!r} returned the relative migrations folder {str(location)!r} from "
                    "erlen_migrate_locations, but has no module file to resolve it against; return an absolute path.",
                    plugin=plugin.name,
                )
            path = Path(module_file).parent / path
        folders[plugin.name] = path
    folders[APP_BRANCH] = app_folder(app)
    return folders


def app_folder(app: Flask) -> Path:
    """The folder of the app's own migrations: ``MIGRATE_APP_DIRECTORY``, relative to the app's root."""
    configured = app.config.get("MIGRATE_APP_DIRECTORY") or "migrations"
    return Path(app.root_path) / configured


@dataclass
class BranchStatus:
    """Where one branch stands in the database."""

    name: str
    #: The newest applied revision of the branch, or ``None``.
    current: Script | None
    #: The revisions not applied yet, first to last.
    pending: list[Script]
    head: Script | None


class Migrations:
    """The migrations of one app, kept in ``app.extensions["migrate"]``.

    Every method reloads the revision files, so new files are seen at once.

    :param app: the app.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app

    # Scripts and ownership

    def scripts(self) -> BranchScripts:
        """Load the revisions of every enabled branch.

        :raises MigrationScriptError: a broken file or a branch with two heads.
        """
        from .scripts import BranchScripts

        return BranchScripts(migrations_folders(self.app))

    @property
    def database(self) -> erlen_db.Database:
        return erlen_db.database_of(self.app)

    def tables_by_owner(self) -> dict[str, list[Table]]:
        """The enabled owners' tables, by owner."""
        return self.database.tables_by_owner()

    def owners_without_migrations(self, scripts: BranchScripts) -> dict[str, list[Table]]:
        """Owners (plugins, or ``"app"``) whose tables no migration of theirs creates."""
        return {
            owner: tables
            for owner, tables in self.tables_by_owner().items()
            if owner not in scripts.branches or not scripts.branches[owner].revisions
        }

    def dropped_tables(self, scripts: BranchScripts, owner: str) -> set[tuple[str | None, str]]:
        """The tables (schema, name) ``owner``'s migrations created that no enabled owner's models hold any more.

        Autogenerate drops them. A table that moved to another enabled
        plugin's models is that plugin's now, and is left alone.
        """
        branch = scripts.branches.get(owner)
        if branch is None:
            return set()
        modelled = {_name_key(tb.schema, tb.name) for tables in self.tables_by_owner().values() for tb in tables}
        return branch.tables_created() - modelled

    def compared_tables(self, scripts: BranchScripts, owner: str) -> set[tuple[str | None, str]]:
        """The tables (schema, name) compared for ``owner``: those it owns, and those its models dropped."""
        owned = {_name_key(tb.schema, tb.name) for tb in self.tables_by_owner().get(owner, [])}
        return owned | self.dropped_tables(scripts, owner)

    def _metadatas(self) -> list[MetaData]:
        found: list[MetaData] = []
        for table in self.database.tables():
            if not any(table.metadata is m for m in found):
                found.append(table.metadata)
        return found

    # Connections and contexts

    @contextmanager
    def connect(self, *, lock: bool = False, echo: Echo = print) -> Iterator[Connection]:
        """A connection for migrations.

        On SQLite, foreign keys are off while it is used (batch ALTERs copy
        tables) and checked after each migration. On PostgreSQL, ``lock``
        takes an advisory lock first, so that two processes (two containers
        of one deploy) never migrate at once: the second waits, then finds
        the work done. On an SQLite file it takes a file lock beside it
        (:mod:`erlen_migrate.sqlite_lock`) to the same end. Under the ``AUTOCOMMIT`` isolation level of
        ``DB_ENGINE_OPTIONS`` it uses the database's default level instead
        (:func:`erlen_db.connect_with_transactions`), so that a
        failing migration is still rolled back.

        :param lock: take the migrations lock (PostgreSQL, or an SQLite file).
        :param echo: where to say that another process holds the lock.
        """
        engine = self.database.engine
        # On SQLite the lock is a file lock, taken before connecting: the process that waits holds no connection.
        file_lock = (
            sqlite_migrations_lock(engine.url, echo) if lock and engine.dialect.name == "sqlite" else nullcontext()
        )
        # Transactions even under the AUTOCOMMIT level of DB_ENGINE_OPTIONS: a failing migration is rolled back.
        with file_lock, connect_with_transactions(self.database) as connection:
            sqlite = engine.dialect.name == "sqlite"
            locked = lock and engine.dialect.name == "postgresql"
            if sqlite:
                _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
            key = _advisory_lock(connection, echo) if locked else None
            try:
                yield connection
            finally:
                if connection.in_transaction():
                    connection.rollback()
                if sqlite:
                    _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")
                if key is not None:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()

    @contextmanager
    def context(
        self,
        connection: Connection,
        scripts: BranchScripts,
        fn: t.Any = None,
        *,
        owner: str | None = None,
        on_version_apply: Iterable[t.Callable[..., None]] = (),
    ) -> Iterator[MigrationContext]:
        """An Alembic migration context on ``connection`` that sees only the enabled branches' revisions.

        :param owner: compare only this owner's tables, and those its migrations created that left every
            enabled owner's models (for autogenerate and check).
        """
        from alembic.config import Config
        from alembic.operations import Operations
        from alembic.runtime.environment import EnvironmentContext

        env = EnvironmentContext(Config(), scripts, fn=fn)
        names = None if owner is None else self.compared_tables(scripts, owner)

        def include_name(name: str | None, type_: t.Any, parent_names: t.Any) -> bool:
            if type_ == "table" and names is not None:
                return _name_key(parent_names.get("schema_name"), name or "") in names
            return True

        def include_object(obj: t.Any, name: str | None, type_: str, reflected: bool, compare_to: t.Any) -> bool:
            if type_ == "index" and reflected and compare_to is None and is_search_index(obj.table.name, name):
                return False  # made by erlen_db.search.create_search_index in a migration, never by a model
            if names is None:
                return True
            table = obj if type_ == "table" else getattr(obj, "table", None)
            if isinstance(table, Table):
                return _name_key(table.schema, table.name) in names
            return True

        callbacks: list[t.Callable[..., None]] = [*on_version_apply]
        if connection.dialect.name == "sqlite":
            callbacks.insert(0, _check_sqlite_foreign_keys)

        def applied(ctx: MigrationContext, step: MigrationInfo, heads: t.Any, run_args: t.Any) -> None:
            expand_rows(ctx.connection, scripts)
            for callback in callbacks:
                callback(ctx=ctx, step=step, heads=heads, run_args=run_args)

        env.configure(
            connection=connection,
            target_metadata=self._metadatas() if owner is not None else None,
            include_name=include_name,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=render_item,
            process_revision_directives=_tidy_directives,
            transaction_per_migration=True,
            compare_type=True,
            on_version_apply=applied,
            version_table=VERSION_TABLE,
        )
        context = env.get_context()
        everything = context.get_current_heads
        # Alembic sees the heads it expects: rows of revisions no enabled branch holds (plugins that are
        # disabled) are left out, and so are the rows kept for branches another row depends on.
        context.get_current_heads = lambda: tuple(scripts.minimal(everything()))  # type: ignore[method-assign]
        with env, Operations.context(context):
            yield context

    # Status

    def database_heads(self, connection: Connection) -> tuple[str, ...]:
        """Every row of the version table, the revisions of disabled plugins' branches included."""
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_heads()

    def status(self, connection: Connection, scripts: BranchScripts) -> list[BranchStatus]:
        """Where each branch stands in the database, in load order."""
        applied = scripts.ancestors(self.database_heads(connection))
        found = []
        for branch in scripts.branches.values():
            done = [s for s in branch.revisions if s.revision in applied]
            pending = [s for s in branch.revisions if s.revision not in applied]
            found.append(BranchStatus(branch.name, done[-1] if done else None, pending, branch.head))
        return found

    # Commands

    def upgrade(self, plugin: str | None = None, *, echo: Echo = print) -> int:
        """Apply the revisions not applied yet, of every enabled branch or of ``plugin``'s (and what it depends on).

        Each revision runs in a transaction of its own; one that fails is
        rolled back and the database stays at the revisions before it.

        :returns: how many revisions were applied.
        :raises MigrationFailed: a migration raised.
        """
        scripts = self.scripts()
        if plugin is not None:
            scripts.branch(plugin)
        target = "heads" if plugin is None else f"{plugin}@head"
        if plugin is not None and not scripts.branches[plugin].revisions:
            echo(f"Plugin {plugin!r} has no migrations yet.")
            return 0
        if not scripts.has_revisions:
            echo("No migrations to apply.")
            return 0
        return self._run(scripts, lambda heads: scripts._upgrade_revs(target, heads), echo, "Applied")

    def downgrade(self, plugin: str, revision: str, *, echo: Echo = print) -> int:
        """Undo ``plugin``'s revisions down to ``revision`` (an id, ``-1`` or ``base``).

        Revisions of other plugins that depend on those undone are undone first.

        :returns: how many revisions were undone.
        """
        scripts = self.scripts()
        target = self._branch_target(scripts, plugin, revision)
        with self.connect() as connection:
            applied = next(s for s in self.status(connection, scripts) if s.name == plugin).current
        if applied is None:  # Alembic's planner asserts when the branch has no row to start from
            echo(f"Nothing to undo: no revision of plugin {plugin!r} is applied.")
            return 0
        return self._run(scripts, lambda heads: scripts._downgrade_revs(target, heads), echo, "Undid")

    def stamp(self, plugin: str | None, revision: str = "head", *, echo: Echo = print) -> None:
        """Record that a branch (every branch when ``plugin`` is ``None``) is at ``revision``, running nothing."""
        scripts = self.scripts()
        if plugin is None:
            if revision not in ("head", "heads"):
                raise MigrationError("Stamp every branch only to its head; name a plugin with --plugin for another.")
            target = "heads"
        else:
            target = self._branch_target(scripts, plugin, revision)
        from alembic.util import CommandError

        with self.connect(lock=True, echo=echo) as connection:
            with self.context(connection, scripts) as context:
                collapse_rows(connection, scripts)
                try:
                    context.stamp(scripts, target)
                except CommandError as exc:
                    raise MigrationError(f"Cannot stamp {target}: {exc}", plugin=plugin) from None
                expand_rows(connection, scripts)
            connection.commit()
        echo(f"Stamped {target}.")

    def _branch_target(self, scripts: BranchScripts, plugin: str, revision: str) -> str:
        branch = scripts.branch(plugin)
        if not branch.revisions and revision != "base":
            raise UnknownBranchError(
                f"Plugin {plugin!r} has no migrations yet ({branch.folder} holds no revision files). "
                f"Write its first one with erlen db revision --plugin {plugin} --autogenerate -m 'initial'.",
                plugin=plugin,
            )
        if revision in ("base", "head") or revision.startswith("-"):
            return f"{plugin}@{revision}"
        matches = [s.revision for s in branch.revisions if s.revision.startswith(revision)]
        if len(matches) != 1:
            raise UnknownBranchError(
                f"Plugin {plugin!r} has {'no' if not matches else 'more than one'} revision {revision!r}"
                f" in {branch.folder}. Its revisions: "
                + (", ".join(s.revision for s in branch.revisions) or "none")
                + "; or use head, base, or -N.",
                plugin=plugin,
            )
        return matches[0]

    def _run(self, scripts: BranchScripts, steps: t.Callable[[t.Any], t.Any], echo: Echo, verb: str) -> int:
        from alembic.util import CommandError

        progress = _Progress(scripts, echo, verb)

        def fn(heads: t.Any, context: MigrationContext) -> Iterator[t.Any]:
            try:
                planned = steps(heads)
            except CommandError as exc:
                raise MigrationError(f"Cannot plan the migrations: {exc}") from None
            return progress.wrap(planned, before=lambda: collapse_rows(connection, scripts))

        with self.connect(lock=True, echo=echo) as connection:
            try:
                with self.context(connection, scripts, fn, on_version_apply=[progress.applied]) as context:
                    context.run_migrations()
            except MigrationError:
                raise
            except Exception as exc:
                step = progress.current
                # A lost server or a locked SQLite file is no fault of the migration: the command says so.
                if step is None or erlen_db.is_unavailable(exc):
                    raise
                script = step.revision
                owner = scripts.owner_of[script.revision]
                hint = "Fix the migration, then run the command again."
                if "already exists" in str(exc) and step.is_upgrade:
                    hint = (
                        f"If {owner!r}'s tables were made without migrations (erlen db create-all), record them as "
                        f"migrated instead: erlen db stamp --plugin {owner} {script.revision}. Otherwise, " + hint
                    )
                raise MigrationFailed(
                    f"Migration {script.revision} ({script.doc}) of plugin {owner!r} failed: {type(exc).__name__}: "
                    f"{exc}\nFile: {script.path}\nIts changes were rolled back: the database stays at the revisions "
                    f"before it ({progress.count} applied before it in this run). {hint}",
                    plugin=owner,
                ) from exc
            connection.commit()
        if progress.count == 0:
            echo("Nothing to do: the database is up to date." if verb == "Applied" else "Nothing to undo.")
        return progress.count

    def revision(
        self,
        plugin: str,
        message: str,
        *,
        autogenerate: bool = False,
        echo: Echo = print,
    ) -> Script | None:
        """Write a new revision file into ``plugin``'s migrations folder.

        The first revision of a plugin starts its branch. With
        ``autogenerate`` the file holds the differences between the plugin's
        tables and the database, and only those; the database must be
        up to date. A plugin whose tables reference another plugin's tables
        depends on that plugin's current head; the output names the earlier
        revision that creates the referenced tables when there is one, which it had better depend on.

        :returns: the new revision, or ``None`` when autogenerate found no difference.
        """
        from alembic.autogenerate import RevisionContext
        from alembic.config import Config
        from alembic.util import rev_id

        scripts = self.scripts()
        branch = scripts.branch(plugin)
        tables = self.tables_by_owner().get(plugin, [])
        depends_on = self._dependencies(scripts, plugin, tables)
        branch.folder.mkdir(parents=True, exist_ok=True)
        command_args = {
            # The template writes the message into the file's docstring, whose quotes and backslashes it must not
            # end or escape: read back as the docstring, it is the message again.
            "message": message.replace("\\", "\\\\").replace('"', '\\"'),
            "autogenerate": autogenerate,
            "sql": False,
            "head": f"{plugin}@head" if branch.revisions else "base",
            "splice": False,
            "branch_label": None if branch.revisions else plugin,
            "version_path": str(branch.folder),
            "rev_id": rev_id(),
            "depends_on": depends_on or None,
        }
        revision_context = RevisionContext(Config(), scripts, command_args)
        if not autogenerate:
            written = list(revision_context.generate_scripts())
        else:
            if not tables and not self.dropped_tables(scripts, plugin):
                raise MigrationError(
                    f"Plugin {plugin!r} owns no tables, so there is nothing to autogenerate. "
                    + (
                        "Declare its models through the erlen_db_models hook."
                        if plugin != APP_BRANCH
                        else "Define models on erlen_db.Model."
                    ),
                    plugin=plugin,
                )
            with self.connect() as connection:
                self._require_applied(connection, scripts, [plugin, *self._referenced_owners(plugin, tables)])
                with self.context(connection, scripts, owner=plugin) as context:
                    revision_context.run_autogenerate("heads", context)
            migration = revision_context.generated_revisions[-1]
            if all(ops.is_empty() for ops in migration.upgrade_ops_list):
                echo(f"No changes in the tables of plugin {plugin!r}: no revision written.")
                return None
            written = list(revision_context.generate_scripts())
        script = written[0] if written else None
        if script is not None:
            echo(f"Wrote {script.path} (plugin {plugin!r}, revision {script.revision}).")
            for hint in self._pinning_hints(scripts, plugin, tables, depends_on):
                echo(hint)
        return script

    def _pinning_hints(
        self, scripts: BranchScripts, plugin: str, tables: Iterable[Table], depends_on: Iterable[str]
    ) -> list[str]:
        """For each head written in ``depends_on``, an earlier revision of its branch that is all ``plugin`` needs.

        That is the revision whose ``op.create_table`` makes the tables (with
        the columns) ``plugin``'s foreign keys reference. Depending on it
        rather than on the head lets ``plugin`` install beside older releases
        of the other plugin, and undoing that plugin's later revisions leaves
        ``plugin``'s alone.
        """
        referenced = _referenced_columns(tables)
        hints = []
        for revision in depends_on:
            owner = scripts.owner_of.get(revision)
            if owner is None or owner not in referenced:
                continue
            needed = _creating_revision(scripts, owner, referenced[owner])
            if needed is None or needed.revision == revision:
                continue
            names = ", ".join(name for _, name in referenced[owner])
            hints.append(
                f"depends_on names plugin {owner!r}'s head {revision}; its revision {needed.revision} creates the "
                f"table{'s' if len(referenced[owner]) > 1 else ''} {names}, which is all that the tables of plugin "
                f"{plugin!r} reference: name {needed.revision} instead, so that {plugin!r} works beside older "
                f"releases of {owner!r} and undoing later revisions of {owner!r} leaves it alone (erlen-migrate's "
                "README: Depending on another plugin)."
            )
        return hints

    def _referenced_owners(self, plugin: str, tables: Iterable[Table]) -> list[str]:
        owners: list[str] = []
        for table in tables:
            for key in table.foreign_keys:
                try:
                    target = key.column.table
                except Exception:
                    continue
                owner = target.info.get(OWNER_INFO_KEY) or APP_BRANCH
                if owner != plugin and owner not in owners:
                    owners.append(owner)
        return owners

    def _dependencies(self, scripts: BranchScripts, plugin: str, tables: Iterable[Table]) -> list[str]:
        """The heads of the branches whose tables ``plugin``'s tables reference, unless already depended on.

        Depended on already: the head itself, or (a branch pinned as the README says) the earlier revision that
        creates every table and column referenced, which ``plugin``'s earlier revisions depend on. A later
        revision of a pinned branch named the head again, so undoing the other plugin's newest revision undid
        it too.
        """
        branch = scripts.branches[plugin]
        ancestors = scripts.ancestors([branch.head.revision] if branch.head else [])
        referenced = _referenced_columns(tables)
        found = []
        for owner in self._referenced_owners(plugin, tables):
            other = scripts.branches.get(owner)
            if other is None or other.head is None:
                raise MigrationError(
                    f"The tables of plugin {plugin!r} reference tables of {owner!r}, which has no migrations yet. "
                    f"Generate those first: erlen db revision --plugin {owner} --autogenerate -m 'initial'"
                    + (
                        ""
                        if other is not None
                        else f" (plugin {owner!r} must ship them through erlen_migrate_locations)"
                    )
                    + ".",
                    plugin=plugin,
                )
            if other.head.revision in ancestors:
                continue
            creating = _creating_revision(scripts, owner, referenced.get(owner, {}))
            if creating is None or creating.revision not in ancestors:
                found.append(other.head.revision)
        # posts' head already depends on users': comments need name only posts.
        return [rev for rev in found if not any(rev in scripts.ancestors([o]) - {o} for o in found)]

    def _require_applied(self, connection: Connection, scripts: BranchScripts, names: Iterable[str]) -> None:
        behind = [s for s in self.status(connection, scripts) if s.name in names and s.pending]
        if behind:
            raise MigrationError(
                "The database is not up to date: "
                + "; ".join(f"plugin {s.name!r} has {len(s.pending)} unapplied revisions" for s in behind)
                + ". Run erlen db upgrade first.",
                plugin=behind[0].name,
            )

    def compare(self, connection: Connection, scripts: BranchScripts) -> dict[str, list[t.Any]]:
        """The differences between each enabled owner's models and the database, by owner.

        Empty lists are left out: an empty result means models and database agree.
        """
        from alembic.autogenerate import compare_metadata

        found: dict[str, list[t.Any]] = {}
        owners = [*self.tables_by_owner(), *(name for name in scripts.branches if self.dropped_tables(scripts, name))]
        for owner in dict.fromkeys(owners):
            with self.context(connection, scripts, owner=owner) as context:
                diffs = compare_metadata(context, t.cast(MetaData, self._metadatas()))
            if diffs:
                found[owner] = list(diffs)
        return found


class _Progress:
    """Prints each revision applied with its plugin and the time it took."""

    def __init__(self, scripts: BranchScripts, echo: Echo, verb: str) -> None:
        self.scripts = scripts
        self.echo = echo
        self.verb = verb
        self.current: t.Any = None
        self.started = 0.0
        self.count = 0

    def wrap(self, steps: Iterable[t.Any], before: t.Callable[[], None]) -> Iterator[t.Any]:
        for step in steps:
            before()  # in the step's transaction, which begins with it
            self.current = step
            self.started = time.perf_counter()
            yield step
        self.current = None

    def applied(self, ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: t.Any) -> None:
        elapsed = time.perf_counter() - self.started
        self.count += 1
        revision = step.up_revision_id or ""
        owner = self.scripts.owner_of.get(revision, "?")
        doc = self.scripts.script_of(revision).doc if revision in self.scripts.owner_of else ""
        self.echo(f"{self.verb} {owner} {revision} {doc} ({elapsed:.2f}s)")


def _version_rows(connection: Connection) -> tuple[sa.TableClause, set[str]]:
    table = sa.table(VERSION_TABLE, sa.column("version_num", sa.String(32)))
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return table, set()
    return table, {row[0] for row in connection.execute(sa.select(table.c.version_num))}


def expand_rows(connection: Connection | None, scripts: BranchScripts) -> None:
    """Give every applied branch a row of its own in the version table: its newest applied revision.

    Alembic folds a revision's ``depends_on`` into its heads, so applying
    ``comments`` (which depends on ``posts``) would replace ``posts``' row.
    Disabling ``comments`` would then hide that ``posts`` is applied; with a
    row per branch each branch stands on its own. Rows of revisions no
    enabled branch holds are left alone.
    """
    assert connection is not None
    table, rows = _version_rows(connection)
    applied = scripts.ancestors(rows)
    for branch in scripts.branches.values():
        done = [s.revision for s in branch.revisions if s.revision in applied]
        if done and done[-1] not in rows:
            connection.execute(sa.insert(table).values(version_num=done[-1]))
            rows.add(done[-1])
    for revision in scripts.minimal_known(rows):
        branch = scripts.branches[scripts.owner_of[revision]]
        done = [s.revision for s in branch.revisions if s.revision in applied]
        if done and done[-1] != revision:  # an older revision of a branch whose newer one has a row
            connection.execute(sa.delete(table).where(table.c.version_num == revision))


def collapse_rows(connection: Connection, scripts: BranchScripts) -> None:
    """Leave in the version table only the rows Alembic expects: drop those that other rows depend on.

    Done in the transaction of each migration, before it runs; :func:`expand_rows`
    adds them back after it.
    """
    table, rows = _version_rows(connection)
    for revision in set(scripts.minimal_known(rows)) - scripts.minimal(rows):
        connection.execute(sa.delete(table).where(table.c.version_num == revision))


def _tidy_directives(context: MigrationContext, revision: t.Any, directives: list[t.Any]) -> None:
    """Adjust autogenerated revisions: no owner in ``Table.info``; PostgreSQL enum types dropped on downgrade."""
    from alembic.operations.ops import CreateTableOp, ExecuteSQLOp

    for script in directives:
        created_enums: list[str] = []
        for ops in script.upgrade_ops_list:
            for op in ops.ops:
                if not isinstance(op, CreateTableOp):
                    continue
                # erlen-db records each table's owner in Table.info; it has no place in a migration.
                if op.info and OWNER_INFO_KEY in op.info:
                    op.info = {k: v for k, v in op.info.items() if k != OWNER_INFO_KEY}
                for column in op.columns:
                    kind = getattr(column, "type", None)
                    if isinstance(kind, sa.Enum) and kind.native_enum and kind.name:
                        created_enums.append(kind.name)
        if created_enums and context.dialect.name == "postgresql":
            # Alembic creates a table's enum types with it but does not drop them with it.
            for ops in script.downgrade_ops_list:
                ops.ops.extend(ExecuteSQLOp(f'DROP TYPE IF EXISTS "{name}"') for name in dict.fromkeys(created_enums))


def lock_key(schema: str) -> int:
    """The advisory lock key of migrations run in ``schema`` (PostgreSQL).

    Migrations of one schema exclude each other; apps that share a database
    but live in schemas of their own migrate independently. The ``public``
    schema keeps :data:`LOCK_KEY`, the key of earlier releases, so a rolling
    deploy mixing releases still migrates one process at a time.

    :param schema: the connection's current schema.
    """
    if schema == "public":
        return LOCK_KEY
    return LOCK_KEY ^ zlib.crc32(schema.encode())


def _advisory_lock(connection: Connection, echo: Echo) -> int:
    key = lock_key(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
    acquired = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
    if not acquired:
        echo("Another process is running migrations on this database schema; waiting for it to finish...")
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
    connection.commit()  # the lock is the session's; migrations begin transactions of their own
    return key


def _sqlite_pragma(connection: Connection, statement: str) -> None:
    # Outside any transaction: SQLite ignores PRAGMA foreign_keys inside one.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


class DanglingRowsError(Exception):
    """A migration on SQLite left rows whose foreign keys point nowhere (foreign keys are off while it runs)."""


def _check_sqlite_foreign_keys(ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: t.Any) -> None:
    assert ctx.connection is not None
    problems = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        listed = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in problems[:5])
        raise DanglingRowsError(f"it leaves rows whose foreign keys point nowhere: {listed}")


def _name_key(schema: str | None, name: str) -> tuple[str | None, str]:
    return (schema, name)


#: The tables (schema, name) that foreign keys reference, with the columns referenced, by the plugin owning them.
Referenced: t.TypeAlias = dict[str, dict[tuple[str | None, str], set[str]]]


def _referenced_columns(tables: Iterable[Table]) -> Referenced:
    """What the foreign keys of ``tables`` reference: by owning plugin, each table with the columns referenced.

    :param tables: a plugin's tables.
    """
    referenced: Referenced = {}
    for table in tables:
        for key in table.foreign_keys:
            try:
                column = key.column
            except Exception:
                continue
            owner = column.table.info.get(OWNER_INFO_KEY) or APP_BRANCH
            target = _name_key(column.table.schema, column.table.name)
            referenced.setdefault(owner, {}).setdefault(target, set()).add(column.name)
    return referenced


def _creating_revision(
    scripts: BranchScripts, owner: str, targets: Mapping[tuple[str | None, str], set[str]]
) -> Script | None:
    """The revision of ``owner``'s branch after which every table of ``targets`` exists with its columns.

    That is the latest of the revisions whose ``op.create_table`` makes them; ``None`` when one was made another
    way (raw SQL, a rename) or a column came later, where only the head is sure to have them, or when there is none.

    :param scripts: the revisions of every branch.
    :param owner: the plugin owning the tables.
    :param targets: the tables (schema, name), each with the columns referenced.
    """
    branch = scripts.branches.get(owner)
    if branch is None or not targets:
        return None
    creators = [branch.creator_of(target, columns) for target, columns in targets.items()]
    if any(creator is None for creator in creators):
        return None
    order = [script.revision for script in branch.revisions]
    return max((c for c in creators if c is not None), key=lambda c: order.index(c.revision))


__all__ = ["APP_BRANCH", "VERSION_TABLE", "BranchStatus", "Migrations", "app_folder", "migrations_folders"]

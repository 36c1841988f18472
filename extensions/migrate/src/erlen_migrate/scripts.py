"""The migration scripts of an app: one Alembic branch per plugin, and one for the app.

Each branch is a folder of revision files. Its first revision has
``down_revision = None`` and ``branch_labels = ("<plugin>",)``; the others
follow it in one line. A revision that needs another plugin's tables names
that plugin's revision in ``depends_on``.
"""

from __future__ import annotations

import ast
import graphlib
import typing as t
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import Script, ScriptDirectory
from alembic.util import to_tuple

from .errors import MigrationScriptError, UnknownBranchError

#: The folder holding ``script.py.mako``, the template of new revision files.
TEMPLATE_DIR = Path(__file__).parent / "template"

#: How new revision files are named.
FILE_TEMPLATE = "%%(rev)s_%%(slug)s"


@dataclass
class Branch:
    """The migrations of one plugin (or of the app).

    :param name: the plugin's name, which is also the branch label; ``"app"`` for the app.
    :param folder: the folder of its revision files (it may not exist yet).
    """

    name: str
    folder: Path
    #: Its revisions, from the first to the head.
    revisions: list[Script] = field(default_factory=list)

    @property
    def head(self) -> Script | None:
        """The last revision, or ``None`` when the branch has none yet."""
        return self.revisions[-1] if self.revisions else None

    def file_of(self, script: Script) -> str:
        """The path of a revision's file, for messages."""
        return str(script.path)

    def tables_created(self) -> set[tuple[str | None, str]]:
        """The tables (schema, name) the branch's revisions create and do not drop again, first to last.

        Read from the ``op.create_table``, ``op.rename_table`` and
        ``op.drop_table`` calls in each revision's ``upgrade()`` that name
        their table as a string literal. Autogenerate drops those of them
        that left the plugin's models; a table made another way (raw SQL)
        is not seen, so it is never dropped.
        """
        tables: set[tuple[str | None, str]] = set()
        for script in self.revisions:
            for call, args in _table_calls(Path(script.path)):
                if call == "create_table":
                    tables.add(args[0])
                elif call == "drop_table":
                    tables.discard(args[0])
                elif args[0] in tables:  # rename_table
                    tables.discard(args[0])
                    tables.add(args[1])
        return tables

    def creator_of(self, table: tuple[str | None, str], columns: t.Iterable[str] = ()) -> Script | None:
        """The revision whose ``op.create_table`` call makes ``table`` with ``columns``, or ``None``.

        Read as :meth:`tables_created` reads the calls; ``None`` as well
        when a later revision drops or renames the table, when it was made
        another way (raw SQL) or by a rename, and when the call lacks one of
        ``columns`` (a later revision added it).

        :param table: the (schema, name) of the table.
        :param columns: names of columns that must be in the ``create_table`` call.
        """
        found: Script | None = None
        for script in self.revisions:
            for call, args in _table_calls(Path(script.path)):
                if call == "create_table" and args[0] == table:
                    found = script if set(columns) <= _created_columns(Path(script.path), table) else None
                elif table in args:  # dropped, or renamed from or to another name: which columns it has is unknown
                    found = None
        return found


def _created_columns(path: Path, table: tuple[str | None, str]) -> set[str]:
    """The names of the ``sa.Column("name", ...)`` arguments of ``path``'s ``op.create_table`` call of ``table``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "create_table" or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and first.value == table[1]):
            continue
        for argument in node.args[1:]:
            if (
                isinstance(argument, ast.Call)
                and getattr(argument.func, "attr", getattr(argument.func, "id", None)) == "Column"
                and argument.args
                and isinstance(argument.args[0], ast.Constant)
                and isinstance(argument.args[0].value, str)
            ):
                names.add(argument.args[0].value)
    return names


def _table_calls(path: Path) -> Iterator[tuple[str, list[tuple[str | None, str]]]]:
    """The table operations of a revision file's ``upgrade()``, in the order they appear.

    :param path: the revision file.
    :returns: pairs of the operation's name and the (schema, name) of each table it names.
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return  # it was imported when loaded: it cannot be broken now, and a file we cannot read creates nothing
    upgrade = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None)
    if upgrade is None:
        return
    calls = [n for n in ast.walk(upgrade) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    for call in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
        name = call.func.attr  # type: ignore[attr-defined]
        wanted = {"create_table": 1, "drop_table": 1, "rename_table": 2}.get(name)
        if wanted is None or len(call.args) < wanted:
            continue
        names = [a.value for a in call.args[:wanted] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        schema_arg = next((k.value for k in call.keywords if k.arg == "schema"), None)
        if schema_arg is None:
            schema: str | None = None
        elif isinstance(schema_arg, ast.Constant) and isinstance(schema_arg.value, (str, type(None))):
            schema = schema_arg.value
        else:
            continue  # a computed schema: which table it means is unknown
        if len(names) == wanted:
            yield name, [(schema, n) for n in names]


class BranchScripts(ScriptDirectory):
    """An Alembic script directory composed of the branches' folders.

    The revisions are loaded and checked when it is made: a file that cannot
    be imported, a branch with two heads or a revision that leaves its branch
    raises :class:`MigrationScriptError` naming the plugin and the file.

    :param locations: the folder of each branch, by branch name, in load order.
    """

    def __init__(self, locations: Mapping[str, Path]) -> None:
        super().__init__(
            TEMPLATE_DIR,
            file_template=FILE_TEMPLATE.replace("%%", "%"),
            version_locations=[str(folder) for folder in locations.values()],
        )
        #: The branches, by name, in load order.
        self.branches: dict[str, Branch] = {name: Branch(name, Path(folder)) for name, folder in locations.items()}
        #: The branch name of each revision id.
        self.owner_of: dict[str, str] = {}
        self._scripts: list[Script] = list(self._load_branch_scripts())
        self._check_and_order()

    # Loading

    def _load_revisions(self) -> Iterator[Script]:
        return iter(self._scripts)

    def _load_branch_scripts(self) -> Iterator[Script]:
        for branch in self.branches.values():
            if not branch.folder.is_dir():
                continue
            for path in sorted(branch.folder.glob("*.py")):
                if path.name.startswith(("_", ".")):
                    continue
                try:
                    script = Script._from_path(self, path)
                except Exception as exc:
                    raise MigrationScriptError(
                        f"The migration file {path} of plugin {branch.name!r} cannot be loaded: "
                        f"{type(exc).__name__}: {exc}. Fix the file; a file that is not a revision must have a name "
                        "starting with '_'.",
                        plugin=branch.name,
                    ) from exc
                if script is None:
                    continue
                if script.revision in self.owner_of:
                    other = self.branches[self.owner_of[script.revision]]
                    first = next(s for s in other.revisions if s.revision == script.revision)
                    raise MigrationScriptError(
                        f"The migration file {path} of plugin {branch.name!r} has the revision id "
                        f"{script.revision!r}, as {first.path} of plugin {other.name!r} does. Give one of them "
                        "a new revision id.",
                        plugin=branch.name,
                    )
                self.owner_of[script.revision] = branch.name
                branch.revisions.append(script)
                yield script

    def _check_and_order(self) -> None:
        labels = {name for name, branch in self.branches.items()}
        known = set(self.owner_of)
        for branch in self.branches.values():
            own = {s.revision: s for s in branch.revisions}
            for script in branch.revisions:
                declared = set(to_tuple(getattr(script.module, "branch_labels", None), default=()))
                down = to_tuple(script.down_revision, default=())
                foreign = [rev for rev in down if rev not in own]
                if foreign:
                    where = self.owner_of.get(foreign[0])
                    raise MigrationScriptError(
                        f"The migration file {script.path} of plugin {branch.name!r} revises {foreign[0]!r}, which "
                        + (f"is a revision of plugin {where!r}" if where else "no migration file holds")
                        + ". A plugin's branch starts at base (down_revision = None) and its revisions follow one "
                        "another; name another plugin's revision in depends_on instead.",
                        plugin=branch.name,
                    )
                if not down and branch.name not in declared:
                    raise MigrationScriptError(
                        f"The migration file {script.path} is the first revision of plugin {branch.name!r} but does "
                        f"not carry its branch label: set branch_labels = ({branch.name!r},) in it.",
                        plugin=branch.name,
                    )
                stray = declared - {branch.name}
                if stray:
                    raise MigrationScriptError(
                        f"The migration file {script.path} of plugin {branch.name!r} has the branch labels "
                        f"{sorted(stray)}; a plugin's revisions carry only the plugin's name as label.",
                        plugin=branch.name,
                    )
                for dependency in to_tuple(script.dependencies, default=()):
                    if dependency not in known and dependency not in labels:
                        raise MigrationScriptError(
                            f"The migration file {script.path} of plugin {branch.name!r} depends on "
                            f"{dependency!r}, which no enabled plugin's migrations hold. Enable the plugin that ships "
                            "that revision (add it to PLUGINS, or to the plugin's requires), or fix depends_on.",
                            plugin=branch.name,
                        )
            roots = [s for s in branch.revisions if not to_tuple(s.down_revision, default=())]
            if len(roots) > 1:
                raise MigrationScriptError(
                    f"Plugin {branch.name!r} has {len(roots)} first revisions (down_revision = None): "
                    + ", ".join(str(s.path) for s in roots)
                    + ". A branch has one first revision: set the down_revision of the later ones to the revision "
                    "each follows.",
                    plugin=branch.name,
                )
            revised = {rev for s in branch.revisions for rev in to_tuple(s.down_revision, default=())}
            heads = [s for s in branch.revisions if s.revision not in revised]
            if len(heads) > 1:
                raise MigrationScriptError(
                    f"Plugin {branch.name!r} has {len(heads)} head revisions: "
                    + ", ".join(str(s.path) for s in heads)
                    + ". Two revisions were made from the same parent (two developers, or a merge of two "
                    "branches of the code). Set the down_revision of the newer file to the revision id of the "
                    "other, so they follow one another.",
                    plugin=branch.name,
                )
            sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
            for script in branch.revisions:
                sorter.add(script.revision, *to_tuple(script.down_revision, default=()))
            try:
                order = list(sorter.static_order())
            except graphlib.CycleError as exc:
                raise MigrationScriptError(
                    f"The revisions of plugin {branch.name!r} revise one another in a cycle: {exc.args[1]}. "
                    "Fix their down_revision.",
                    plugin=branch.name,
                ) from None
            branch.revisions = [own[rev] for rev in order]
        self._check_dependency_cycles()

    def _check_dependency_cycles(self) -> None:
        """Refuse revisions of several plugins that need one another in a circle through ``depends_on``.

        Alembic would only say "Dependency cycle is detected in revisions (u1, p1)" when a command plans
        its work; this names the plugins and the files, when the scripts are loaded (``erlen check`` too).

        :raises MigrationScriptError: naming each revision of the cycle with its plugin and file.
        """
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for branch in self.branches.values():
            for script in branch.revisions:
                parents = list(to_tuple(script.down_revision, default=()))
                for dependency in to_tuple(script.dependencies, default=()):
                    if dependency in self.branches:  # a label: the branch's revision that carries it, its first
                        parents.extend(s.revision for s in self.branches[dependency].revisions[:1])
                    else:
                        parents.append(dependency)
                sorter.add(script.revision, *parents)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle: list[str] = list(dict.fromkeys(exc.args[1]))
            described = "; ".join(f"{rev} of plugin {self.owner_of[rev]!r} ({self._script(rev).path})" for rev in cycle)
            first = self.owner_of[cycle[0]]
            raise MigrationScriptError(
                f"Revisions of plugins {', '.join(repr(n) for n in dict.fromkeys(self.owner_of[r] for r in cycle))} "
                f"need one another in a circle (down_revision and depends_on): {described}. No order can apply "
                "them: remove the depends_on of the revision that does not need the other's tables.",
                plugin=first,
            ) from None

    def _script(self, revision: str) -> Script:
        return next(s for s in self._scripts if s.revision == revision)

    # Queries

    def branch(self, name: str) -> Branch:
        """The branch called ``name``.

        :raises UnknownBranchError: no enabled plugin of that name has migrations.
        """
        try:
            return self.branches[name]
        except KeyError:
            raise UnknownBranchError(
                f"No migrations of a plugin {name!r} on this app. Plugins with migrations: "
                f"{', '.join(self.branches) or 'none'}. A plugin ships migrations through the "
                "erlen_migrate_locations hook, and must be enabled (in PLUGINS).",
                plugin=name,
            ) from None

    def script_of(self, revision: str) -> Script:
        """The revision with the id ``revision``."""
        return t.cast(Script, self.revision_map.get_revision(revision))

    def ancestors(self, revisions: t.Iterable[str]) -> set[str]:
        """``revisions`` and every revision they follow or depend on, transitively (ids)."""
        seen: set[str] = set()
        stack = [rev for rev in revisions if rev in self.owner_of]
        while stack:
            rev = stack.pop()
            if rev in seen:
                continue
            seen.add(rev)
            script = self.script_of(rev)
            parents = [*to_tuple(script.down_revision, default=())]
            for dependency in to_tuple(script.dependencies, default=()):
                if dependency in self.branches:
                    head = self.branches[dependency].head
                    # A label names the branch's revision that carries it: its first.
                    first = self.branches[dependency].revisions[0] if head is not None else None
                    if first is not None:
                        parents.append(first.revision)
                else:
                    parents.append(dependency)
            stack.extend(p for p in parents if p not in seen)
        return seen

    def minimal_known(self, rows: t.Iterable[str]) -> set[str]:
        """The rows that are revisions of enabled branches."""
        return {row for row in rows if row in self.owner_of}

    def minimal(self, rows: t.Iterable[str]) -> set[str]:
        """The revisions of ``rows`` that enabled branches hold and that no other of them follows or depends on.

        These are the heads as Alembic counts them.
        """
        known = self.minimal_known(rows)
        implied: set[str] = set()
        for row in known:
            implied |= self.ancestors([row]) - {row}
        return known - implied

    @property
    def has_revisions(self) -> bool:
        """Whether any branch has a revision."""
        return bool(self.owner_of)

"""Statements that write rows without the session's flush, inside a checked change (:mod:`erlen_admin.scope_check`).

The scope check reads again, through the scopes, the rows a change's flushes wrote. A statement executed
directly writes rows the flush never sees: ORM-enabled ``session.execute(sa.update(Model)...)`` and
``sa.delete(Model)``, ``Query.update()`` and ``Query.delete()``, the session's bulk methods, Core statements on
the table (``session.execute(table.update()...)``, ``session.connection().execute(...)``) and raw SQL
(``text()``, ``exec_driver_sql``). While a change is checked, the session's connection is watched
(``before_execute`` and ``before_cursor_execute``), and such statements on the table of a model whose rows a
scope narrows for the acting user (the table of the acting view's model, through its scope; any other table
through the scopes of its views, as :func:`erlen_admin.related.rows_filter` narrows them) are:

- ``UPDATE``: confined and verified. The keys of the rows it would change inside the scope are read first (its own
  ``WHERE``, and the scope's conditions; held to the change's end where rows can be locked); it runs with both added
  (``AND key IN (those keys) AND key IN (the scope's rows)``), so that it changes no row outside the scope, not even
  one another transaction moved in meanwhile; and after the change those rows are read again through the scope, like
  the rows the flushes wrote: one left outside rolls the whole change back.
- ``DELETE``: confined the same way (a row outside the scope is not deleted); the keys deleted (and still gone
  at the block's end: a savepoint rolled back brings its rows back) are noted, so that an acted-on row deleted
  so is audited as a deletion, not checked.
- ``INSERT`` (ORM or Core, ``INSERT ... SELECT`` too), and an ``UPDATE`` or ``DELETE`` with several sets of
  parameters (executemany: the ORM's bulk UPDATE by primary key of several rows, ``bulk_update_mappings``) or whose
  ``WHERE`` takes the primary key from its parameters (the same of one row), or one that would touch more than
  :data:`MAX_STATEMENT_ROWS` rows: refused before it runs
  (:class:`StatementRefused`), since the rows it writes cannot be read again by key.
- an ``UPDATE`` or ``DELETE`` given parameters that are not its own (its named ``bindparam()`` objects, its
  table's columns) or that the scope's conditions use too: refused, since they would apply to the scope's
  conditions added to it.
- a statement naming such a table by another object than its model's ``Table`` (``sa.table()``, an alias, a
  ``Table`` of another ``MetaData``): refused, since the scope's conditions are written on the model's table.
- a statement holding a write of such a table within it (PostgreSQL's data-modifying ``WITH``): refused.
- raw SQL (``text()``, ``text().columns()``, ``exec_driver_sql``) that names such a table and writes (it has
  ``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE``, ``REPLACE INTO``, ``TRUNCATE``, ``COPY``, ``ALTER`` or ``DROP``
  outside its quoted strings, read with quotes doubled and with quotes escaped by a backslash, comments and row
  locks): refused, since its rows cannot be told from its text. Raw reads
  run as they are.

The flush's own statements are the unit of work's, checked as before: they are let through. A connection of
a plugin's own (``engine.connect()``) is another transaction: neither watched nor rolled back with the change.
"""

from __future__ import annotations

import dataclasses
import operator
import re
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import visitors

from .related import RowsFilter, rows_filter
from .row_locks import for_update
from .views.model_view import ModelView
from .views.registry import registry_of

#: The most rows one UPDATE or DELETE on a scoped table may touch within a checked change: each key is read first
#: and sent with the statement (databases limit a statement's parameters: SQLite to 32,766).
MAX_STATEMENT_ROWS = 10_000

#: What a refused statement says (``why``: what the admin cannot check; ``instead``: what to do instead).
REFUSED = (
    "erlen-admin refused a statement on the table {table!r} of a model scoped for this user, run inside a checked "
    "change of the admin view {view!r} (its create_object or update_object, or an action's callback): {why} "
    "{instead} Nothing was written. The statement: {sql}"
)

#: Write keywords of raw SQL (after strings, comments and row locks are taken out). ``REPLACE`` only as SQLite's
#: and MySQL's statement (``REPLACE INTO``): ``replace(title, 'a', 'b')`` is a function a read may call.
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|REPLACE\s+INTO|TRUNCATE|COPY|ALTER|DROP)\b", re.IGNORECASE)
#: What raw SQL may contain that is no write: quoted strings and identifiers, comments, SELECT's row locks; a
#: string's quote doubled (standard SQL: ``'it''s'``).
_NOT_WRITES = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE)\b",
    re.IGNORECASE | re.DOTALL,
)
#: The same, a string's quote escaped with a backslash too (PostgreSQL's ``E'it\\'s'``, MySQL's strings): read
#: both ways, so that a write keyword one way takes for the inside of a string is still seen.
_NOT_WRITES_ESCAPED = re.compile(
    r"'(?:[^'\\]|''|\\.)*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE)\b",
    re.IGNORECASE | re.DOTALL,
)


#: The name of the parameter that holds a confined statement's keys on PostgreSQL.
_KEYS_PARAMETER = "erlen_admin_keys"


class StatementRefused(RuntimeError):
    """A statement inside a checked change whose rows the scope check could not read again: it did not run."""


@dataclasses.dataclass(frozen=True)
class _Target:
    """A table whose rows a scope narrows for the acting user.

    :param table: the table.
    :param model: the mapped class its rows are read and named through.
    :param narrowing: narrows a ``SELECT`` of ``model`` to the user's rows.
    """

    table: sa.Table
    model: type
    narrowing: RowsFilter

    @property
    def keys(self) -> list[sa.Column[t.Any]]:
        return list(self.table.primary_key.columns)

    def key_in(self, keys: t.Any, dialect: str = "") -> sa.ColumnElement[bool]:
        """``key IN keys`` on the table's key columns (:func:`keys_in`).

        :param keys: the key tuples, or a ``SELECT`` of the key columns.
        :param dialect: the database's dialect name.
        """
        return keys_in(self.keys, keys, dialect)

    def scoped_keys(self) -> sa.Select[t.Any]:
        """The keys of the user's rows, a subquery of its own (not correlated to a statement on the table)."""
        return self.narrowing(sa.select(self.model)).with_only_columns(*self.keys).correlate(None)


def keys_in(columns: t.Sequence[t.Any], keys: t.Any, dialect: str = "") -> sa.ColumnElement[bool]:
    """``key IN keys``: the primary key ``columns`` (one or several) among ``keys``.

    :param columns: the key columns, in the order of the tuples' values.
    :param keys: key tuples (identities), or a ``SELECT`` of the key columns.
    :param dialect: the database's dialect name: on PostgreSQL, a single-column key is compared with ``= ANY(array)``:
        one parameter instead of one per key (psycopg sends at most 65,535).
    """
    if len(columns) == 1 and dialect == "postgresql" and not isinstance(keys, sa.Select):
        array = sa.bindparam(_KEYS_PARAMETER, [key[0] for key in keys], type_=sa.ARRAY(columns[0].type))
        return t.cast(sa.ColumnElement[bool], columns[0] == sa.any_(array))
    if len(columns) == 1:
        single = keys if isinstance(keys, sa.Select) else [key[0] for key in keys]
        return t.cast(sa.ColumnElement[bool], columns[0].in_(single))
    return sa.tuple_(*columns).in_(keys if isinstance(keys, sa.Select) else [tuple(key) for key in keys])


class StatementGuard:
    """Watches the session's connection within a checked change (see the module); :meth:`install` it, then
    :meth:`remove` it, and read what the statements changed from :attr:`updated` and :attr:`deleted`.

    :param view: the acting view.
    :param user: the acting user.
    :param session: the session the change is made in.
    """

    def __init__(self, view: ModelView, user: t.Any, session: sa.orm.Session) -> None:
        self.view = view
        self.user = user
        self.session = session
        #: Keys of the rows UPDATE statements changed, by mapped class (in the order changed).
        self.updated: dict[type, dict[tuple[t.Any, ...], None]] = {}
        #: Keys of the rows DELETE statements deleted, by table.
        self.deleted: dict[sa.Table, set[tuple[t.Any, ...]]] = {}
        self._targets: dict[sa.Table, _Target | None] = {}
        self._scoped_names: list[str] | None = None
        #: The flush under way (``before_flush``'s context), until it ends.
        self._flush: t.Any = None
        self._connection: Connection | None = None

    # -- installing ------------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Start watching the session's connection (the one its transaction runs on) and its flushes."""
        self._connection = self.session.connection()
        sa.event.listen(self._connection, "before_execute", self._before_execute, retval=True)
        sa.event.listen(self._connection, "before_cursor_execute", self._before_cursor_execute)
        sa.event.listen(self.session, "before_flush", self._flush_starts)
        sa.event.listen(self.session, "after_flush_postexec", self._flush_ends)
        sa.event.listen(self.session, "after_transaction_end", self._flush_ends)

    def remove(self) -> None:
        """Stop watching."""
        if self._connection is not None:
            sa.event.remove(self._connection, "before_execute", self._before_execute)
            sa.event.remove(self._connection, "before_cursor_execute", self._before_cursor_execute)
            self._connection = None
        sa.event.remove(self.session, "before_flush", self._flush_starts)
        sa.event.remove(self.session, "after_flush_postexec", self._flush_ends)
        sa.event.remove(self.session, "after_transaction_end", self._flush_ends)

    def settle(self) -> None:
        """At the end of a block that ran to its end (flushed): confirm which rows the ``DELETE`` statements
        deleted, and expire the objects the session holds of the tables statements wrote, so that what is read of
        them next (the audit's values, a message's titles) is what the database holds."""
        if not self.updated and not self.deleted:
            return
        with self.session.no_autoflush:
            self._confirm_deleted()
        written = {target.table for target in self._targets.values() if target is not None and self._wrote(target)}
        if written:
            # The ORM's synchronize_session may have set values the confined statement did not write (or none).
            # The objects of deleted rows are kept as they are: there is nothing to load them from, and the audit
            # names them by the values they had.
            for obj in list(self.session.identity_map.values()):
                if sa.inspect(obj).mapper.local_table in written and not self.gone(obj):
                    self.session.expire(obj)

    def _confirm_deleted(self) -> None:
        """Keep, of the keys ``DELETE`` statements deleted, those no row has now: a savepoint rolled back since
        (``session.begin_nested()``), or a row added again with the key, brings the row back, to be checked."""
        for table, keys in self.deleted.items():
            if not keys:
                continue
            target = self._targets[table]
            assert target is not None  # only the tables of targets are noted
            select = sa.select(*target.keys).where(target.key_in(sorted(keys, key=repr)))
            keys.difference_update(tuple(row) for row in self.session.execute(select))

    def _wrote(self, target: _Target) -> bool:
        return target.model in self.updated or target.table in self.deleted

    def _flush_starts(self, session: sa.orm.Session, flush_context: t.Any, instances: t.Any) -> None:
        self._flush = flush_context

    def _flush_ends(self, *args: t.Any) -> None:
        self._flush = None

    @property
    def _flushing(self) -> bool:
        """Whether the unit of work is writing: its flush has begun its transaction, which is still open. A flush
        that finds nothing to write (``session.flush([obj])`` of a clean object while others are changed) returns
        after ``before_flush`` without ``after_flush_postexec`` nor a transaction: a flag set by ``before_flush``
        would stay set, and every later statement be let through as the flush's own."""
        transaction = getattr(self._flush, "transaction", None)
        return transaction is not None and transaction.is_active

    # -- what the statements did -----------------------------------------------------------------------------------

    def gone(self, obj: t.Any) -> bool:
        """Whether a statement deleted ``obj``'s row (which the session may still hold as persistent).

        :param obj: a mapped object.
        """
        state = sa.inspect(obj)
        if state.identity is None:
            return False
        return tuple(state.identity) in self.deleted.get(t.cast(sa.Table, state.mapper.local_table), set())

    # -- the tables watched ----------------------------------------------------------------------------------------

    def _target(self, table: t.Any) -> _Target | None:
        """The scoped table ``table`` for the acting user; ``None`` when no scope narrows its rows for them."""
        if not isinstance(table, sa.Table):
            return None
        if table not in self._targets:
            self._targets[table] = self._find_target(table)
        return self._targets[table]

    def _find_target(self, table: sa.Table) -> _Target | None:
        own = t.cast(sa.Table, sa.inspect(self.view.model).local_table)
        if table is own:
            if not self.view.narrows(self.user):
                return None
            view, user = self.view, self.user
            return _Target(table, view.model, lambda statement: view.scoped(statement, user))
        views = registry_of().views_for_table(table.name)
        if not views or sa.inspect(views[0].model).local_table is not table:
            return None  # no view's table; another Table object of the same name is refused (_target_of)
        narrowing = rows_filter(table, self.user)
        return None if narrowing is None else _Target(table, views[0].model, narrowing)

    def _target_of(self, statement: sa.Insert | sa.Update | sa.Delete) -> _Target | None:
        """The scoped table ``statement`` writes; ``None`` when it writes none. A statement naming a scoped table
        by another object than its model's ``Table`` (``sa.table()``, an alias, a ``Table`` of another
        ``MetaData``) is refused: the scope's conditions are written on the model's table, not on that object.

        :param statement: an ``INSERT``, ``UPDATE`` or ``DELETE``.
        """
        table = statement.entity_description.get("table")
        target = self._target(table)
        if target is not None:
            return target
        while isinstance(table, sa.Alias):
            table = table.element
        named = self._named_target(table.name) if isinstance(table, sa.TableClause) else None
        if named is not None:
            self._refuse(
                named,
                statement,
                "it names the table by another object than the model's Table (sa.table(), an alias, a Table of "
                "another MetaData), to which the scope's conditions cannot be added.",
                "Write it on the model (sa.update(Model), sa.delete(Model)) or its Table (Model.__table__), which "
                "is confined to the scope and checked.",
            )
        return None

    def _named_target(self, name: str) -> _Target | None:
        """The scoped table named ``name`` (compared without case, as SQLite and unquoted PostgreSQL names are).

        :param name: a table's name.
        """
        if name.lower() not in (scoped.lower() for scoped in self._scoped_table_names()):
            return None
        return next(
            found for found in self._targets.values() if found is not None and found.table.name.lower() == name.lower()
        )

    def _scoped_table_names(self) -> list[str]:
        """The names of every table a scope narrows for the user (raw SQL naming one is watched)."""
        if self._scoped_names is None:
            tables = [t.cast(sa.Table, sa.inspect(self.view.model).local_table)]
            tables += [sa.inspect(views[0].model).local_table for views in registry_of().all_by_table.values() if views]
            self._scoped_names = sorted({table.name for table in tables if self._target(table) is not None})
        return self._scoped_names

    # -- the events ------------------------------------------------------------------------------------------------

    def _before_execute(
        self,
        connection: Connection,
        statement: t.Any,
        multiparams: t.Any,
        params: t.Any,
        execution_options: t.Any,
    ) -> tuple[t.Any, t.Any, t.Any]:
        if self._flushing or not isinstance(statement, sa.sql.ClauseElement):
            return statement, multiparams, params
        self._refuse_nested_writes(statement)
        if not isinstance(statement, sa.Insert | sa.Update | sa.Delete):
            return statement, multiparams, params
        target = self._target_of(statement)
        if target is None:
            return statement, multiparams, params
        if isinstance(statement, sa.Insert):
            self._refuse(
                target,
                statement,
                "the rows an INSERT writes outside the session's flush cannot be read again through the scope.",
                "Add the objects with session.add() instead: the rows the flush writes are checked.",
            )
        if multiparams or self._keyed_by_parameters(target, statement, params):
            self._refuse(
                target,
                statement,
                "an UPDATE or DELETE with several sets of parameters (executemany, the ORM's bulk UPDATE by primary "
                "key, bulk_update_mappings), or whose WHERE takes the primary key from its parameters (such a bulk "
                "UPDATE of one row), is not confined to the scope.",
                "Change or delete the loaded objects instead (session.delete(), their attributes), or run one "
                "statement with a WHERE clause.",
            )
        assert isinstance(statement, sa.Update | sa.Delete)  # for mypy: an Insert was refused above
        if params and self._foreign_parameters(target, statement, params):
            self._refuse(
                target,
                statement,
                "it was given parameters that are not its own (named bindparam()s of its own, or its table's "
                f"columns): {', '.join(sorted(self._foreign_parameters(target, statement, params)))}; they would "
                "apply to the scope's conditions added to it too.",
                "Give values in the statement (.where(Model.column == value), .values(...)), or name its "
                "bindparam()s apart from the scope's.",
            )
        keys = self._keys_matching(connection, target, statement, params)
        if len(keys) > MAX_STATEMENT_ROWS:
            self._refuse(
                target,
                statement,
                f"it would touch {len(keys):,} rows, more than the {MAX_STATEMENT_ROWS:,} a statement inside a "
                "checked change may.",
                "Narrow its WHERE clause, or make the change outside the admin.",
            )
        if isinstance(statement, sa.Update):
            self.updated.setdefault(target.model, {}).update(dict.fromkeys(keys))
        else:
            self.deleted.setdefault(target.table, set()).update(keys)
        dialect = connection.dialect.name
        confined = statement.where(target.key_in(keys, dialect)).where(target.key_in(target.scoped_keys()))
        return confined, multiparams, params

    def _refuse_nested_writes(self, statement: sa.sql.ClauseElement) -> None:
        """Refuse ``statement`` when it holds an ``INSERT``, ``UPDATE`` or ``DELETE`` of a scoped table within it
        (PostgreSQL's data-modifying ``WITH``: ``sa.select(sa.update(Model)....cte())``), which runs unconfined."""
        for element in visitors.iterate(statement):
            if element is statement or not isinstance(element, sa.Insert | sa.Update | sa.Delete):
                continue
            target = self._target_of(element)
            if target is not None:
                self._refuse(
                    target,
                    statement,
                    "an INSERT, UPDATE or DELETE within another statement (a data-modifying WITH) is not confined to "
                    "the scope.",
                    "Run the UPDATE or DELETE as a statement of its own, which is confined to the scope and checked.",
                )

    @staticmethod
    def _keyed_by_parameters(target: _Target, statement: t.Any, params: t.Any) -> bool:
        """Whether ``statement``'s ``WHERE`` compares a primary key column to a parameter given with it: the
        ORM's bulk UPDATE by primary key (``session.execute(sa.update(Model), [{"id": 5, ...}])``,
        ``bulk_update_mappings``) of a single row, whose confining to the scope the ORM would report as a row
        deleted by someone else (``StaleDataError``: it expects each key to match).

        :param target: the table written.
        :param statement: the ``UPDATE`` or ``DELETE``.
        :param params: the parameters it is executed with.
        """
        if not params or statement.whereclause is None:
            return False
        keys = {column.name for column in target.keys}
        for element in visitors.iterate(statement.whereclause):
            if not isinstance(element, sa.BinaryExpression) or element.operator is not operator.eq:
                continue
            left, right = element.left, element.right
            if (
                isinstance(left, sa.Column)
                and left.table is target.table
                and left.name in keys
                and isinstance(right, sa.BindParameter)
                and right.key in params
            ):
                return True
        return False

    @staticmethod
    def _foreign_parameters(target: _Target, statement: sa.Update | sa.Delete, params: t.Any) -> set[str]:
        """The names of ``params`` that are not ``statement``'s own, or that the scope's conditions use too.

        The parameters given with a statement apply to every bound value of the statement that runs, the scope's
        conditions the guard adds included: one named as a value of the scope compiles (``name_1``) or as a
        named ``bindparam()`` of the scope would change which rows the scope lets the statement write. A
        statement's own are the names of its named ``bindparam()`` objects and its table's columns (an ``UPDATE``'s
        values given as parameters).

        :param target: the table written.
        :param statement: the ``UPDATE`` or ``DELETE``.
        :param params: the parameters it is executed with.
        """
        named = {
            element.key
            for element in visitors.iterate(statement)
            if isinstance(element, sa.BindParameter) and not element.unique
        }
        own = named | {column.key for column in target.table.columns}
        scope = {
            element.key
            for element in visitors.iterate(target.narrowing(sa.select(target.model)))
            if isinstance(element, sa.BindParameter) and not element.unique
        }
        return {str(name) for name in params if name not in own or name in scope or name == _KEYS_PARAMETER}

    def _keys_matching(
        self, connection: Connection, target: _Target, statement: sa.Update | sa.Delete, params: t.Any
    ) -> list[tuple[t.Any, ...]]:
        """The keys of the rows inside the scope that ``statement`` (its ``WHERE``) would touch now, held until the
        change ends where the database has row locks (:func:`erlen_admin.row_locks.for_update`).

        Held, because the statement's own scope condition (``key IN (the scope's rows)``, a subquery) is read at
        its start: on PostgreSQL, a row another transaction moves out of the scope meanwhile, and commits while
        the statement waits for it, would still be written. Read ``FOR UPDATE``, the row is waited for here and
        read again as committed: left out once outside the scope, and nobody moves it out after.
        """
        select = target.narrowing(sa.select(target.model)).with_only_columns(*target.keys)
        if statement.whereclause is not None:
            select = select.where(statement.whereclause)
        if connection.dialect.name == "sqlite":
            select = select.distinct()  # one writer at a time: nothing to hold
        else:
            # Without DISTINCT, which PostgreSQL does not lock with: the keys are made unique here.
            select = select.with_for_update(**for_update(target.model, deleting=isinstance(statement, sa.Delete)))
        return list(dict.fromkeys(tuple(row) for row in connection.execute(select, params or {})))

    def _before_cursor_execute(
        self,
        connection: Connection,
        cursor: t.Any,
        statement: str,
        parameters: t.Any,
        context: t.Any,
        executemany: bool,
    ) -> None:
        compiled = getattr(context, "compiled", None)
        if compiled is not None and not isinstance(compiled.statement, sa.TextClause | sa.TextualSelect):
            return  # a statement built with SQLAlchemy: before_execute has seen it
        if not any(_WRITES.search(pattern.sub(" ", statement)) for pattern in (_NOT_WRITES, _NOT_WRITES_ESCAPED)):
            return
        for name in self._scoped_table_names():
            if re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", statement, re.IGNORECASE):
                target = self._named_target(name)
                assert target is not None  # the names are those of targets
                self._refuse(
                    target,
                    statement,
                    "raw SQL (text(), exec_driver_sql) writing it cannot be confined to the scope, nor its rows read "
                    "again.",
                    "Write the rows with ORM objects, or with sa.update() or sa.delete() statements on the model, "
                    "which are confined to the scope and checked.",
                )

    def _refuse(self, target: _Target, statement: t.Any, why: str, instead: str) -> t.NoReturn:
        sql = " ".join(str(statement).split())
        raise StatementRefused(
            REFUSED.format(
                table=target.table.name,
                view=self.view.slug,
                why=why,
                instead=instead,
                sql=sql if len(sql) <= 300 else sql[:300] + " …",
            )
        )


__all__ = ["MAX_STATEMENT_ROWS", "StatementGuard", "StatementRefused", "keys_in"]

"""The database of one app: its engine, its sessions and who owns which table."""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import MetaData, Table, create_engine, event
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import (
    DeclarativeBase,
    InstanceState,
    LoaderCallableStatus,
    Mapper,
    PassiveFlag,
    Session,
    sessionmaker,
)
from sqlalchemy.orm.util import object_state

import erlen

from . import urls
from .errors import TableConflictError, describe_error, is_unavailable
from .model import Model
from .names import EXTENSION_KEY, database_if_set_up

__all__ = [
    "APP_OWNER",
    "EXTENSION_KEY",
    "OWNER_INFO_KEY",
    "Database",
    "database_if_set_up",
    "database_of",
    "install_sqlite_pragmas",
]

#: The owner of tables that no plugin claims.
APP_OWNER = "app"

#: The key of ``Table.info`` that names the plugin owning the table.
OWNER_INFO_KEY = "erlen_db_owner"

#: The attribute of ``g`` holding the app context's :class:`_ContextState`.
_G_STATE = "_erlen_db_state"
_NOTHING_ADOPTED: Mapping[t.Any, t.Any] = MappingProxyType({})


class Database:
    """The database of one app, kept in ``app.extensions["db"]``.

    The engine is made at startup but connects only when first used, so the
    app starts while the database is down.

    :param app: the app.
    :param url: the parsed ``DB_URL``.
    :param engine_options: keyword arguments of :func:`sqlalchemy.create_engine`.
    """

    def __init__(self, app: Flask, url: URL, engine_options: dict[str, t.Any]) -> None:
        self.app = app
        self.url = url
        #: The keyword arguments the engine was made with.
        self.engine_options = engine_options
        self.engine: Engine = create_engine(url, **engine_options)
        #: Makes the sessions of this app; use it for sessions of your own (background jobs).
        self.sessionmaker: sessionmaker[Session] = sessionmaker(bind=self.engine, expire_on_commit=False)
        #: Tables claimed by plugins: table key to (plugin name, table).
        self.plugin_tables: dict[str, tuple[str, Table]] = {}
        self._test_connection: Connection | None = None

    @property
    def display_url(self) -> str:
        """The URL with its password hidden."""
        return urls.redact(self.url)

    # Sessions

    @property
    def in_rolled_back_transaction(self) -> bool:
        """Whether the app's sessions join a transaction of :func:`erlen_db.rolled_back` now (``db_session``).

        What they write is visible on that transaction's connection only: code that reads on connections of its
        own (a worker's threads) would not see it.
        """
        return self._test_connection is not None

    def new_session(self) -> Session:
        """A new session of this app's database that you close yourself.

        Under the ``db_session`` testing fixture it joins the test's
        transaction through a SAVEPOINT.
        """
        if self._test_connection is not None:
            return Session(bind=self._test_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        return self.sessionmaker()

    @property
    def session(self) -> Session:
        """The session of the current app context, made on first use and closed at its teardown.

        When the context's :meth:`connection` was checked out first (a Core
        reader ran before any ORM work), the session is bound to that
        connection and takes over its transaction: ``session.commit()``
        commits whatever was done on it, ``session.rollback()`` rolls it back.
        Otherwise it connects on first use, as any session does. Instances
        passed to :meth:`adopt` join it as it is made.
        """
        # The proxy's target once, rather than through the proxy for each attribute: this runs on every use.
        app_globals = _app_globals()
        state: _ContextState | None = app_globals.get(_G_STATE)
        if state is None:
            state = _ContextState()
            setattr(app_globals, _G_STATE, state)
        elif state.session is not None:
            return state.session
        connection = state.connection
        if connection is None:
            session = self.new_session()
        else:
            # The app's sessionmaker (its configuration and listeners), bound to the connection.
            session = self.sessionmaker(bind=connection, join_transaction_mode="control_fully")
            if connection.in_transaction():
                # Take over the Core work's transaction now (no SQL is sent): a session that has not begun
                # one of its own would let commit() pass over it, and that work would be rolled back at the
                # teardown.
                session.connection()
        state.session = session
        adopted = state.adopted
        if adopted:
            for instance in adopted.values():
                _join(session, instance)
            adopted.clear()
        return session

    @property
    def current_session(self) -> Session | None:
        """The current app context's session if it has been made, else ``None``; never makes one.

        For code that finishes work others may have done, a background job's
        runner say: it commits the session when something used it, and pays
        nothing for one when nothing did. Outside an app context: ``None``.
        """
        if not has_app_context():
            return None
        state: _ContextState | None = _app_globals().get(_G_STATE)
        return None if state is None else state.session

    def in_transaction(self) -> bool:
        """Whether the current app context's session or connection is in a transaction; it makes neither."""
        state: _ContextState | None = _app_globals().get(_G_STATE)
        if state is None:
            return False
        session = state.session
        if session is not None and session.in_transaction():
            return True
        connection = state.connection
        return connection is not None and connection.in_transaction()

    def connection(self) -> Connection:
        """The connection of the current app context, checked out on first use and shared with :attr:`session`.

        For code that reads (or writes) with Core statements on every request,
        such as a user loader: a request that needs nothing else never makes
        an ORM session. The connection is the session's own when the session
        was used first; otherwise the session, once made, is bound to it and
        takes over its transaction (see :attr:`session`), so both always work
        in one transaction. Statements run in the transaction that
        SQLAlchemy begins on first use (``BEGIN`` on SQLite); the teardown rolls
        back whatever was not committed and returns the connection to the
        pool. Commit Core writes with ``session.commit()`` (which commits the
        connection's transaction) or ``connection.commit()``.
        """
        app_globals = _app_globals()
        state: _ContextState | None = app_globals.get(_G_STATE)
        if state is not None:
            if state.connection is not None:
                return state.connection
            session = state.session
        else:
            session = None
        if session is not None or self._test_connection is not None:
            # The session was made first (it joins the test's transaction under rolled_back): its connection.
            return (session if session is not None else self.session).connection()
        connection = self.engine.connect()
        if state is None:
            state = _ContextState()
            setattr(app_globals, _G_STATE, state)
        state.connection = connection
        return connection

    def adopt(self, instance: t.Any) -> None:
        """Put a detached instance into the current app context's session, now or once the session is made.

        For code that builds ORM instances from Core rows on every request (a
        user loader) and must not make the session for it. While it waits,
        the instance's loaded attributes read as usual; reading one that is
        not loaded (a lazy relationship) makes the session first, which adopts
        it, and then loads it as usual. Changes made to the instance meanwhile
        are kept and flushed by the session.

        :param instance: a detached instance (see :func:`sqlalchemy.orm.make_transient_to_detached`).
        """
        self._adopt_state(instance, object_state(instance))

    def _adopt_state(self, instance: t.Any, state: InstanceState[t.Any], *, unloaded: bool = True) -> None:
        """:meth:`adopt`, given the instance's state.

        :param instance: a detached instance.
        :param state: its state.
        :param unloaded: whether it may have attributes not loaded; ``False`` when the caller loaded them all.
        """
        app_globals = _app_globals()
        context: _ContextState | None = app_globals.get(_G_STATE)
        if context is None:
            context = _ContextState()
            setattr(app_globals, _G_STATE, context)
        elif context.session is not None:
            _join(context.session, instance)
            return
        adopted = context.adopted
        if adopted is None:
            adopted = context.adopted = {}
        if adopted.setdefault(state.key, instance) is not instance:
            return  # another instance of the row waits already: the session will have that one
        if not unloaded:
            return
        unloaded_keys = state.unloaded
        if unloaded_keys:
            # InstanceState.callables: the per-instance loaders SQLAlchemy consults before the mapping's own.
            if "callables" not in state.__dict__:
                state.callables = {}
            for key in unloaded_keys:
                state.callables[key] = _AdoptingLoader(self, app_globals, adopted, key)

    def adopted(self) -> Mapping[t.Any, t.Any]:
        """The instances waiting in :meth:`adopt`, by identity key (``Mapper.identity_key_from_primary_key``).

        Empty when none waits. With the session's identity map, it keeps one instance per row in an app context.
        """
        state: _ContextState | None = _app_globals().get(_G_STATE)
        adopted = None if state is None else state.adopted
        return adopted if adopted is not None else _NOTHING_ADOPTED

    def remove_session(self, exception: BaseException | None = None) -> None:
        """Close the current app context's session and connection, rolling back first after an exception.

        The plugin calls it at each app context's teardown, once the response
        is made. A failure here (the connection dropped after the commit, the
        server went away) is logged once and never raised: raised, it would
        replace the request's answer with a bare 500 although whatever it
        committed is saved, and a client retrying would write it twice. The
        database itself rolls back whatever was left uncommitted when the
        connection ends.
        """
        state: _ContextState | None = _app_globals().pop(_G_STATE, None)
        if state is None:
            return  # the context used no database
        session = state.session
        connection = state.connection
        if session is not None:
            try:
                if exception is not None:
                    self._roll_back(session)
                session.close()
            except SQLAlchemyError as exc:
                self._log_closing_failure(exc)
                # The connection may still be checked out, in a transaction the failure left behind: drop it
                # rather than return it to the pool, where the next request would meet it.
                try:
                    session.invalidate()
                except SQLAlchemyError:
                    pass  # already reported above; the pool replaces the connection
                _invalidate(connection)
                connection = None
        if connection is not None:
            try:
                connection.close()  # rolls back what is left uncommitted
            except SQLAlchemyError as exc:
                self._log_closing_failure(exc)
                _invalidate(connection)

    def _log_closing_failure(self, exc: SQLAlchemyError) -> None:
        """Log, once, that closing a session failed after the response was made."""
        message = (
            "Closing the database session failed after the response was made; the response stands and "
            "anything committed is saved (the database rolled back the rest): %s"
        )
        if is_unavailable(exc):
            self.app.logger.warning(message, describe_error(exc, self))
        else:  # not a lost connection: a bug worth its traceback
            self.app.logger.error(message, describe_error(exc, self), exc_info=exc)

    def rollback_session(self) -> None:
        """Roll back the current app context's session and connection, if it has them.

        The plugin calls it as soon as a request raises an unhandled exception,
        before the app's error handlers run: a 500 handler that writes (an
        error log) and commits must not commit the failed request's writes
        with it, and must find the session usable after a failed flush.
        Instances waiting in :meth:`adopt` are expired too, as the session's are.
        """
        state: _ContextState | None = _app_globals().get(_G_STATE)
        if state is None:
            return  # the context used no database
        session = state.session
        if session is None and state.adopted:
            # Instances waiting in adopt() join the session, whose rollback expires them as it expires its own:
            # read again, they are reloaded, as they would have been had they joined first. No query is run.
            session = self.session
        if session is not None:
            self._roll_back(session)
        connection = state.connection
        if connection is not None and connection.in_transaction():
            # Core work after the session's last commit, which the session does not hold.
            self._roll_back(connection)

    def _roll_back(self, session: Session | Connection) -> None:
        """Roll back ``session`` (or a connection); a database lost meanwhile has discarded the transaction itself."""
        try:
            session.rollback()
        except SQLAlchemyError as exc:
            if not is_unavailable(exc):
                raise
            self.app.logger.warning("Database unavailable while rolling back: %s", exc.__class__.__name__)

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session for work outside requests (background jobs), committed at the end.

        It needs no app context::

            with erlen_db.database_of(app).session_scope() as session:
                session.add(Job(...))

        The session is committed when the block ends normally, rolled back
        when it raises, and closed in both cases.
        """
        session = self.new_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # Tables and their owners

    def claim(self, plugin: str, declared: Iterable[object]) -> None:
        """Record that ``plugin`` owns the tables of ``declared``.

        :param plugin: the plugin's name.
        :param declared: what its ``erlen_db_models`` returned.
        :raises TableConflictError: another plugin owns a table of the same name.
        """
        for table in _tables_of(plugin, declared):
            owner = self.plugin_tables.get(table.key)
            if owner is not None and owner[0] != plugin:
                raise TableConflictError(
                    f"Plugins {owner[0]!r} and {plugin!r} both define the table {table.key!r}. "
                    "Table names are shared by every plugin of an app: one of them must rename its table "
                    "(prefix it with the plugin's name).",
                    plugin=plugin,
                )
            previous = table.info.get(OWNER_INFO_KEY)
            if previous is not None and previous != plugin:
                raise TableConflictError(
                    f"Plugins {previous!r} and {plugin!r} both claim the table {table.key!r} in "
                    "erlen_db_models; a table belongs to one plugin.",
                    plugin=plugin,
                )
            table.info[OWNER_INFO_KEY] = plugin
            self.plugin_tables[table.key] = (plugin, table)

    def tables_by_owner(self) -> dict[str, list[Table]]:
        """The app's tables grouped by owner (plugin name, or ``"app"``), sorted by name.

        :raises TableConflictError: an app model's table has the name of a plugin's table.
        """
        owners: dict[str, list[Table]] = {}
        claimed = {id(table) for _, table in self.plugin_tables.values()}
        for key, table in Model.metadata.tables.items():
            if id(table) in claimed:
                continue
            if table.info.get(OWNER_INFO_KEY) is not None:
                continue  # a table of a plugin that is not enabled on this app
            if key in self.plugin_tables:
                raise TableConflictError(
                    f"The app and plugin {self.plugin_tables[key][0]!r} both define the table {key!r}. "
                    "Rename the app's model's __tablename__.",
                    plugin=self.plugin_tables[key][0],
                )
            owners.setdefault(APP_OWNER, []).append(table)
        for plugin, table in self.plugin_tables.values():
            owners.setdefault(plugin, []).append(table)
        return {owner: sorted(tables, key=lambda tb: tb.key) for owner, tables in owners.items()}

    def metadata_of(self, owner: str) -> MetaData:
        """A new :class:`~sqlalchemy.MetaData` holding copies of the tables of one owner.

        For tools that work owner by owner, such as a migrations plugin comparing
        each plugin's models with the database.

        :param owner: a plugin's name, or ``"app"``.
        :raises KeyError: the owner has no tables.
        """
        tables = self.tables_by_owner()[owner]
        metadata = MetaData(naming_convention=t.cast(t.Any, dict(tables[0].metadata.naming_convention)))
        for table in tables:
            table.to_metadata(metadata)
        return metadata

    def tables(self) -> list[Table]:
        """Every table of the app, plugins' and app's."""
        return [table for tables in self.tables_by_owner().values() for table in tables]

    def create_all(self, bind: Engine | Connection | None = None) -> None:
        """Create the app's tables that do not exist yet (for development and tests).

        :param bind: where to create them; the app's engine by default.
        """
        tables = self.tables()
        for metadata in _metadatas(tables):
            metadata.create_all(bind or self.engine, tables=[tb for tb in tables if tb.metadata is metadata])

    def drop_all(self, bind: Engine | Connection | None = None) -> None:
        """Drop the app's tables.

        :param bind: where to drop them; the app's engine by default.
        """
        tables = self.tables()
        for metadata in reversed(_metadatas(tables)):
            metadata.drop_all(bind or self.engine, tables=[tb for tb in tables if tb.metadata is metadata])

    def dispose(self) -> None:
        """Close every pooled connection of the engine."""
        self.engine.dispose()


def _join(session: Session, instance: t.Any) -> None:
    """Add the detached ``instance`` to ``session``, unless the session holds another instance of its row."""
    state = object_state(instance)
    if state.session_id is None and (state.key is None or state.key not in session.identity_map):
        session.add(instance)


def _invalidate(connection: Connection | None) -> None:
    """Invalidate ``connection`` after a failure to close it cleanly, so that the pool does not hand it out again."""
    if connection is not None:
        try:
            connection.invalidate()
        except SQLAlchemyError:
            pass  # the pool replaces it


class _ContextState:
    """What the database holds for one app context, kept in one attribute of its ``g``.

    One attribute rather than one per field: the user loader of a logged-in request reads it five times and
    the teardown once, each read a method call of ``g``.
    """

    __slots__ = ("adopted", "connection", "session")

    def __init__(self) -> None:
        #: The context's ORM session, once made (:attr:`Database.session`).
        self.session: Session | None = None
        #: The context's connection, when it was checked out before the session (:meth:`Database.connection`).
        self.connection: Connection | None = None
        #: The instances waiting in :meth:`Database.adopt`, by identity key.
        self.adopted: dict[t.Any, t.Any] | None = None


class _AdoptingLoader:
    """The loader of one unloaded attribute of an instance waiting in :meth:`Database.adopt`.

    Read while the app context's session is not made yet, the attribute makes the session (which adopts
    the instance) and loads the usual way. Read after the context ended, it steps aside: the instance is
    detached, as one that the session's closing detached.

    :param database: the database.
    :param app_globals: the app context's ``g`` the instance waits in.
    :param adopted: the list it waits in.
    :param key: the attribute's name.
    """

    def __init__(self, database: Database, app_globals: t.Any, adopted: dict[t.Any, t.Any], key: str) -> None:
        self.database = database
        self.app_globals = app_globals
        self.adopted = adopted
        self.key = key

    def __call__(self, state: InstanceState[t.Any], passive: PassiveFlag) -> t.Any:
        if not passive & PassiveFlag.SQL_OK:
            return LoaderCallableStatus.PASSIVE_NO_RESULT  # what a lazy loader answers when it may not query
        if state.callables.get(self.key) is self:
            del state.callables[self.key]
        waiting_in: _ContextState | None = self.app_globals.get(_G_STATE)
        if (
            has_app_context()
            and _app_globals() is self.app_globals
            and waiting_in is not None
            and waiting_in.adopted is self.adopted
        ):
            self.database.session  # noqa: B018 - made now: it adopts the instance
        instance = state.obj()
        if instance is None:
            return LoaderCallableStatus.PASSIVE_NO_RESULT
        getattr(instance, self.key)  # the mapping's own loader, now that the instance has its session
        return LoaderCallableStatus.ATTR_WAS_SET


def _app_globals() -> t.Any:
    """The current app context's ``g`` itself (an ``app.app_ctx_globals_class``), not its proxy.

    Typed ``Any``, so that what its ``get`` returns is given a type by annotated assignments rather than
    ``typing.cast``, a function call each time, and these run several times on every request.
    """
    return g._get_current_object()


def _metadatas(tables: Iterable[Table]) -> list[MetaData]:
    found: list[MetaData] = []
    for table in tables:
        if not any(table.metadata is m for m in found):
            found.append(table.metadata)
    return found


def _tables_of(plugin: str, declared: Iterable[object]) -> Iterator[Table]:
    for item in declared:
        if item is Model:
            raise erlen.PluginError(
                f"Plugin {plugin!r}: erlen_db_models returned the shared erlen_db.Model; return your own model "
                "classes (or a declarative base of your own), so that it is clear which tables are yours.",
                plugin=plugin,
            )
        if isinstance(item, Table):
            yield item
        elif isinstance(item, MetaData):
            yield from item.tables.values()
        elif isinstance(item, type) and issubclass(item, DeclarativeBase) and DeclarativeBase in item.__bases__:
            yield from item.metadata.tables.values()
        elif isinstance(item, type) and isinstance(mapper := getattr(item, "__mapper__", None), Mapper):
            yield from (tb for tb in mapper.tables if isinstance(tb, Table))
        else:
            raise erlen.PluginError(
                f"Plugin {plugin!r}: erlen_db_models returned {item!r}; return mapped model classes, a declarative "
                "base of the plugin's own, MetaData or Table objects.",
                plugin=plugin,
            )


def database_of(app: Flask | None = None) -> Database:
    """The :class:`Database` of ``app``, or of the current app.

    The first call on an app that the ``erlen`` command created sets up its
    database then (see :func:`erlen.defer_setup`): the engine, every plugin's
    models, the handlers. :func:`database_if_set_up` looks without setting up.

    :param app: the app; by default the current app.
    :raises erlen.PluginNotEnabledError: the ``db`` plugin is not enabled on the app, so it has no database.
    """
    if app is None:
        app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    database = database_if_set_up(app)
    if database is not None:
        return database
    erlen.finish_setup(app)  # nothing, unless the app deferred its set-up
    return t.cast(Database, erlen.extension_state(EXTENSION_KEY, app))


def install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int, *, begin: str = "BEGIN") -> None:
    """Turn on foreign keys, the WAL journal and a busy timeout on each SQLite connection.

    Also lets SQLAlchemy, rather than the ``sqlite3`` module, begin
    transactions, so that SAVEPOINTs work: every transaction SQLAlchemy
    begins sends ``BEGIN`` first, reads included, so the ``sqlite3`` module
    never begins one itself (it would only before an ``INSERT``, ``UPDATE``
    or ``DELETE``); :func:`erlen_db.lone_reads.install`, applied after this
    (``DB_LONE_READS``), defers that ``BEGIN`` to the first statement that
    may change something. Under the ``AUTOCOMMIT`` isolation level, of the
    engine (``DB_ENGINE_OPTIONS``) or of one connection
    (``execution_options(isolation_level="AUTOCOMMIT")``), no ``BEGIN`` is
    sent: each statement commits as it runs, as SQLAlchemy promises. The
    ``sqlite3`` module's own setting tells which: SQLAlchemy sets its
    ``isolation_level`` to ``None``, the module's autocommit, for that level
    only, and ``""`` for the others; each new connection starts from ``""``
    (whatever ``connect_args`` asked for) before SQLAlchemy applies the
    engine's level. There a ``ROLLBACK TO SAVEPOINT`` is followed by the
    savepoint's ``RELEASE``, which ends the transaction SQLite's first
    ``SAVEPOINT`` began (see :func:`_release_after_rollback_to_under_autocommit`).

    Both hooks avoid engine-level events: SQLAlchemy's recipe, a ``"begin"``
    listener calling ``exec_driver_sql("BEGIN")``, runs the statement through
    the whole execution path and, by existing, makes every statement of the
    engine look for execution listeners. The pragmas are set by a pool
    ``"connect"`` listener; the ``BEGIN`` is sent on the driver's cursor by the
    engine's dialect, which SQLAlchemy asks to begin each transaction.

    :param engine: an SQLite engine.
    :param busy_timeout_ms: how long a connection waits for a lock.
    :param begin: the statement that begins a transaction: ``BEGIN``, or ``BEGIN IMMEDIATE`` to take the write
        lock as it begins (``DB_SQLITE_BEGIN``); :func:`erlen_db.lone_reads.install` sends the same.
    """
    memory = urls.is_sqlite_memory(engine.url)

    # First of the connection's listeners (insert=True), before the one SQLAlchemy's dialect applies the
    # engine's isolation level with: the module's legacy mode ("") unless that level is AUTOCOMMIT, whatever
    # connect_args asked for (isolation_level=None, SQLAlchemy's own recipe for SAVEPOINTs on pysqlite, would
    # read as AUTOCOMMIT, and every statement would commit at once).
    @event.listens_for(engine, "connect", insert=True)
    def _on_connect(dbapi_connection: t.Any, connection_record: t.Any) -> None:
        dbapi_connection.isolation_level = ""
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    # Each engine has a dialect of its own (engines derived by execution_options
    # share it), so this changes this engine only. Connection._begin_impl calls
    # it with the pooled connection and wraps a driver error as it would one of
    # the statement's (so "handle_error" listeners still see it).
    engine.dialect.erlen_sqlite_begin = begin  # type: ignore[attr-defined]
    engine.dialect.do_begin = functools.partial(_begin_on_driver, begin=begin)  # type: ignore[method-assign]
    _release_after_rollback_to_under_autocommit(engine.dialect)


def _release_after_rollback_to_under_autocommit(dialect: Dialect) -> None:
    """Under ``AUTOCOMMIT``, follow a ``ROLLBACK TO SAVEPOINT`` with its ``RELEASE``, so no transaction stays open.

    Outside a transaction SQLite's ``SAVEPOINT`` begins one, which its ``RELEASE`` commits; ``ROLLBACK TO``
    keeps it open, and SQLAlchemy sends nothing more: the statements that followed ran in it and the pool's
    rollback undid them. The ``RELEASE`` of a savepoint just rolled back changes nothing else (inside an
    outer savepoint or a ``BEGIN``, it only drops it); SQLAlchemy never uses it again.

    :param dialect: the engine's dialect (engines derived by ``execution_options`` share it).
    """
    rollback_to = dialect.do_rollback_to_savepoint
    if getattr(rollback_to, "erlen_releases", False):
        return  # install_sqlite_pragmas applied twice: a second RELEASE would fail (no such savepoint)

    def do_rollback_to_savepoint(connection: Connection, name: str) -> None:
        rollback_to(connection, name)
        if in_autocommit(connection.connection):
            dialect.do_release_savepoint(connection, name)

    do_rollback_to_savepoint.erlen_releases = True  # type: ignore[attr-defined]
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint  # type: ignore[method-assign]


def _begin_on_driver(dbapi_connection: t.Any, *, begin: str = "BEGIN") -> None:
    """Send ``begin`` on a pooled SQLite connection, unless it is in autocommit (see :func:`in_autocommit`)."""
    if in_autocommit(dbapi_connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(begin)
    finally:
        cursor.close()


def in_autocommit(dbapi_connection: t.Any) -> bool:
    """Whether an ``sqlite3`` connection is under SQLAlchemy's ``AUTOCOMMIT`` isolation level: then no ``BEGIN``.

    SQLAlchemy's SQLite dialect sets the module's ``isolation_level`` to ``None`` for ``AUTOCOMMIT`` and to
    ``""`` for every other level (and :func:`install_sqlite_pragmas` sets ``""`` on each new connection, before
    SQLAlchemy applies the engine's level).

    :param dbapi_connection: an ``sqlite3`` connection, or the pool's proxy of one.
    """
    return dbapi_connection.isolation_level is None

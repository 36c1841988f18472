"""The database of one app: its engine, its sessions and who owns which table."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from flask import Flask, g, has_app_context
from sqlalchemy import MetaData, Table, create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapper, Session, sessionmaker

import erlen

from . import urls
from .errors import TableConflictError, describe_error, is_unavailable
from .model import Model

#: The key of ``app.extensions`` under which the :class:`Database` lives.
EXTENSION_KEY = "db"

#: The owner of tables that no plugin claims.
APP_OWNER = "app"

#: The key of ``Table.info`` that names the plugin owning the table.
OWNER_INFO_KEY = "erlen_db_owner"

_G_KEY = "_erlen_db_session"


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
        """The session of the current app context, made on first use and closed at its teardown."""
        # The proxy's target once, rather than through the proxy for each attribute: this runs on every use.
        app_globals = _app_globals()
        session = t.cast("Session | None", app_globals.get(_G_KEY))
        if session is None:
            session = self.new_session()
            setattr(app_globals, _G_KEY, session)
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
        return t.cast("Session | None", _app_globals().get(_G_KEY))

    def remove_session(self, exception: BaseException | None = None) -> None:
        """Close the current app context's session, rolling back first after an exception.

        The plugin calls it at each app context's teardown, once the response
        is made. A failure here (the connection dropped after the commit, the
        server went away) is logged once and never raised: raised, it would
        replace the request's answer with a bare 500 although whatever it
        committed is saved, and a client retrying would write it twice. The
        database itself rolls back whatever was left uncommitted when the
        connection ends.
        """
        session = t.cast("Session | None", _app_globals().pop(_G_KEY, None))
        if session is None:
            return
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
        """Roll back the current app context's session, if it has one.

        The plugin calls it as soon as a request raises an unhandled exception,
        before the app's error handlers run: a 500 handler that writes (an
        error log) and commits must not commit the failed request's writes
        with it, and must find the session usable after a failed flush.
        """
        session = t.cast("Session | None", _app_globals().get(_G_KEY))
        if session is not None:
            self._roll_back(session)

    def _roll_back(self, session: Session) -> None:
        """Roll back ``session``; a database lost meanwhile has discarded the transaction itself."""
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


def _app_globals() -> t.Any:
    """The current app context's ``g`` itself (an ``app.app_ctx_globals_class``), not its proxy."""
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

    :raises erlen.PluginNotEnabledError: the ``db`` plugin is not enabled on the app, so it has no database.
    """
    return t.cast(Database, erlen.extension_state(EXTENSION_KEY, app))


def install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    """Turn on foreign keys, the WAL journal and a busy timeout on each SQLite connection.

    Also lets SQLAlchemy, rather than the ``sqlite3`` module, begin
    transactions, so that SAVEPOINTs work: the ``sqlite3`` module's own
    transaction handling is turned off, and every transaction SQLAlchemy
    begins sends ``BEGIN`` first, reads included.

    Both hooks avoid engine-level events: SQLAlchemy's recipe, a ``"begin"``
    listener calling ``exec_driver_sql("BEGIN")``, runs the statement through
    the whole execution path and, by existing, makes every statement of the
    engine look for execution listeners. The pragmas are set by a pool
    ``"connect"`` listener; the ``BEGIN`` is sent on the driver's cursor by the
    engine's dialect, which SQLAlchemy asks to begin each transaction.

    :param engine: an SQLite engine.
    :param busy_timeout_ms: how long a connection waits for a lock.
    """
    memory = urls.is_sqlite_memory(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: t.Any, connection_record: t.Any) -> None:
        dbapi_connection.isolation_level = None
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
    engine.dialect.do_begin = _begin_on_driver  # type: ignore[method-assign]


def _begin_on_driver(dbapi_connection: t.Any) -> None:
    """Send ``BEGIN`` on a pooled SQLite connection whose driver does not begin transactions itself."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("BEGIN")
    finally:
        cursor.close()

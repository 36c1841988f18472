"""Statements that cannot change anything run without a transaction on PostgreSQL (psycopg) and SQLite.

On psycopg (3), the first statement of a transaction costs a round trip of
its own: the driver sends ``BEGIN`` and waits for it before sending the
statement; and the request's end costs another, the ``ROLLBACK``. A request
that only reads (``GET /notes/42``, a list page) pays three round trips for
one answer.

Under PostgreSQL's ``READ COMMITTED`` (its default), ``BEGIN`` takes no
snapshot: each statement of the transaction sees what was committed when that
statement started, exactly as a statement outside any transaction does (which
is why Django runs every query in autocommit by default). So :func:`install`
runs a statement that cannot change anything, met while psycopg is idle (it
would begin the transaction), alone, with psycopg's autocommit on for that one
statement: a ``SELECT`` with no function call (a function may write, or take
a lock), no raw SQL (``text``, ``literal_column``, prefixes, hints), no ``FOR
UPDATE``, no data-changing CTE, no type that wraps its columns or parameters
in SQL expressions, not on a server-side cursor. The connection then goes
back to transactions: the first statement that may change something begins
the transaction, which commits or rolls back as before (a failed request
still undoes its writes), and the teardown's rollback has nothing to send
when nothing followed.

Under another isolation level (``REPEATABLE READ``, ``SERIALIZABLE``: the
first statement fixes the snapshot of the whole transaction), once the
request has begun a transaction, or in a pipeline, every statement runs in
the transaction as usual.

On SQLite (the ``sqlite3`` module, with
:func:`erlen_db.database.install_sqlite_pragmas`), the ``BEGIN``
that SQLAlchemy asks for when it begins a transaction is deferred to the
first statement that may change something: a statement that cannot change
anything, met while the driver has no transaction open, runs in SQLite's
autocommit mode (an implicit read transaction of its own, which sees what was
committed when it started); any other statement (raw SQL, a write, a
``SAVEPOINT``, an ``executemany``) sends ``BEGIN`` first, and everything after
it runs in that transaction until SQLAlchemy commits or rolls it back. A
request that only reads then sends neither ``BEGIN`` nor ``ROLLBACK``. Reads
before the first write no longer share one snapshot, with each other or with
the writes; and the write transaction starts from the latest commit instead
of upgrading a read snapshot that may be stale, which fails at once
(``SQLITE_BUSY_SNAPSHOT``) where a fresh ``BEGIN`` waits for the lock.
"""

from __future__ import annotations

import functools
import typing as t
import weakref

from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import Dialect, ExecutionContext
from sqlalchemy.sql import visitors
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ColumnClause, TextClause
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Select

from .database import in_autocommit

#: The isolation level under which a statement run alone sees what it would see as a transaction's first.
_READ_COMMITTED = "READ COMMITTED"


class _Psycopg(t.NamedTuple):
    """The psycopg values checked on every statement, looked up once (psycopg is imported only when used)."""

    idle: int
    pipeline_off: int
    read_committed: t.Any
    server_cursor: type


@functools.cache
def _psycopg() -> _Psycopg:
    from psycopg import IsolationLevel, ServerCursor, pq

    return _Psycopg(pq.TransactionStatus.IDLE, pq.PipelineStatus.OFF, IsolationLevel.READ_COMMITTED, ServerCursor)


#: The SQLite drivers whose connections are ``sqlite3`` ones (``in_transaction``, ``isolation_level``).
_SQLITE3_DRIVERS = frozenset({"pysqlite", "pysqlcipher"})


def install(engine: Engine) -> None:
    """Run ``engine``'s statements that cannot change anything alone when they would begin a transaction.

    For an engine on psycopg (3), or on SQLite through the ``sqlite3`` module once
    :func:`erlen_db.database.install_sqlite_pragmas` was applied to it (it sends ``BEGIN`` before the
    module would); see the module's documentation. Each engine has a dialect of its own (engines derived by
    ``execution_options`` share it), so this changes this engine only; SQLAlchemy runs every statement
    through ``dialect.do_execute`` (or ``do_execute_no_params``, ``do_executemany``). On another SQLite
    driver it does nothing.

    :param engine: an engine whose driver is psycopg, or an SQLite engine with its pragmas installed.
    """
    dialect = engine.dialect
    if is_installed(engine):
        return
    if dialect.name == "sqlite":
        if dialect.driver in _SQLITE3_DRIVERS:
            _install_on_sqlite(engine)
        return
    psycopg_execute = dialect.do_execute
    server_cursor = _psycopg().server_cursor

    def do_execute(cursor: t.Any, statement: str, parameters: t.Any, context: ExecutionContext | None = None) -> None:
        compiled = None if context is None else context.compiled
        if compiled is None or not _cannot_change_anything(compiled) or isinstance(cursor, server_cursor):
            psycopg_execute(cursor, statement, parameters, context)
            return
        driver = _idle_driver(cursor.connection, dialect)
        if driver is None:
            psycopg_execute(cursor, statement, parameters, context)
            return
        driver.autocommit = True
        try:
            psycopg_execute(cursor, statement, parameters, context)
        except BaseException:
            _forget_prepared(driver)
            raise
        finally:
            _leave_autocommit(driver)

    do_execute.erlen_lone_reads = True  # type: ignore[attr-defined]
    dialect.do_execute = do_execute  # type: ignore[method-assign]


def _install_on_sqlite(engine: Engine) -> None:
    """:func:`install` on an SQLite engine whose driver is the ``sqlite3`` module, with its pragmas installed.

    SQLAlchemy begins a transaction (``dialect.do_begin``) before a connection's first statement, and again
    before the first one after each commit or rollback; here that sends nothing. Whether the ``BEGIN`` is
    still owed is what the driver itself tells (``in_transaction``: SQLite is out of autocommit mode) when a
    statement comes: SQLAlchemy runs statements only inside the transactions it begins (its autobegin), so
    a driver without a transaction open owes one. Keeping no mark of its own (one in the pool connection's
    ``info`` would need clearing on every path that ends a transaction), nothing can outlive a checkout, a
    commit or rollback, an invalidation or a closed connection: the pool's reset-on-return rollback, a
    commit or a rollback with the ``BEGIN`` still owed find SQLite in autocommit mode, where ``sqlite3``'s
    ``commit()`` and ``rollback()`` send nothing. An in-memory database (one connection, kept by its pool)
    works the same.

    :param engine: an SQLite engine on ``sqlite3`` with :func:`~erlen_db.database.install_sqlite_pragmas`.
    """
    dialect = engine.dialect
    # BEGIN, or BEGIN IMMEDIATE (DB_SQLITE_BEGIN), as install_sqlite_pragmas sends it.
    begin = getattr(dialect, "erlen_sqlite_begin", "BEGIN")
    sqlite_execute = dialect.do_execute
    sqlite_execute_no_params = dialect.do_execute_no_params
    sqlite_executemany = dialect.do_executemany

    def do_execute(cursor: t.Any, statement: str, parameters: t.Any, context: ExecutionContext | None = None) -> None:
        if not cursor.connection.in_transaction and not _runs_alone(context):
            _begin(cursor, begin)
        sqlite_execute(cursor, statement, parameters, context)

    def do_execute_no_params(cursor: t.Any, statement: str, context: ExecutionContext | None = None) -> None:
        if not cursor.connection.in_transaction and not _runs_alone(context):
            _begin(cursor, begin)
        sqlite_execute_no_params(cursor, statement, context)

    def do_executemany(
        cursor: t.Any, statement: str, parameters: t.Any, context: ExecutionContext | None = None
    ) -> None:
        # Never alone: a statement run for many parameter sets is a write (SQLite refuses a SELECT here).
        if not cursor.connection.in_transaction:
            _begin(cursor, begin)
        sqlite_executemany(cursor, statement, parameters, context)

    do_execute.erlen_lone_reads = True  # type: ignore[attr-defined]
    dialect.do_begin = _owe_begin  # type: ignore[method-assign]
    dialect.do_execute = do_execute  # type: ignore[method-assign]
    dialect.do_execute_no_params = do_execute_no_params  # type: ignore[method-assign]
    dialect.do_executemany = do_executemany  # type: ignore[method-assign]


def _owe_begin(dbapi_connection: t.Any) -> None:
    """SQLAlchemy begins a transaction on an SQLite connection: nothing is sent yet (see :func:`_install_on_sqlite`).

    :param dbapi_connection: the pooled connection.
    """


def _runs_alone(context: ExecutionContext | None) -> bool:
    """Whether the statement of ``context`` may run without a transaction: a compiled one that changes nothing.

    :param context: the statement's execution context; ``None`` for a statement SQLAlchemy did not compile.
    """
    compiled = None if context is None else context.compiled
    return compiled is not None and _cannot_change_anything(compiled)


def _begin(cursor: t.Any, begin: str = "BEGIN") -> None:
    """Send ``begin`` (``BEGIN``, or ``BEGIN IMMEDIATE``) on ``cursor``, an ``sqlite3`` cursor about to run the
    statement that follows it.

    The statement's own cursor rather than a new one: it costs no cursor, and running the statement next
    resets it. A failure is raised as the statement's, which SQLAlchemy wraps as usual. Nothing is sent
    under the ``AUTOCOMMIT`` isolation level (:func:`erlen_db.database.in_autocommit`): there the
    statement commits as it runs.

    :param cursor: the statement's cursor.
    :param begin: the statement that begins the transaction.
    """
    if not in_autocommit(cursor.connection):
        cursor.execute(begin)


def is_installed(engine: Engine) -> bool:
    """Whether :func:`install` was applied to ``engine``.

    :param engine: an engine.
    """
    return getattr(engine.dialect.do_execute, "erlen_lone_reads", False) is True


# Per compiled statement (SQLAlchemy caches and reuses them): whether running it can change nothing. Compiled
# statements live in their engine's cache; this memo holds none of them alive.
_harmless: weakref.WeakKeyDictionary[Compiled, bool] = weakref.WeakKeyDictionary()


def _cannot_change_anything(compiled: Compiled) -> bool:
    """Whether the statement ``compiled`` is a ``SELECT`` that can neither write nor lock, worked out once.

    :param compiled: a compiled statement.
    """
    found = _harmless.get(compiled)
    if found is None:
        found = _harmless[compiled] = _select_without_effects(compiled)
    return found


def _select_without_effects(compiled: Compiled) -> bool:
    """:func:`_cannot_change_anything`, not memoized.

    The SQL an ORM statement renders is that of its compile state's statement (the mapper's columns, its
    criteria), which is what is walked here.

    :param compiled: a compiled statement.
    """
    compile_state = getattr(compiled, "compile_state", None)
    statement = getattr(compile_state, "statement", None)
    if statement is None:
        statement = compiled.statement
    if not isinstance(statement, Select):
        return False
    for element in visitors.iterate(statement):
        if isinstance(element, (FunctionElement, TextClause, UpdateBase)):
            return False
        if isinstance(element, ColumnClause) and element.is_literal:
            return False
        if isinstance(element, Select) and (
            element._for_update_arg is not None
            or element._prefixes
            or element._suffixes
            or element._hints
            or element._statement_hints
        ):
            return False
    result_columns = getattr(compiled, "_result_columns", None) or ()
    if any(column[3]._has_column_expression for column in result_columns):
        return False
    binds = getattr(compiled, "binds", {})
    return not any(bind.type._has_bind_expression for bind in binds.values())


def _idle_driver(driver: t.Any, dialect: Dialect) -> t.Any:
    """``driver`` (a psycopg connection) when its next statement may run alone; else ``None``.

    It may when it would start a ``READ COMMITTED`` transaction: psycopg idle (no transaction, no pipeline)
    and not in autocommit already, its isolation level the server's default, and that default
    ``READ COMMITTED`` (as SQLAlchemy found it on connecting), or set to it.

    :param driver: the psycopg connection.
    :param dialect: its engine's dialect.
    """
    psycopg = _psycopg()
    pgconn = driver.pgconn
    if pgconn.transaction_status != psycopg.idle or pgconn.pipeline_status != psycopg.pipeline_off or driver.autocommit:
        return None
    level = driver.isolation_level
    if level is None:
        if getattr(dialect, "default_isolation_level", None) != _READ_COMMITTED:
            return None
    elif level != psycopg.read_committed:
        return None
    return driver


def _forget_prepared(driver: t.Any) -> None:
    """After a failed lone statement: forget psycopg's prepared statements, as a failed transaction's rollback does.

    A statement prepared before a migration changed a column's type fails once ("cached plan must not change
    result type"); in a transaction, psycopg's rollback of it forgets the connection's statements, so the
    next request prepares them afresh. A lone statement has no transaction to roll back: the statements are
    forgotten here (the server's copies are deallocated with the connection's next statement). On a psycopg
    whose internals moved, the connection is closed instead, and the pool replaces it.

    :param driver: the psycopg connection.
    """
    prepared = getattr(driver, "_prepared", None)
    if prepared is not None and callable(getattr(prepared, "clear", None)):
        prepared.clear()
    else:
        driver.close()


def _leave_autocommit(driver: t.Any) -> None:
    """Turn psycopg's autocommit off after a lone statement inside SQLAlchemy's execution; close it if it cannot be.

    psycopg refuses only when the statement left the connection other than idle, which only a broken or
    interrupted connection does; closed, it is never used again in autocommit: SQLAlchemy finds it closed and
    the pool replaces it. The statement's own error, if any, is what the caller sees.

    :param driver: the psycopg connection.
    """
    try:
        if not driver.closed and driver.pgconn.transaction_status == _psycopg().idle:
            driver.autocommit = False
            return
        driver.close()
    except Exception:  # whatever psycopg raises, the connection must not serve again
        driver.close()

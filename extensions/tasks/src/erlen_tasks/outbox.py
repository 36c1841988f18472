"""Writing a job's outbox row: one ``INSERT``, compiled once per database dialect, sent as the driver's SQL.

Every enqueue writes one row of ``tasks_jobs``, with the same columns. Through
``connection.execute(table.insert(), values)`` SQLAlchemy looks the compiled
statement up in its cache, builds its parameters and the result's metadata
on every call: more than the database's own work on SQLite. Here the
statement is compiled once, for the engine's dialect, with the column types'
own bind processors (the same conversions, the date-times included), and
sent with ``Connection.exec_driver_sql``: still on the caller's connection and
in its transaction, still seen by the engine's events (query counts, logging,
error handling). The new row's id comes from the cursor's ``lastrowid`` where
the dialect takes it from there (SQLite), from ``RETURNING`` elsewhere
(PostgreSQL); a dialect with neither gets the Core insert.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from .models import JobRecord

TABLE: sa.Table = t.cast(sa.Table, JobRecord.__table__)

#: The Core statement: the fallback, and what the prepared statement is compiled from.
INSERT = TABLE.insert()

#: The columns an enqueue writes (all but the id).
COLUMNS: tuple[str, ...] = tuple(column.key for column in TABLE.columns if column.key != "id")


@dataclass(frozen=True)
class PreparedInsert:
    """The outbox row's ``INSERT`` compiled for one dialect.

    :param dialect: the dialect it was compiled for.
    :param sql: the statement's text, in the driver's parameter style.
    :param names: the parameters' column names, in the statement's order when the style is positional.
    :param positional: whether the driver takes a sequence (``?``) rather than a mapping (``%(name)s``).
    :param processors: the bind processor of each column that has one.
    :param returning: whether the statement returns the id (``RETURNING``) rather than the cursor's
        ``lastrowid`` giving it.
    """

    dialect: sa.Dialect
    sql: str
    names: tuple[str, ...]
    positional: bool
    processors: Mapping[str, Callable[[t.Any], t.Any]]
    returning: bool

    @classmethod
    def for_dialect(cls, dialect: sa.Dialect) -> PreparedInsert | None:
        """The statement for ``dialect`` (an initialised one: connected once), or ``None`` when it has
        neither ``lastrowid`` nor ``RETURNING`` for an insert's id.

        :param dialect: the engine's dialect.
        """
        # DefaultDialect's flag (every dialect SQLAlchemy ships): the id is the cursor's lastrowid.
        returning = not getattr(dialect, "postfetch_lastrowid", False)
        if returning and not dialect.insert_returning:
            return None
        statement = INSERT.returning(TABLE.c.id) if returning else INSERT
        compiled = statement.compile(dialect=dialect, column_keys=list(COLUMNS))
        positional = bool(dialect.positional)
        names = tuple(compiled.positiontup or ()) if positional else COLUMNS
        if sorted(names) != sorted(COLUMNS):  # bind names other than the column keys: leave it to Core
            return None
        processors = {}
        for name in COLUMNS:
            process = TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors[name] = process
        return cls(dialect, compiled.string, names, positional, processors, returning)

    def execute(self, connection: sa.Connection, values: Mapping[str, t.Any]) -> int:
        """Insert a row of ``values`` (one per column of :data:`COLUMNS`) on ``connection``; return its id.

        :param connection: the caller's connection, in its transaction.
        :param values: the row's values, as Python values (converted here as the Core insert would).
        """
        processors = self.processors
        converted: Sequence[t.Any] | dict[str, t.Any]
        if self.positional:
            converted = tuple(
                processors[name](values[name]) if name in processors else values[name] for name in self.names
            )
        else:
            converted = {
                name: processors[name](values[name]) if name in processors else values[name] for name in self.names
            }
        result = connection.exec_driver_sql(self.sql, converted)
        if self.returning:
            return t.cast(int, result.scalar_one())
        row_id = result.lastrowid
        result.close()
        return row_id


def insert_row(connection: sa.Connection, values: Mapping[str, t.Any], prepared: PreparedInsert | None) -> int:
    """Insert a job's row of ``values`` on ``connection``, with ``prepared`` if given; return its id.

    :param connection: the caller's connection, in its transaction.
    :param values: one value per column of :data:`COLUMNS`.
    :param prepared: the statement for the connection's dialect, or ``None`` for the Core insert.
    """
    if prepared is None:
        key = connection.execute(INSERT, dict(values)).inserted_primary_key
        assert key is not None  # a single-row INSERT
        return t.cast(int, key[0])
    return prepared.execute(connection, values)


__all__ = ["COLUMNS", "INSERT", "PreparedInsert", "insert_row"]

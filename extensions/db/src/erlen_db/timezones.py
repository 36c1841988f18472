"""Time-zone-aware date and times, stored as the same instant on every database.

PostgreSQL's ``timestamptz`` keeps the instant of an aware ``datetime``.
SQLite keeps text, and SQLAlchemy's SQLite type writes the wall-clock time
without its offset: ``09:30+02:00`` would come back as ``09:30``, read as
UTC by whoever assumes so, two hours off. erlen-db therefore changes, on each
SQLite engine it creates, how ``DateTime(timezone=True)`` columns are written
and read (:func:`install_sqlite_aware_datetimes`): an aware value is written
as its UTC time, and every value is read back aware, in UTC. A naive value is
written as it is, and so read as UTC, as before.

:class:`UTCDateTime` is a column type that goes further, on every database:
it refuses naive values with a clear error and always reads aware UTC values
(PostgreSQL would answer in the session's time zone).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from sqlalchemy import DateTime, Dialect
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeDecorator


class NaiveDateTimeError(ValueError):
    """A naive ``datetime`` was given to a :class:`UTCDateTime` column, whose instant would be a guess."""


def _utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC datetime; a naive value is taken to be UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A date and time with a time zone, stored as its UTC instant and read back aware, in UTC, on every database.

    Use it where an instant matters (an appointment, an expiry)::

        starts_at: Mapped[datetime] = mapped_column(erlen_db.UTCDateTime())

    The column is a ``timestamptz`` on PostgreSQL and text on SQLite;
    erlen-migrate's autogenerate writes it as ``erlen_db.UTCDateTime()``,
    with ``import erlen_db``. Writing a naive
    ``datetime`` raises :class:`NaiveDateTimeError`: give it a time zone,
    such as ``datetime.now(UTC)`` or ``datetime(2027, 3, 1, 9, 30,
    tzinfo=ZoneInfo("Europe/Berlin"))``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        # SQLAlchemy's repr shows the fixed argument of impl, UTCDateTime(timezone=True), which autogenerate copies.
        return f"{type(self).__name__}()"

    @property
    def python_type(self) -> type[dt.datetime]:
        return dt.datetime

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"UTCDateTime takes a datetime, not {type(value).__name__} ({value!r}).")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDateTimeError(
                f"UTCDateTime stores an instant, and the naive datetime {value.isoformat()} has no time zone. "
                "Give it one, such as datetime.now(UTC) or value.replace(tzinfo=ZoneInfo('Europe/Berlin'))."
            )
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else _utc(value)


#: SQLAlchemy's text of a date-time on SQLite, unless a column names another ``storage_format``.
_DEFAULT_STORAGE_FORMAT: str = sqlite.DATETIME._storage_format


class _SQLiteAwareDateTime(sqlite.DATETIME):
    """SQLite's ``DATETIME`` that writes an aware value's UTC time and reads ``timezone=True`` values as UTC."""

    def bind_processor(self, dialect: Dialect) -> t.Callable[[t.Any], t.Any] | None:
        process = super().bind_processor(dialect)
        if process is None:
            return process
        if self._storage_format != _DEFAULT_STORAGE_FORMAT:
            if not self.timezone:
                return process

            def to_utc(value: t.Any) -> t.Any:
                if isinstance(value, dt.datetime) and value.tzinfo is not None:
                    value = value.astimezone(dt.UTC).replace(tzinfo=None)
                return process(value)

            return to_utc
        # The default format's text, from datetime's own C code: SQLAlchemy's %-formatting of a dict of the
        # fields, and the replace(tzinfo=None) before it, cost ten times as much, four times in a row that
        # has four date-time columns (erlen-tasks' jobs). isoformat() writes the same fields with the same
        # padding (years below 1000 included); an offset it appends is cut off. Other types (a date, a
        # subclass of datetime) go through SQLAlchemy's processor.
        to_utc_first = bool(self.timezone)

        def as_text(value: t.Any) -> t.Any:
            if type(value) is dt.datetime:
                if to_utc_first and value.tzinfo is not None:
                    value = value.astimezone(dt.UTC)
                return value.isoformat(" ", "microseconds")[:26]
            if to_utc_first and isinstance(value, dt.datetime) and value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return process(value)

        return as_text

    def result_processor(self, dialect: Dialect, coltype: object) -> t.Callable[[t.Any], t.Any] | None:
        process = super().result_processor(dialect, coltype)
        if not self.timezone:
            return process

        def as_utc(value: t.Any) -> t.Any:
            value = value if process is None else process(value)
            return _utc(value) if isinstance(value, dt.datetime) else value

        return as_utc


def install_sqlite_aware_datetimes(engine: Engine) -> None:
    """Make ``engine``, an SQLite engine, keep the instant of aware values in ``DateTime(timezone=True)`` columns.

    Each engine has a dialect of its own, so this changes that engine only.

    :param engine: an SQLite engine, before its first statement.
    """
    dialect = engine.dialect
    dialect.colspecs = {**dialect.colspecs, sqltypes.DateTime: _SQLiteAwareDateTime}

"""Aware date and times keep their instant on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import typing as t
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import erlen_db

BERLIN = ZoneInfo("Europe/Berlin")
#: 09:30 in Berlin, summer time: 07:30 UTC.
MEETING = dt.datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN)


def _tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    plain = sa.Table(
        "tz_plain",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True)),
    )
    strict = sa.Table(
        "tz_strict",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", erlen_db.UTCDateTime()),
    )
    return plain, strict


@pytest.fixture
def tables(app: Flask) -> t.Iterator[tuple[sa.Table, sa.Table]]:
    metadata = sa.MetaData()
    plain, strict = _tables(metadata)
    engine = erlen_db.database_of(app).engine
    metadata.create_all(engine)
    yield plain, strict
    metadata.drop_all(engine)
    erlen_db.database_of(app).dispose()


def test_an_aware_datetime_keeps_its_instant(app: Flask, tables: tuple[sa.Table, sa.Table]) -> None:
    engine = erlen_db.database_of(app).engine
    for table in tables:
        with engine.begin() as connection:
            connection.execute(table.insert().values(id=1, at=MEETING))
        with engine.connect() as connection:
            stored = connection.execute(sa.select(table.c.at)).scalar_one()
            # Compared with an aware value: found only when the instant was kept.
            found = connection.execute(sa.select(table.c.id).where(table.c.at == MEETING)).scalar_one_or_none()
        assert stored.utcoffset() is not None, table.name
        assert stored == MEETING, (table.name, stored)  # the same instant: 07:30 UTC
        assert stored.astimezone(dt.UTC).time() == dt.time(7, 30)
        assert found == 1, table.name


def test_utc_datetime_reads_utc_and_refuses_naive_values(app: Flask, tables: tuple[sa.Table, sa.Table]) -> None:
    _, strict = tables
    engine = erlen_db.database_of(app).engine
    with engine.begin() as connection:
        connection.execute(strict.insert().values(id=1, at=MEETING))
    with engine.connect() as connection:
        stored = connection.execute(sa.select(strict.c.at)).scalar_one()
    assert stored.tzinfo is dt.UTC and stored.hour == 7
    with pytest.raises(sa.exc.StatementError) as raised, engine.begin() as connection:
        connection.execute(strict.insert().values(id=2, at=dt.datetime(2026, 6, 1, 9, 30)))
    assert isinstance(raised.value.orig, erlen_db.NaiveDateTimeError)
    assert "the naive datetime 2026-06-01T09:30:00 has no time zone" in str(raised.value.orig)


class _Base(DeclarativeBase):
    """A base of its own, so the table stays out of erlen_db.Model's metadata."""


class _Appointment(_Base):
    __tablename__ = "tz_appointment"
    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


def test_an_orm_model_gets_back_the_instant_it_stored(app: Flask) -> None:
    database = erlen_db.database_of(app)
    _Appointment.__table__.create(database.engine)  # type: ignore[attr-defined]
    try:
        with app.app_context():
            erlen_db.session.add(_Appointment(id=1, starts_at=MEETING))
            erlen_db.session.commit()
            erlen_db.session.expunge_all()
            starts_at = erlen_db.session.get(_Appointment, 1).starts_at  # type: ignore[union-attr]
        assert starts_at == MEETING and starts_at.utcoffset() is not None
    finally:
        _Appointment.__table__.drop(database.engine)  # type: ignore[attr-defined]
        database.dispose()


@pytest.mark.parametrize("timezone", [True, False])
def test_sqlite_writes_the_text_sqlalchemy_writes(timezone: bool) -> None:
    # The fast path (datetime.isoformat) against SQLAlchemy's own formatting, on what each is given: the
    # default storage format's text, to the character, after the UTC conversion of timezone=True columns.
    from erlen_db.timezones import _SQLiteAwareDateTime

    dialect = sa.create_engine("sqlite://").dialect
    ours = _SQLiteAwareDateTime(timezone=timezone).bind_processor(dialect)
    stock = sa.dialects.sqlite.DATETIME(timezone=timezone).bind_processor(dialect)
    assert ours is not None and stock is not None

    class Later(dt.datetime):
        """A subclass of datetime: SQLAlchemy's processor, not isoformat()."""

    values: list[t.Any] = [
        dt.datetime(2026, 12, 4, 19, 23, 21, 123456),
        dt.datetime(2026, 12, 4, 19, 23, 21),  # no microseconds: still written, .000000
        dt.datetime(5, 1, 2, 3, 4, 5, 6),  # a year below 1000: zero-padded
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
        dt.datetime(2026, 12, 4, 19, 23, 21, 5, tzinfo=dt.UTC),
        MEETING,
        dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        Later(2026, 6, 1, 9, 30, 1, 2, tzinfo=BERLIN),
        dt.date(2026, 2, 3),
        None,
    ]
    for value in values:
        expected_input = value
        if timezone and isinstance(value, dt.datetime) and value.tzinfo is not None:
            expected_input = value.astimezone(dt.UTC).replace(tzinfo=None)
        assert ours(value) == stock(expected_input), value
    with pytest.raises(TypeError):
        ours("2026-01-01")


def test_a_custom_storage_format_is_kept() -> None:
    from erlen_db.timezones import _SQLiteAwareDateTime

    dialect = sa.create_engine("sqlite://").dialect
    process = _SQLiteAwareDateTime(
        timezone=True, storage_format="%(year)04d/%(month)02d/%(day)02d %(hour)02d:%(minute)02d", regexp=r"(\d+)"
    ).bind_processor(dialect)
    assert process is not None
    assert process(MEETING) == "2026/06/01 07:30"

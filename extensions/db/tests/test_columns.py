from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

import erlen_db


def test_python_type_of_a_column_and_of_a_type_without_one() -> None:
    assert erlen_db.python_type_of(sa.Column("n", sa.Integer())) is int
    assert erlen_db.python_type_of(sa.Column("at", sa.DateTime(timezone=True))) is datetime.datetime


class Point(sa.types.UserDefinedType[object]):
    """A database type SQLAlchemy knows no Python type of: ``object`` since SQLAlchemy 2.1, an error before."""

    cache_ok = True

    def get_col_spec(self) -> str:
        return "POINT"


def test_a_type_without_a_python_type_gives_none() -> None:
    assert erlen_db.python_type_of(sa.Column("at", Point())) is None


class Opaque(sa.types.TypeDecorator[object]):
    """A type whose python_type raises NotImplementedError, as SQLAlchemy 2.0's default does."""

    impl = sa.LargeBinary
    cache_ok = True

    @property
    def python_type(self) -> type:
        raise NotImplementedError


def test_a_type_that_raises_for_its_python_type_gives_none() -> None:
    assert erlen_db.python_type_of(sa.Column("blob", Opaque())) is None


def test_postgresql_refuses_a_string_longer_than_its_column_and_never_cuts_it(postgres_schema_url: str) -> None:
    """SQLAlchemy before 2.0.8 sent psycopg's parameters cast to the column's length (``%(name)s::VARCHAR(5)``),
    and PostgreSQL cuts a value cast so without a word: a saved write silently lost its end. erlen-db requires
    2.0.8, which casts to ``VARCHAR`` alone, so the database refuses the value as its column's length says."""
    engine = sa.create_engine(postgres_schema_url)
    table = sa.Table(
        "short_names", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(5))
    )
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(table.insert().values(id=1, name="abcde"))
        for statement in (table.insert().values(id=2, name="abcdef"), table.update().values(name="abcdef")):
            with pytest.raises(sa.exc.DataError, match="too long"), engine.begin() as connection:
                connection.execute(statement)
        with engine.connect() as connection:
            assert connection.execute(sa.select(table.c.id, table.c.name)).all() == [(1, "abcde")]
    finally:
        engine.dispose()

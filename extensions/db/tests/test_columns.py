from __future__ import annotations

import datetime

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

"""What code that converts input for a column needs to know of the column's values."""

from __future__ import annotations

import typing as t

from sqlalchemy import ColumnElement
from sqlalchemy.sql import sqltypes


def python_type_of(column: ColumnElement[t.Any]) -> type | None:
    """The Python type of the values of ``column``, or ``None`` when SQLAlchemy knows none.

    SQLAlchemy says it knows none in two ways: ``TypeEngine.python_type``
    raises ``NotImplementedError`` (SQLAlchemy 2.0, and some types in 2.1) or
    answers ``object`` (the default since 2.1), for custom and dialect types.
    Callers then leave the value as it is and let the database decide.

    :param column: a column, or a column expression.
    """
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None
    return None if python_type is object else t.cast(type, python_type)


#: Bits of the signed integers each integer type stores, most specific first; SQLite stores 64 in any column.
_INTEGER_BITS = ((sqltypes.SmallInteger, 16), (sqltypes.BigInteger, 64), (sqltypes.Integer, 32))


def integer_range(column: ColumnElement[t.Any], dialect: str | None = None) -> range:
    """The integers ``column`` can hold, so that a value beyond them is refused before the database raises.

    :param column: an integer column.
    :param dialect: the database's dialect name. ``"sqlite"`` and ``None`` (not known) give signed 64 bits,
        the widest any database stores; others the bits of the column's integer type.
    """
    bits = 64
    if dialect not in (None, "sqlite"):
        bits = next((width for kind, width in _INTEGER_BITS if isinstance(column.type, kind)), 64)
    return range(-(2 ** (bits - 1)), 2 ** (bits - 1))

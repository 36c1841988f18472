"""What code that converts input for a column needs to know of the column's values."""

from __future__ import annotations

import typing as t

from sqlalchemy import ColumnElement


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

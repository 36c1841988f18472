"""What code that converts input for a column needs to know of the column's values."""

from __future__ import annotations

import typing as t

from sqlalchemy import ColumnElement


def python_type_of(column: ColumnElement[t.Any]) -> type | None:
    """The Python type of the values of ``column``, or ``None`` when SQLAlchemy knows none.

    ``TypeEngine.python_type`` raises ``NotImplementedError`` for types that
    have no Python equivalent (``NullType``, many custom and dialect types);
    callers then leave the value as it is and let the database decide.

    :param column: a column, or a column expression.
    """
    try:
        return t.cast(type, column.type.python_type)
    except NotImplementedError:
        return None

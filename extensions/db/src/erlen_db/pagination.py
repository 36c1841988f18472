"""Pagination: by offset (with an optional count) and by keyset (a cursor).

Offset pages are simple and can jump to any page, but the database still
reads every skipped row, so late pages get slower. Keyset pages continue
after the last row seen, through the index of the ordering columns, so every
page costs the same.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import enum
import json
import math
import typing as t
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, inspect, or_, select
from sqlalchemy.orm import Mapper, QueryableAttribute, Session
from sqlalchemy.orm.exc import UnmappedColumnError
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import desc_op

from .columns import python_type_of
from .errors import InvalidCursorError, InvalidPageError  # defined there: the 400 handler needs no pagination
from .session import get_session

_T = t.TypeVar("_T")

#: The largest page size the helpers accept, whatever the caller asks for.
MAX_PER_PAGE = 1000

#: The largest integer databases take (a signed 64 bits): for row offsets and cursor values.
_MAX_INT64 = 2**63 - 1


@dataclass(frozen=True)
class Page(t.Generic[_T]):
    """One page of results by offset.

    :param items: the rows of the page.
    :param page: the page number, from 1.
    :param per_page: the page size.
    :param total: the number of rows in all pages, when counted.
    :param has_next: whether a next page has rows.
    """

    items: list[_T]
    page: int
    per_page: int
    total: int | None
    has_next: bool

    @property
    def has_prev(self) -> bool:
        """Whether there is a previous page."""
        return self.page > 1

    @property
    def pages(self) -> int | None:
        """The number of pages, when the rows were counted."""
        if self.total is None:
            return None
        return max(1, math.ceil(self.total / self.per_page))


def _check_size(page: int, per_page: int) -> None:
    if page < 1:
        raise InvalidPageError(f"page must be 1 or more, not {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidPageError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    if (page - 1) * per_page > _MAX_INT64:
        raise InvalidPageError(f"page {page} is too large")


def paginate(
    statement: Select[t.Any],
    *,
    page: int = 1,
    per_page: int = 20,
    count: bool = True,
    session: Session | None = None,
) -> Page[t.Any]:
    """One page of ``statement``'s rows (its first entity), by offset.

    :param statement: an ordered ``select(Model).order_by(...)``.
    :param page: the page number, from 1.
    :param per_page: rows per page, at most :data:`MAX_PER_PAGE`.
    :param count: also count every row (one more query), for ``total`` and ``pages``.
    :param session: the session; the current app context's by default.
    :raises InvalidPageError: ``page`` or ``per_page`` is out of range (a 400 response in a request).
    """
    _check_size(page, per_page)
    session = session or get_session()
    rows = list(session.execute(statement.limit(per_page + 1).offset((page - 1) * per_page)).scalars())
    total = None
    if count:
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        total = session.execute(counted).scalar_one()
    return Page(items=rows[:per_page], page=page, per_page=per_page, total=total, has_next=len(rows) > per_page)


@dataclass(frozen=True)
class KeysetPage(t.Generic[_T]):
    """One page of results by keyset.

    :param items: the rows of the page.
    :param next_cursor: pass it as ``after`` for the next page; ``None`` on the last page.
    :param per_page: the page size.
    """

    items: list[_T]
    next_cursor: str | None
    per_page: int

    @property
    def has_next(self) -> bool:
        """Whether a next page has rows."""
        return self.next_cursor is not None


def encode_cursor(values: Sequence[t.Any]) -> str:
    """An opaque, URL-safe cursor for the ordering values of a row (JSON types only)."""
    return base64.urlsafe_b64encode(json.dumps(list(values), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[t.Any]:
    """The ordering values of ``cursor``.

    :raises InvalidCursorError: it is not a cursor made for ``length`` ordering columns.
    """
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursorError("the pagination cursor is not valid") from None
    if not isinstance(values, list) or len(values) != length:
        raise InvalidCursorError("the pagination cursor does not fit this listing")
    return values


def paginate_keyset(
    statement: Select[t.Any],
    order_by: Sequence[ColumnElement[t.Any] | QueryableAttribute[t.Any]],
    *,
    after: str | None = None,
    per_page: int = 20,
    session: Session | None = None,
) -> KeysetPage[t.Any]:
    """One page of ``statement``'s rows after the cursor ``after``, in the order ``order_by``.

    Each page is one indexed range query, whatever its position. ``order_by``
    must identify rows uniquely (end it with the primary key), hold no NULLs,
    and its columns must be attributes of the rows (``Post.created``,
    ``Post.id.desc()``)::

        page = paginate_keyset(select(Post), [Post.created.desc(), Post.id.desc()], after=request.args.get("after"))

    :param statement: a ``select(Model)`` without ``order_by``, limit or offset.
    :param order_by: the ordering columns, each optionally ``.desc()``.
    :param after: the ``next_cursor`` of the previous page; ``None`` or ``""`` for the first page (an empty
        ``?after=`` in a query string asks for the first page, as no ``after`` does).
    :param per_page: rows per page, at most :data:`MAX_PER_PAGE`.
    :param session: the session; the current app context's by default.
    :raises InvalidCursorError: ``after`` is not a cursor of this ordering (a 400 response in a request).
    :raises InvalidPageError: ``per_page`` is out of range (a 400 response in a request).
    """
    _check_size(1, per_page)
    columns: list[tuple[ColumnElement[t.Any], bool]] = []
    for item in order_by:
        if isinstance(item, QueryableAttribute):
            columns.append((item.expression, False))
        elif isinstance(item, UnaryExpression) and item.modifier is desc_op:
            columns.append((item.element, True))
        else:
            columns.append((item, False))
    keys = _attribute_keys(statement, [column for column, _ in columns])
    if after:  # "" too: no cursor is ever empty
        values = [
            _from_json(column, value)
            for (column, _), value in zip(columns, decode_cursor(after, len(columns)), strict=True)
        ]
        statement = statement.where(_after(columns, values))
    statement = statement.order_by(*(column.desc() if desc else column.asc() for column, desc in columns))
    session = session or get_session()
    rows = list(session.execute(statement.limit(per_page + 1)).scalars())
    next_cursor = None
    if len(rows) > per_page:
        rows = rows[:per_page]
        last = rows[-1]
        next_cursor = encode_cursor([_json_value(getattr(last, key)) for key in keys])
    return KeysetPage(items=rows, next_cursor=next_cursor, per_page=per_page)


def _after(columns: list[tuple[ColumnElement[t.Any], bool]], values: list[t.Any]) -> ColumnElement[bool]:
    # (a > x) OR (a = x AND b > y) OR ...: works for any mix of directions on every database.
    clauses = []
    for index, (column, desc) in enumerate(columns):
        equal = [columns[i][0] == values[i] for i in range(index)]
        beyond = column < values[index] if desc else column > values[index]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def _attribute_keys(statement: Select[t.Any], columns: list[ColumnElement[t.Any]]) -> list[str]:
    """The names of the ordering columns' attributes on the rows, which may differ from the columns' names.

    ``id: Mapped[int] = mapped_column("book_id")`` is the attribute ``id`` of the column ``book_id``.
    """
    descriptions = statement.column_descriptions
    mapper = inspect(descriptions[0].get("entity"), raiseerr=False) if descriptions else None
    keys = []
    for column in columns:
        key = None
        if isinstance(mapper, Mapper):
            try:
                key = mapper.get_property_by_column(column).key
            except UnmappedColumnError:
                pass
        keys.append(key or _key_of(column))
    return keys


def _key_of(column: ColumnElement[t.Any]) -> str:
    key = getattr(column, "key", None)
    if not isinstance(key, str):
        raise ValueError(f"keyset ordering needs named columns, not {column!r}")
    return key


def _json_value(value: t.Any) -> t.Any:
    """The JSON form of an ordering value, which :func:`_from_json` turns back into it.

    :param value: the value of an ordering column on the last row of a page.
    """
    if value is None:
        raise ValueError("keyset ordering columns must not hold NULL")
    if isinstance(value, enum.Enum):
        # By name, as SQLAlchemy's Enum stores it; before the str check, which a StrEnum member would pass.
        return value.name
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _from_json(column: ColumnElement[t.Any], value: t.Any) -> t.Any:
    """The value of ``column`` that the cursor holds, checked against the column's type.

    A cursor comes from the client: a value of another type would make the
    database fail on the comparison (a 500) or, on SQLite, compare silently wrong.

    :raises InvalidCursorError: the value cannot be one of the column.
    """
    if value is None or not isinstance(value, (str, int, float)):
        raise InvalidCursorError("the pagination cursor is not valid")  # NULL, or a JSON list or object
    python_type = python_type_of(column)
    if python_type is None:
        return value
    try:
        if python_type is bool:
            if isinstance(value, bool):
                return value
        elif python_type is int:
            if isinstance(value, int) and not isinstance(value, bool) and -_MAX_INT64 - 1 <= value <= _MAX_INT64:
                return value
        elif python_type is float:
            if not isinstance(value, bool):
                return float(value)
        elif python_type is str:
            if isinstance(value, str):
                return value
        elif python_type in (datetime.datetime, datetime.date, datetime.time):
            if isinstance(value, str):
                return python_type.fromisoformat(value)
        elif python_type is decimal.Decimal:
            if not isinstance(value, bool):
                return decimal.Decimal(str(value))
        elif python_type is uuid.UUID:
            if isinstance(value, str):
                return uuid.UUID(value)
        elif isinstance(python_type, type) and issubclass(python_type, enum.Enum):
            if isinstance(value, str) and value in python_type.__members__:
                return python_type[value]
        else:
            return value
    except (ValueError, decimal.InvalidOperation):
        pass
    raise InvalidCursorError("the pagination cursor does not fit this listing")

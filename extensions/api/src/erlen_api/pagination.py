"""Keyset pagination of API lists: opaque cursors, both directions, ``Link`` headers and a cheap estimated total.

A page continues after (or before) the last row a client saw, through the
index of the sort columns, so every page costs the same whatever its
position. The cursor is opaque to clients: base64 of the sort it was made
for, its direction and the row's sort values, which are validated again
against the columns' types when it comes back (a cursor is client input).

The total of a list is an estimate, given only where it is cheap: on
PostgreSQL the planner's estimate of the rows the filtered query returns
(``EXPLAIN``, no execution); on other databases none (``null``), as counting
reads every row.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement, Executable

from .problems import PROBLEM_TYPES, Problem


@dataclass(frozen=True)
class SortKey:
    """One column of a list's order.

    :param key: the attribute's name.
    :param column: the column.
    :param descending: whether it sorts from the largest value.
    :param annotation: the type of its values, with the column's limits, to check a cursor's.
    """

    key: str
    column: sa.ColumnElement[t.Any]
    descending: bool
    annotation: t.Any

    @functools.cached_property
    def values(self) -> TypeAdapter[t.Any]:
        """The validator of a cursor's value for this key, built once per key: building one costs some 200 times
        what using it does."""
        return TypeAdapter(self.annotation)


@dataclass(frozen=True)
class Cursor:
    """A position in a list: the sort it belongs to, its direction, and the sort values of a row.

    :param sort: the ``sort`` parameter it was made for.
    :param before: ``True`` for the page before the row, ``False`` for the page after it.
    :param values: the row's sort values, as JSON.
    """

    sort: str
    before: bool
    values: list[t.Any]

    def encode(self) -> str:
        """The cursor as an opaque URL-safe string."""
        raw = json.dumps([self.sort, int(self.before), self.values], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid_cursor(detail: str) -> Problem:
    """A 422 naming the ``cursor`` parameter.

    :param detail: what is wrong with it.
    """
    return Problem(
        422,
        "The request has 1 invalid input.",
        type=PROBLEM_TYPES["validation"],
        title="Invalid request",
        errors=[{"detail": detail, "location": "query", "parameter": "cursor", "type": "cursor_invalid"}],
    )


def decode_cursor(text: str, sort: str, keys: Sequence[SortKey]) -> tuple[bool, list[t.Any]]:
    """The direction and the sort values of the cursor ``text``, checked against the list's order.

    :param text: the ``cursor`` parameter.
    :param sort: the request's ``sort``.
    :param keys: the list's order.
    :raises Problem: 422 for a cursor that is not one, or that was made for another order.
    """
    try:
        decoded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    # RecursionError: a forged cursor of arrays nested a thousand deep, which the json module reads recursively.
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _invalid_cursor("Not a cursor of this list: pass on the one a Link header gave.") from None
    if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[2], list)):
        raise _invalid_cursor("Not a cursor of this list: pass on the one a Link header gave.")
    made_for, before, values = decoded
    if made_for != sort:
        raise _invalid_cursor(f"The cursor was made for sort={made_for!r}; this request sorts by {sort!r}.")
    if before not in (0, 1) or len(values) != len(keys):
        raise _invalid_cursor("Not a cursor of this list: pass on the one a Link header gave.")
    checked: list[t.Any] = []
    for key, value in zip(keys, values, strict=True):
        if value is None or isinstance(value, (list, dict)):
            raise _invalid_cursor("Not a cursor of this list: pass on the one a Link header gave.")
        try:
            checked.append(key.values.validate_python(value, strict=False))
        except (ValidationError, TypeError):
            raise _invalid_cursor("Not a cursor of this list: pass on the one a Link header gave.") from None
    return bool(before), checked


def _beyond(keys: Sequence[SortKey], values: Sequence[t.Any], *, before: bool) -> sa.ColumnElement[bool]:
    """The rows after (or before) the row with sort values ``values``: ``(a > x) OR (a = x AND b > y) ...``.

    :param keys: the list's order.
    :param values: the row's sort values.
    :param before: rows before it rather than after.
    """
    clauses = []
    for index, key in enumerate(keys):
        equal = [keys[i].column == values[i] for i in range(index)]
        forward = key.descending == before  # after a row of a descending key: smaller values
        beyond = key.column > values[index] if forward else key.column < values[index]
        clauses.append(sa.and_(*equal, beyond))
    return sa.or_(*clauses)


@dataclass(frozen=True)
class KeysetPage:
    """A page of a list.

    :param rows: its rows, in the list's order.
    :param next_cursor: the cursor of the page after it, or ``None`` on the last page.
    :param prev_cursor: the cursor of the page before it, or ``None`` on the first page.
    """

    rows: list[t.Any]
    next_cursor: str | None
    prev_cursor: str | None


def keyset_page(
    session: Session,
    statement: sa.Select[t.Any],
    keys: Sequence[SortKey],
    *,
    sort: str,
    cursor: str | None,
    limit: int,
) -> KeysetPage:
    """One page of ``statement``'s rows in the order ``keys``, from ``cursor``.

    :param session: the session.
    :param statement: ``select(Model)``, filtered, without order or limit.
    :param keys: the order; its last key is the primary key, so that it identifies rows.
    :param sort: the ``sort`` parameter, recorded in the cursors.
    :param cursor: the request's ``cursor``, or ``None`` for the first page.
    :param limit: the page size.
    :raises Problem: 422 for an invalid cursor.
    """
    before = False
    if cursor:
        before, values = decode_cursor(cursor, sort, keys)
        statement = statement.where(_beyond(keys, values, before=before))
    order = [(key.column.asc() if key.descending == before else key.column.desc()) for key in keys]
    rows = list(session.scalars(statement.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if before:
        rows.reverse()

    def at(row: t.Any, *, page_before: bool) -> str:
        values = [to_jsonable_python(getattr(row, key.key)) for key in keys]
        return Cursor(sort, page_before, values).encode()

    next_cursor = prev_cursor = None
    if rows:
        # Going back, the page after is the one the client came from; going forward, the one before is.
        if before or more:
            next_cursor = at(rows[-1], page_before=False)
        if more if before else bool(cursor):
            prev_cursor = at(rows[0], page_before=True)
    return KeysetPage(rows=rows, next_cursor=next_cursor, prev_cursor=prev_cursor)


def link_header(base_url: str, arguments: Mapping[str, list[str]], page: KeysetPage) -> str | None:
    """The ``Link`` header of a page (RFC 8288): ``rel="next"`` and ``rel="prev"``, keeping the other parameters.

    :param base_url: the list's URL, without query string.
    :param arguments: the request's query parameters.
    :param page: the page.
    """
    links = []
    for rel, cursor in (("next", page.next_cursor), ("prev", page.prev_cursor)):
        if cursor is None:
            continue
        kept = [(name, value) for name, values in arguments.items() if name != "cursor" for value in values]
        links.append(f'<{base_url}?{urlencode([*kept, ("cursor", cursor)])}>; rel="{rel}"')
    return ", ".join(links) or None


class Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON)`` of a statement, compiled with its bound parameters as the statement would be.

    :param statement: the statement to plan.
    """

    inherit_cache = False

    def __init__(self, statement: sa.Select[t.Any]) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _compile_explain(element: Explain, compiler: t.Any, **options: t.Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.statement, **options))


def estimated_total(session: Session, statement: sa.Select[t.Any]) -> int | None:
    """The planner's estimate of the number of rows of ``statement``, where it is cheap; ``None`` elsewhere.

    On PostgreSQL, ``EXPLAIN (FORMAT JSON)`` of the filtered query: planned, not executed, so it costs the same
    for ten rows or ten million, and is exact on an analysed table without filters. SQLite has no such
    estimate: ``None``.

    :param session: the session.
    :param statement: the filtered ``select(Model)``, without order or limit.
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    plan = session.execute(Explain(statement)).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def page_arguments(arguments: Mapping[str, t.Any]) -> dict[str, list[str]]:
    """The query parameters of a request as lists of strings (``request.args.lists()``), for :func:`link_header`.

    :param arguments: ``request.args``.
    """
    lists = getattr(arguments, "lists", None)
    if lists is not None:
        return {name: list(values) for name, values in lists()}
    return {name: [str(value)] for name, value in arguments.items()}

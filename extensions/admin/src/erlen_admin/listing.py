"""The list page's query: sort, search and filters from whitelists, keyset pagination in both directions.

Every page is one range query through the index of the sort column
(``WHERE (sort, id) > (:last_sort, :last_id) ORDER BY sort, id LIMIT n + 1``):
no ``OFFSET`` and no ``COUNT(*)``, whatever the page. Parameters never reach
SQL as text: sort keys and filter names are looked up in the view's
whitelists, values are bound parameters.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import typing as t
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, load_only

from erlen_db import InvalidCursorError, decode_cursor, encode_cursor, python_type_of, search_condition

from .search import search_indexed
from .views.model_view import ModelView, coerce_value

#: The longest search text accepted.
MAX_SEARCH_LENGTH = 200
#: The parameter prefix of filters: ``?f_status=draft``.
FILTER_PREFIX = "f_"


@dataclass
class ListingParams:
    """What a list page was asked for, checked against the view's whitelists.

    :param sort: the sort column attribute.
    :param descending: sort in descending order.
    :param search: the search text, or ``""``.
    :param filters: filter values by column attribute, already converted.
    :param raw_filters: the same values as given, for links and forms.
    :param per_page: the page size (one of the view's sizes).
    :param after: the cursor of the row before this page (going forward).
    :param before: the cursor of the row after this page (going back).
    :param page: the page number shown to people (not used in the query).
    :param count: whether the exact count was asked for.
    :param errors: messages about parameters that were ignored.
    :param unapplied: the same parameters, each as what could not be applied and why (``"the sort 'notes'
        (that column cannot be sorted)"``), for the export, which refuses them rather than ignoring them.
    :param search_indexed: whether the search goes through the searched columns' index (set by :func:`fetch`);
        without it the search reads every row, and the page says so.
    """

    sort: str
    descending: bool
    search: str = ""
    filters: dict[str, t.Any] = field(default_factory=dict)
    raw_filters: dict[str, str] = field(default_factory=dict)
    per_page: int = 20
    after: str | None = None
    before: str | None = None
    page: int = 1
    count: bool = False
    errors: list[str] = field(default_factory=list)
    unapplied: list[str] = field(default_factory=list)
    search_indexed: bool = False

    @property
    def sort_param(self) -> str:
        """The sort as a URL parameter: ``name`` or ``-name``."""
        return f"-{self.sort}" if self.descending else self.sort

    @property
    def filtered(self) -> bool:
        """Whether a search or a filter narrows the rows."""
        return bool(self.search or self.filters)

    def query_args(self, **changes: t.Any) -> dict[str, t.Any]:
        """The URL parameters of this listing (without cursors), with ``changes``; ``None`` drops a key."""
        args: dict[str, t.Any] = {"sort": self.sort_param, "per_page": self.per_page}
        if self.search:
            args["q"] = self.search
        for key, value in self.raw_filters.items():
            args[FILTER_PREFIX + key] = value
        args.update(changes)
        return {key: value for key, value in args.items() if value is not None}


@dataclass
class ListingPage:
    """One list page.

    :param items: the objects of the page, in order.
    :param next_cursor: the ``after`` cursor of the next page, or ``None``.
    :param prev_cursor: the ``before`` cursor of the previous page, or ``None``.
    """

    items: list[t.Any]
    next_cursor: str | None
    prev_cursor: str | None


def parse(view: ModelView, args: Mapping[str, str], dialect: str | None = None) -> ListingParams:
    """Read a list page's parameters; unknown or malformed values are ignored, with a message.

    :param view: the model view.
    :param args: the request's query parameters.
    :param dialect: the database's dialect name, so filter values it cannot store are refused here.
    """
    default = view.default_sort
    params = ListingParams(sort=default.lstrip("-"), descending=default.startswith("-"), per_page=view.page_sizes[0])
    sort = args.get("sort", "")
    if sort:
        key = sort.removeprefix("-")
        if key in view.sortable:
            params.sort, params.descending = key, sort.startswith("-")
        else:
            params.errors.append("That column cannot be sorted; the default order is used.")
            params.unapplied.append(f"the sort {key[:50]!r} (that column cannot be sorted)")
    params.search = (args.get("q") or "").strip()[:MAX_SEARCH_LENGTH].replace("\x00", "") if view.search else ""
    for key in [*view.filter_keys, *view.query_filters]:
        raw = args.get(FILTER_PREFIX + key, "")
        if raw == "":
            continue
        try:
            params.filters[key] = view.coerce_filter(key, raw, dialect)
        except (ValueError, KeyError, TypeError):
            params.errors.append(
                f"The filter {view.filter_label(key)!r} was ignored: {raw[:50]!r} is not a valid value."
            )
            params.unapplied.append(f"the filter {view.filter_label(key)!r} ({raw[:50]!r} is not a valid value)")
            continue
        params.raw_filters[key] = raw
    known = {FILTER_PREFIX + key for key in [*view.filter_keys, *view.query_filters]}
    for name in args:
        if name.startswith(FILTER_PREFIX) and name not in known:
            params.errors.append(f"This list has no filter {name[:50]!r}; it was ignored.")
            params.unapplied.append(f"the filter {name[:50]!r} (this list has no such filter)")
    try:
        size = int(args.get("per_page", ""))
    except ValueError:
        size = 0
    if size in view.page_sizes:
        params.per_page = size
    params.after = args.get("after") or None
    params.before = None if params.after else (args.get("before") or None)
    try:
        params.page = max(1, min(int(args.get("page", "1")), 10**9))
    except ValueError:
        params.page = 1
    if not (params.after or params.before):
        params.page = 1
    params.count = args.get("count") == "1"
    return params


def filtered_statement(view: ModelView, params: ListingParams, dialect: str = "", *, user: t.Any) -> sa.Select[t.Any]:
    """``SELECT`` of the view's model narrowed by its scope, the search and filters (unordered).

    :param view: the model view.
    :param params: the list's parameters; the search goes through the index when ``params.search_indexed``.
    :param dialect: the database's dialect name (the search is written for it).
    :param user: the user the list is for, given to the view's ``scope``.
    """
    statement: sa.Select[t.Any] = view.scoped(sa.select(view.model), user)
    if params.search:
        condition = search_condition(
            [view.columns[key] for key in view.search],
            params.search,
            dialect=dialect,
            key=view.pk_column,
            indexed=params.search_indexed,
        )
        statement = statement.where(condition)
    for key, value in params.filters.items():
        query_filter = view.query_filters.get(key)
        if query_filter is not None:
            statement = query_filter.apply(statement, value)
        else:
            statement = statement.where(view.attribute(key) == value)
    return statement


def order_columns(view: ModelView, params: ListingParams) -> list[t.Any]:
    """The keyset ordering: the sort column, then the primary key (unless it is the sort column)."""
    keys = [params.sort] if params.sort == view.pk_key else [params.sort, view.pk_key]
    return [view.attribute(key) for key in keys]


def _json(value: t.Any) -> t.Any:
    if value is None:
        raise ValueError("keyset ordering columns must not hold NULL")
    if isinstance(value, enum.Enum):
        return value.name  # what coerce_value reads back
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _from_json(column: t.Any, value: t.Any, dialect: str | None = None) -> t.Any:
    """A cursor's value for ``column``, checked like a filter value: a cursor is input, and a value of the
    wrong type or beyond the column's range would make the database raise (a 500) instead of page 1."""
    python_type = python_type_of(column)
    try:
        if isinstance(column.type, sa.Boolean) or python_type is bool:
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(value)
        if python_type is None:
            return value
        if python_type in (int, float) and not isinstance(column.type, sa.Enum):
            if isinstance(value, str) or (python_type is int and not isinstance(value, int)):
                raise ValueError(value)
            return coerce_value(column, repr(value), dialect)
        if not isinstance(value, str) and python_type is not decimal.Decimal:
            raise ValueError(value)
        return coerce_value(column, str(value), dialect)
    except (ValueError, KeyError, TypeError):
        raise InvalidCursorError("the pagination cursor is not valid") from None


def cursor_of(columns: list[t.Any], obj: t.Any) -> str:
    """The cursor of ``obj``'s position in the ordering ``columns``."""
    return encode_cursor([_json(getattr(obj, column.key)) for column in columns])


#: The bound parameters of a cursor's values, by position in the ordering.
_CURSOR_PARAMETER = "erlen_admin_cursor_{}"


def _beyond(columns: list[t.Any], greater: bool) -> sa.ColumnElement[bool]:
    """Rows after (or before) a cursor's values in the ordering ``columns``.

    The values are bound parameters named by :data:`_CURSOR_PARAMETER`, given when the statement runs, so one
    statement serves every page of an ordering. Each is bound with its column's type: a tuple's values are
    otherwise untyped, and an Enum member would reach the driver as is.
    """
    bound = [sa.bindparam(_CURSOR_PARAMETER.format(index), type_=column.type) for index, column in enumerate(columns)]
    if len(columns) == 1:
        single: sa.ColumnElement[bool] = columns[0] > bound[0] if greater else columns[0] < bound[0]
        return single
    left, right = sa.tuple_(*columns), sa.tuple_(*bound)
    return left > right if greater else left < right


#: The statements of unfiltered pages, by view, then by what shapes them; built once each: building a
#: statement, its options and its cache key costs more than running it on a small page.
_STATEMENTS: weakref.WeakKeyDictionary[ModelView, dict[tuple[t.Any, ...], sa.Select[t.Any]]] = (
    weakref.WeakKeyDictionary()
)


def _page_statement(
    view: ModelView,
    params: ListingParams,
    dialect: str,
    columns: list[t.Any],
    ascending: bool,
    keyset: bool,
    load: t.Sequence[str] | None,
    user: t.Any,
) -> sa.Select[t.Any]:
    """The page's ``SELECT``: scoped, filtered, after the cursor's bound values (when ``keyset``), ordered and limited.

    :param view: the model view.
    :param params: the list's parameters.
    :param dialect: the database's dialect name.
    :param columns: the ordering columns (:func:`order_columns`).
    :param ascending: the direction the rows are read in.
    :param keyset: whether the page starts after a cursor.
    :param load: the column attributes to load besides the key and ordering ones; ``None``: all.
    :param user: the user the page is for, given to the view's ``scope``.
    """
    shape = None
    if not params.filtered and view.scope is None:
        # Without a search, filter or scope (which depends on the user), nothing but these shapes the statement.
        shape = (params.sort, ascending, keyset, params.per_page, None if load is None else tuple(load))
        found = _STATEMENTS.get(view, {}).get(shape)
        if found is not None:
            return found
    statement = filtered_statement(view, params, dialect, user=user)
    if keyset:
        statement = statement.where(_beyond(columns, greater=ascending))
    statement = statement.order_by(*(column.asc() if ascending else column.desc() for column in columns))
    if load is not None:
        keys = dict.fromkeys([view.pk_key, *(column.key for column in columns), *load])
        statement = statement.options(load_only(*(view.attribute(key) for key in keys)))
    statement = statement.limit(params.per_page + 1)
    if shape is not None:
        _STATEMENTS.setdefault(view, {})[shape] = statement
    return statement


def fetch(
    view: ModelView,
    params: ListingParams,
    session: Session,
    load: t.Sequence[str] | None = None,
    *,
    user: t.Any = None,
) -> ListingPage:
    """Run the page's query: one ``SELECT ... WHERE ... ORDER BY ... LIMIT n + 1``.

    :param view: the model view.
    :param params: the list's parameters.
    :param session: the database session.
    :param user: the user the page is for, given to the view's ``scope`` (a cursor only says where a page starts:
        the rows after it are read through the scope too). Only a view without a scope may be read without one.
    :param load: the column attributes the caller reads (the listed ones): only they, the primary key and the
        ordering columns are loaded, so a wide row's other columns (a long text) are not read nor sent.
        Reading another attribute of the objects loads it with a query of its own. ``None`` loads every column.
    :raises InvalidCursorError: a cursor that does not fit this ordering.
    """
    columns = order_columns(view, params)
    dialect = session.get_bind().dialect.name
    if params.search:
        params.search_indexed = search_indexed(view, session)
    cursor = params.after or params.before
    backwards = params.before is not None and params.after is None
    # Going back reads the previous rows in the reverse order, then flips them.
    ascending = params.descending == backwards
    values: dict[str, t.Any] = {}
    if cursor is not None:
        for index, (column, value) in enumerate(zip(columns, decode_cursor(cursor, len(columns)), strict=True)):
            values[_CURSOR_PARAMETER.format(index)] = _from_json(column, value, dialect)
    statement = _page_statement(view, params, dialect, columns, ascending, cursor is not None, load, user)
    rows = list(session.execute(statement, values).scalars())
    more = len(rows) > params.per_page
    rows = rows[: params.per_page]
    if backwards:
        rows.reverse()
        has_prev, has_next = more, True
    else:
        has_prev, has_next = cursor is not None, more
    next_cursor = cursor_of(columns, rows[-1]) if rows and has_next else None
    prev_cursor = cursor_of(columns, rows[0]) if rows and has_prev else None
    return ListingPage(items=rows, next_cursor=next_cursor, prev_cursor=prev_cursor)


def whole_list_count(params: ListingParams, page: ListingPage) -> int | None:
    """How many rows the list has when ``page`` holds them all, else ``None``.

    A page reached without a cursor and with no page after it is the whole list (read through the view's
    scope, filters and search, like any page): its rows are the exact count, so the page needs neither an
    estimate (on PostgreSQL, an ``EXPLAIN`` in a transaction of its own) nor a ``count(*)``. A page after a
    cursor may have rows before it, whatever its ``page`` number says (that number comes from the URL).

    :param params: the list's parameters.
    :param page: the page :func:`fetch` read for them.
    """
    if params.after is not None or params.before is not None or page.next_cursor is not None:
        return None
    return len(page.items)


def related_text(value: t.Any, labels: Mapping[t.Any, str]) -> str:
    """How a list shows foreign-key ``value``: its row's label and key (``Ada (#3)``), or the key alone (a row
    without a label, or outside the related view's scope: see :mod:`erlen_admin.related`).

    :param value: the foreign key's value (not ``None``).
    :param labels: labels by key, from :func:`related_labels`.
    """
    label = labels.get(value, str(value))
    return label if label == str(value) else f"{label} (#{value})"


def related_labels(view: ModelView, key: str, items: list[t.Any], session: Session, *, user: t.Any) -> dict[t.Any, str]:
    """The labels of the rows that foreign key ``key`` of ``items`` refers to: one ``IN`` query, at most a page.

    :param view: the model view holding the foreign key.
    :param key: the foreign key's column attribute.
    :param items: the objects shown.
    :param session: the request's session.
    :param user: the user they are shown to: a related row outside its admin view's scope for them has no label
        here (it is shown as its bare key, like a row that does not exist).
    """
    from erlen_forms import label_column

    from .related import rows_filter

    remote = view.foreign_key(key)
    if remote is None:
        return {}
    values = {getattr(item, key) for item in items} - {None}
    if not values:
        return {}
    label = label_column(remote.table)
    narrowing = rows_filter(remote.table, user)
    if label is remote and narrowing is None:
        return {value: str(value) for value in values}
    statement = sa.select(remote, label)
    if narrowing is not None:
        statement = narrowing(statement)
    rows = session.execute(statement.where(remote.in_(values)))
    return {value: ("" if name is None else str(name)) for value, name in rows}

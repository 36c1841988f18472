"""How many rows a list has: an estimate where the database gives one cheaply, an exact count on request.

No list page counts by default. PostgreSQL keeps an estimate of each table's
rows in its statistics (``pg_class.reltuples``), and the planner estimates
filtered queries (``EXPLAIN``); SQLite has one after ``ANALYZE``
(``sqlite_stat1``). Elsewhere, and when no statistics exist, there is no estimate;
the dashboard then counts a table exactly if it is small (:func:`count_if_small`,
which reads at most one row more than :data:`SMALL_TABLE_ROWS`, whatever the
table's size), as a new app's tables are before the database first analyses them.
"""

from __future__ import annotations

import json
import time
import typing as t
from collections.abc import MutableMapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: How long the estimate of a whole table is kept: it comes from statistics that change only when the database
#: analyses the table again, and sparing the queries keeps unfiltered list pages to one query for their rows.
ESTIMATE_SECONDS = 60.0
#: Up to how many rows a table without statistics is counted exactly (:func:`count_if_small`).
SMALL_TABLE_ROWS = 1000
#: The key of ``app.extensions`` under which the list pages keep the estimates, by table.
CACHE_KEY = "admin.row_estimates"


def estimate(
    session: Session,
    table: sa.Table,
    statement: sa.Select[t.Any] | None = None,
    cache: MutableMapping[str, tuple[int | None, float]] | None = None,
) -> int | None:
    """An estimate of the rows of ``table`` (or of ``statement``, filtered), or ``None``.

    :param session: the session.
    :param table: the table of the list.
    :param statement: the filtered ``SELECT``; ``None`` for the whole table.
    :param cache: where the whole table's estimate is kept for :data:`ESTIMATE_SECONDS` (filtered ones are not
        kept); ``None``: asked every time.
    """
    if statement is None and cache is not None:
        now = time.monotonic()
        known = cache.get(table.fullname)
        if known is not None and now - known[1] < ESTIMATE_SECONDS:
            return known[0]
        found = estimate(session, table)
        cache[table.fullname] = (found, now)
        return found
    bind = session.get_bind()
    name = bind.dialect.name
    try:
        if name == "postgresql":
            with session.begin_nested():
                return _postgresql(session, table, statement)
        if name == "sqlite" and statement is None:
            return _sqlite(session, table)
    except sa.exc.DBAPIError:
        return None
    return None


def _postgresql(session: Session, table: sa.Table, statement: sa.Select[t.Any] | None) -> int | None:
    if statement is None:
        qualified = f"{table.schema}.{table.name}" if table.schema else table.name
        found = session.execute(
            sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:name)"), {"name": qualified}
        ).scalar()
        # -1: never analysed (PostgreSQL 14+); 0 may be "never analysed" before 14.
        return None if found is None or found < 0 else int(found)
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    if not plan:
        return None
    rows = plan[0]["Plan"]["Plan Rows"]
    return int(rows)


def _sqlite(session: Session, table: sa.Table) -> int | None:
    exists = session.execute(sa.text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"))
    if exists.first() is None:
        return None
    stat = session.execute(
        sa.text("SELECT stat FROM sqlite_stat1 WHERE tbl = :name ORDER BY idx IS NULL DESC LIMIT 1"),
        {"name": table.name},
    ).scalar()
    if not stat:
        return None
    try:
        return int(str(stat).split()[0])
    except ValueError:
        return None


def exact(session: Session, statement: sa.Select[t.Any]) -> int:
    """The exact number of rows of ``statement``: ``SELECT count(*)``, which reads them all. Only on request."""
    counted = sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    return int(session.execute(counted).scalar_one())


def count_if_small(
    session: Session, table: sa.Table, limit: int = SMALL_TABLE_ROWS, statement: sa.Select[t.Any] | None = None
) -> int | None:
    """The exact number of rows of ``table`` (or of ``statement``) if it has at most ``limit``; ``None`` if more.

    ``count(*)`` over a subquery with ``LIMIT limit + 1``: it reads at most ``limit + 1`` rows, so its cost does
    not grow with the table.

    :param session: the session.
    :param table: the table to count.
    :param limit: the most rows counted.
    :param statement: a ``SELECT`` of some of ``table``'s rows (a model view's scope) to count instead of them all.
    :raises sqlalchemy.exc.DBAPIError: the database refused the query (the table is missing, say); on
        PostgreSQL the session's transaction is left usable.
    """
    rows = sa.select(sa.literal(1)).select_from(table) if statement is None else statement.order_by(None)
    capped = rows.limit(limit + 1).subquery()
    counted = sa.select(sa.func.count()).select_from(capped)
    if session.get_bind().dialect.name == "postgresql":
        with session.begin_nested():
            found = int(session.execute(counted).scalar_one())
    else:
        found = int(session.execute(counted).scalar_one())
    return found if found <= limit else None

"""CSV export of a list, streamed in keyset batches: memory stays flat whatever the table's size.

The batches are read in one snapshot of the database (:func:`one_snapshot`): a row that another user inserts,
deletes or changes while the export runs is exported as it was when the export began, once, or not at all if it
did not exist then; never twice (a row renamed past the batch being read) nor missed (one renamed back).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import typing as t
from collections.abc import Iterator

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from . import listing
from .views.model_view import ModelView

#: Rows fetched per query while exporting.
BATCH_SIZE = 1000

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A plain number, which a spreadsheet reads as one and never runs: ``-12``, ``+3.5``, ``-1.2e-3``.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def cell(text: str) -> str:
    """A CSV cell that spreadsheets do not run as a formula (CSV injection).

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``, except a plain
    number (``-12``, ``+3.5``), which stays a number the spreadsheet can add up.
    """
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def rows(
    view: ModelView, params: listing.ListingParams, session: Session, *, user: t.Any, batch: int = BATCH_SIZE
) -> Iterator[str]:
    """The lines of the CSV export of the listing ``params`` (search, filters and sort; every page).

    The columns are the view's ``export_columns``, as the list shows them: foreign keys as their rows'
    labels with the key (``Ada (#3)``), values through the view's formatters.

    :param view: the model view.
    :param params: the listing; its cursors and page size are ignored.
    :param session: the session to read with.
    :param user: the user exporting, given to the view's ``scope``: the file holds the rows they may see.
    :param batch: rows per query.
    """
    keys = view.export_columns
    related = [key for key in keys if view.foreign_key(key) is not None]
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([view.label(key) for key in keys])
    yield flush()
    page_params = listing.ListingParams(
        sort=params.sort,
        descending=params.descending,
        search=params.search,
        filters=params.filters,
        per_page=batch,
    )
    with one_snapshot(session):
        while True:
            page = listing.fetch(view, page_params, session, load=keys, user=user)
            # Foreign keys as the list shows them: one IN query per column and batch, like a list page.
            labels = {key: listing.related_labels(view, key, page.items, session, user=user) for key in related}
            for obj in page.items:
                writer.writerow([cell(_text(view, key, getattr(obj, key), labels.get(key))) for key in keys])
            yield flush()
            session.expunge_all()  # the batch is written: let it go
            if page.next_cursor is None:
                return
            page_params.after = page.next_cursor


@contextlib.contextmanager
def one_snapshot(session: Session) -> Iterator[bool]:
    """Run the block's reads of ``session`` in one read-only transaction that sees one snapshot of the database.

    Each batch of an export is a query of its own; read one after the other as the request's statements are
    (erlen-db's lone reads: each ``SELECT`` alone, seeing the latest commit), a row another user commits in
    between could be exported twice or not at all. Here the request's transaction is rolled back first (an
    export changes nothing; what the request left uncommitted would be rolled back at its end anyway), then a
    transaction of its own is begun on the request's connection:

    - PostgreSQL (psycopg): ``REPEATABLE READ, READ ONLY``: every statement sees the snapshot taken by the
      first; a read-only transaction never fails to serialize, waits for no lock but a table's, and is not held
      back as ``SERIALIZABLE READ ONLY DEFERRABLE`` is until a safe snapshot is free (an export of a busy
      table would wait on every writer);
    - SQLite: a plain (deferred) ``BEGIN`` sent on the driver, whatever ``DB_SQLITE_BEGIN`` says: a read
      transaction, which in the WAL journal sees one snapshot from its first read while other connections go
      on writing (``BEGIN IMMEDIATE`` would hold the file's write lock, and every writer would wait for the
      whole export).

    The transaction is rolled back when the block ends (or the client goes away). Inside a transaction begun
    elsewhere (a savepoint, as under erlen-db's ``db_session`` test fixture), and on other databases, the reads
    run as they are.

    :param session: the request's session.
    :returns: (as the block's value) whether the snapshot was begun here.
    """
    session.rollback()
    began = _begin_snapshot(session.connection())
    try:
        yield began
    finally:
        if began:
            session.rollback()  # read only: nothing to keep; ends the snapshot


def _begin_snapshot(connection: Connection) -> bool:
    """Begin :func:`one_snapshot`'s read-only transaction on ``connection``, which has just begun one that has
    run nothing; ``False`` when it cannot (see :func:`one_snapshot`).

    :param connection: the session's connection.
    """
    if connection.in_nested_transaction():
        return False  # a savepoint in a transaction begun elsewhere: its snapshot, if any, is that one's
    driver: t.Any = connection.connection.driver_connection
    dialect = connection.dialect.name
    if dialect == "postgresql":
        status = getattr(getattr(driver, "info", None), "transaction_status", None)
        if status is None or int(status) != 0:  # libpq's PQTRANS_IDLE, for psycopg and psycopg2
            return False
        if getattr(driver, "autocommit", False):
            # Under the AUTOCOMMIT isolation level each statement would commit alone: a transaction of its own.
            connection.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            # The driver sends BEGIN before it; SET TRANSACTION must be the transaction's first statement.
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return True
    if dialect == "sqlite" and hasattr(driver, "in_transaction"):
        if driver.in_transaction:
            # Without lone reads the BEGIN (or BEGIN IMMEDIATE) was sent as the transaction began, and has run
            # nothing: begun again as a plain read transaction, so the export holds no write lock.
            driver.execute("ROLLBACK")
        driver.execute("BEGIN")
        return True
    return False


def _text(view: ModelView, key: str, value: t.Any, labels: dict[t.Any, str] | None) -> str:
    if value is None:
        return ""
    if labels is not None:
        return listing.related_text(value, labels)
    return view.display(key, value)

"""CSV export of a list, streamed in keyset batches: memory stays flat whatever the table's size."""

from __future__ import annotations

import csv
import io
import re
import typing as t
from collections.abc import Iterator

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


def _text(view: ModelView, key: str, value: t.Any, labels: dict[t.Any, str] | None) -> str:
    if value is None:
        return ""
    if labels is not None:
        return listing.related_text(value, labels)
    return view.display(key, value)

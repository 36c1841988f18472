"""Whether a view's searched columns are searched through the index their plugin's migration creates.

The owning plugin creates the index with :func:`erlen_db.create_search_index`
(FTS5 trigrams on SQLite, ``pg_trgm`` on PostgreSQL). Without it a search reads
every row: the list page still shows the right rows and says that it scanned,
and ``erlen check`` names the columns (``admin.W002``).
"""

from __future__ import annotations

import time
import typing as t

from flask import Flask, current_app
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from erlen_db import search_index_columns

from .views.model_view import ModelView

#: The key of ``app.extensions`` under which the answers are kept, by view slug.
CACHE_KEY = "admin.search_indexes"
#: How long a missing index is believed missing before the database is asked again (a migration may add it).
RECHECK_SECONDS = 30.0


def unindexed_columns(view: ModelView, connection: Connection) -> list[str]:
    """The searched columns of ``view`` that no search index covers in ``connection``'s database.

    :param view: the model view.
    :param connection: a connection to the app's database.
    """
    covered = search_index_columns(connection, view.table.name)
    names = [view.columns[key].name for key in view.search]
    return [key for key, name in zip(view.search, names, strict=True) if name not in covered]


def search_indexed(view: ModelView, session: Session, app: Flask | None = None) -> bool:
    """Whether every searched column of ``view`` is searched through an index; cached per app and view.

    A present index is remembered for the life of the process; a missing one for :data:`RECHECK_SECONDS`.

    :param view: the model view.
    :param session: the request's session (its connection is asked).
    :param app: the app; the current one by default.
    """
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    cache: dict[str, tuple[bool, float]] = app.extensions.setdefault(CACHE_KEY, {})
    now = time.monotonic()
    known = cache.get(view.slug)
    if known is not None and (known[0] or now - known[1] < RECHECK_SECONDS):
        return known[0]
    indexed = not unindexed_columns(view, session.connection())
    cache[view.slug] = (indexed, now)
    return indexed


__all__ = ["CACHE_KEY", "RECHECK_SECONDS", "search_indexed", "unindexed_columns"]

"""erlen-db: SQLAlchemy 2 databases for Erlen apps and plugins."""

from __future__ import annotations

import typing as t

import erlen

from .columns import integer_range, python_type_of
from .database import APP_OWNER, OWNER_INFO_KEY, Database, database_of
from .errors import (
    RETRY_AFTER,
    DatabaseConfigError,
    InvalidCursorError,
    InvalidPageError,
    TableConflictError,
    database_error_message,
    describe_error,
    found_unavailable,
    is_sqlite_lock,
    is_unavailable,
    note_unavailable,
    unless_unavailable,
)
from .helpers import first_or_404, get, get_or_404
from .isolation import rolled_back
from .model import NAMING_CONVENTION, Model, naming_metadata
from .queries import QueryCounter, count_queries, max_queries
from .session import get_connection, get_session, session
from .timezones import NaiveDateTimeError, UTCDateTime, install_sqlite_aware_datetimes
from .urls import is_sqlite_memory
from .urls import redact as redact_url

if t.TYPE_CHECKING:
    from .cli import reported_errors
    from .pagination import KeysetPage, Page, decode_cursor, encode_cursor, paginate, paginate_keyset
    from .search import (
        create_search_index,
        drop_search_index,
        is_search_index,
        search_condition,
        search_index_columns,
    )

__version__ = "0.1.0"


# Imported on first use: every process imports this package, and only the pages that paginate or search, the
# search-index migrations and checks, and the command line need these modules.
__getattr__ = erlen.lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            ("KeysetPage", "Page", "decode_cursor", "encode_cursor", "paginate", "paginate_keyset"),
            "erlen_db.pagination",
        ),
        **dict.fromkeys(
            ("create_search_index", "drop_search_index", "is_search_index", "search_condition", "search_index_columns"),
            "erlen_db.search",
        ),
        "reported_errors": "erlen_db.cli",
    },
)


__all__ = [
    "APP_OWNER",
    "NAMING_CONVENTION",
    "OWNER_INFO_KEY",
    "RETRY_AFTER",
    "Database",
    "DatabaseConfigError",
    "InvalidCursorError",
    "InvalidPageError",
    "KeysetPage",
    "Model",
    "NaiveDateTimeError",
    "Page",
    "QueryCounter",
    "TableConflictError",
    "UTCDateTime",
    "count_queries",
    "create_search_index",
    "database_error_message",
    "database_of",
    "decode_cursor",
    "describe_error",
    "drop_search_index",
    "encode_cursor",
    "first_or_404",
    "found_unavailable",
    "get",
    "get_connection",
    "get_or_404",
    "get_session",
    "install_sqlite_aware_datetimes",
    "integer_range",
    "is_search_index",
    "is_sqlite_lock",
    "is_sqlite_memory",
    "is_unavailable",
    "max_queries",
    "naming_metadata",
    "note_unavailable",
    "paginate",
    "paginate_keyset",
    "python_type_of",
    "redact_url",
    "reported_errors",
    "rolled_back",
    "search_condition",
    "search_index_columns",
    "session",
    "unless_unavailable",
]

"""erlen-db: SQLAlchemy 2 databases for Erlen apps and plugins."""

from __future__ import annotations

import sys
import typing as t
from types import ModuleType

import erlen

if t.TYPE_CHECKING:
    from .cli import reported_errors
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
        is_sqlite_lock,
        is_unavailable,
    )
    from .helpers import first_or_404, get, get_or_404
    from .isolation import connect_with_transactions, rolled_back
    from .model import NAMING_CONVENTION, Model, naming_metadata
    from .names import database_if_set_up
    from .pagination import KeysetPage, Page, decode_cursor, encode_cursor, paginate, paginate_keyset
    from .queries import QueryCounter, RoundTrips, count_queries, count_round_trips, max_queries
    from .search import (
        create_search_index,
        drop_search_index,
        is_search_index,
        search_condition,
        search_index_columns,
    )
    from .session import get_connection, get_session, session
    from .sqlite_writes import begin_immediately
    from .timezones import NaiveDateTimeError, UTCDateTime, install_sqlite_aware_datetimes
    from .unavailable import found_unavailable, note_unavailable, unless_unavailable
    from .urls import is_sqlite_memory
    from .urls import redact as redact_url

__version__ = "0.1.0"


# Every name is imported on first use: every process imports this package (the plugin module is in it), and
# `erlen --help` creates the app without SQLAlchemy, which all these modules import (see erlen.defer_setup). A
# worker imports them when the app is created; the pages that paginate or search, the search-index migrations
# and checks, and the command line need the last ones.
__getattr__ = erlen.lazy_exports(
    __name__,
    {
        **dict.fromkeys(("integer_range", "python_type_of"), "erlen_db.columns"),
        **dict.fromkeys(("APP_OWNER", "OWNER_INFO_KEY", "Database", "database_of"), "erlen_db.database"),
        **dict.fromkeys(
            (
                "RETRY_AFTER",
                "DatabaseConfigError",
                "InvalidCursorError",
                "InvalidPageError",
                "TableConflictError",
                "database_error_message",
                "describe_error",
                "is_sqlite_lock",
                "is_unavailable",
            ),
            "erlen_db.errors",
        ),
        **dict.fromkeys(("found_unavailable", "note_unavailable", "unless_unavailable"), "erlen_db.unavailable"),
        **dict.fromkeys(("first_or_404", "get", "get_or_404"), "erlen_db.helpers"),
        **dict.fromkeys(("connect_with_transactions", "rolled_back"), "erlen_db.isolation"),
        "database_if_set_up": "erlen_db.names",
        **dict.fromkeys(("NAMING_CONVENTION", "Model", "naming_metadata"), "erlen_db.model"),
        **dict.fromkeys(
            ("QueryCounter", "RoundTrips", "count_queries", "count_round_trips", "max_queries"), "erlen_db.queries"
        ),
        **dict.fromkeys(("get_connection", "get_session"), "erlen_db.session"),
        "begin_immediately": "erlen_db.sqlite_writes",
        **dict.fromkeys(("NaiveDateTimeError", "UTCDateTime", "install_sqlite_aware_datetimes"), "erlen_db.timezones"),
        "is_sqlite_memory": "erlen_db.urls",
        "redact_url": "erlen_db.urls:redact",
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


#: The session proxy, once :class:`_Package` imported it.
_SESSION: list[t.Any] = []


class _Package(ModuleType):
    """This package's type: its name ``session`` is the session proxy, never the module :mod:`erlen_db.session`.

    Importing a submodule sets it on its package under its own name, so once
    anything imported :mod:`erlen_db.session` the lazily exported proxy would
    read as the module. A property wins over that (and ignores it).
    """

    @property
    def session(self) -> t.Any:
        """:data:`erlen_db.session.session`, the current app context's session."""
        if not _SESSION:  # imported once, then a list read
            from .session import session

            _SESSION.append(session)
        return _SESSION[0]

    @session.setter
    def session(self, value: t.Any) -> None:
        if not isinstance(value, ModuleType):
            raise AttributeError("erlen_db.session is the session proxy: it cannot be replaced")


sys.modules[__name__].__class__ = _Package


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
    "RoundTrips",
    "TableConflictError",
    "UTCDateTime",
    "begin_immediately",
    "connect_with_transactions",
    "count_queries",
    "count_round_trips",
    "create_search_index",
    "database_error_message",
    "database_if_set_up",
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

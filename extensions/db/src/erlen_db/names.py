"""Names that the plugin module needs when the app is created, in a module without SQLAlchemy.

The plugin module is imported by every process, ``erlen --help`` included, which
creates the app without importing SQLAlchemy (see :func:`erlen.defer_setup`);
:mod:`erlen_db.database` and :mod:`erlen_db.connection_budget` use them too.
"""

from __future__ import annotations

import typing as t

from flask import Flask

import erlen

if t.TYPE_CHECKING:
    from .database import Database

#: The key of ``app.extensions`` under which the :class:`~erlen_db.Database` lives.
EXTENSION_KEY = "db"


def database_if_set_up(app: Flask) -> Database | None:
    """The :class:`~erlen_db.Database` of ``app`` if its set-up has run, else ``None``; never sets it up.

    For code that must not make the engine (closing an app, a request hook
    registered when the app is created): in an app the ``erlen`` command made,
    the database exists only once :func:`erlen.finish_setup` ran, and in an app
    without the ``db`` plugin never. :func:`~erlen_db.database_of` is the
    lookup that sets the database up when it finds none. Imports no SQLAlchemy.

    :param app: any Flask app.
    """
    return t.cast("Database | None", app.extensions.get(EXTENSION_KEY))


#: The settings of ``erlen check --deploy``'s connection count (:mod:`erlen_db.connection_budget`), declared by the
#: ``db`` plugin.
BUDGET_SETTINGS = [
    erlen.Setting(
        "WEB_WORKERS",
        int | None,
        default=None,
        validate=erlen.at_least(1),
        help="The web server's worker processes on all hosts together, each with its own pool, for the "
        "connection count of erlen check --deploy; by default the WEB_CONCURRENCY variable that gunicorn reads.",
    ),
    erlen.Setting(
        "OTHER_PROCESSES",
        int,
        default=1,
        validate=erlen.at_least(0),
        help="The other long-running processes of the app on all hosts together, each with its own pool, for "
        "the connection count of erlen check --deploy: 1 by default, one erlen mail worker.",
    ),
]

"""An outage of the app's database, for the loops that use it pass after pass: the relay and the scheduler.

Each logs it through core's :class:`erlen.failover.Failover`, made here for both: once when it begins, naming
the database by its URL without the password (``DB_URL``), what the loop does meanwhile and how it tries again,
and once when the database answers, with how long the outage lasted and how many passes failed. Only the errors
erlen-db tells an outage by (:func:`is_outage`) count: SQLite's "no such table" before ``erlen db upgrade`` or a
read-only file are errors of every pass, which the loops report their own way.
"""

from __future__ import annotations

import logging
import typing as t

import sqlalchemy as sa

from erlen.failover import Failover

logger = logging.getLogger("erlen_tasks")

#: The errors that may mean the app's database cannot be reached (refused, ended, timed out); those
#: :func:`erlen_db.is_unavailable` says so of are an outage (see :func:`is_outage`).
DATABASE_DOWN: tuple[type[BaseException], ...] = (sa.exc.OperationalError,)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the app's database cannot be reached, as erlen-db tells one (no connection, a lost
    one, SQLite locked), rather than an error every pass would meet (a missing table, a read-only file).

    :param exc: an error of the database.
    """
    import erlen_db

    return isinstance(exc, DATABASE_DOWN) and erlen_db.is_unavailable(exc)


def describe_database_error(engine: sa.Engine) -> t.Callable[[BaseException], str]:
    """An error of ``engine``'s database for messages: the driver's first line, the URL's password hidden.

    :param engine: the app's engine.
    """
    from .brokers.outage import explain

    return explain(engine.url.render_as_string(hide_password=False))


def watch_database(engine: sa.Engine, *, while_down: str, when_back: str, retried: str, counted: str) -> Failover:
    """A watch of the app's database for a loop that uses it pass after pass, each pass run through it.

    Every pass tries the database (``retry_interval`` 0): the loop spaces its own passes.

    :param engine: the app's engine (``erlen_db.database_of(app).engine``).
    :param while_down: what the loop does not do meanwhile, after "check that it runs and that this host can
        reach it; ", e.g. ``"no periodic job is enqueued"``.
    :param when_back: what the loop does again once the database answers.
    :param retried: how the loop tries the database again, e.g. ``"the scheduler tries it every 1 s"``.
    :param counted: its passes, plural, for the count of those that failed, e.g. ``"relay passes"``.
    """
    import erlen_db

    return Failover(
        service=f"The app's database {erlen_db.redact_url(engine.url)} (DB_URL)",
        while_down=f"check that it runs and that this host can reach it; {while_down}",
        when_back=when_back,
        errors=DATABASE_DOWN,
        logger=logger,
        retry_interval=0.0,  # every pass tries it: the loop spaces its passes
        explain=describe_database_error(engine),
        retried=retried,
        counted=counted,
    )


__all__ = ["DATABASE_DOWN", "describe_database_error", "is_outage", "watch_database"]

"""The hook specifications of the ``db`` plugin, for plugins that use the database.

A plugin implements them like Erlen's core hooks, with :data:`erlen.hookimpl`.
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from erlen import hookspec

if t.TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy import MetaData, Table
    from sqlalchemy.engine import Connection, Engine


@hookspec
def erlen_db_models() -> Iterable[type[t.Any] | MetaData | Table]:
    """Declare the tables the plugin owns.

    Return the plugin's model classes (subclasses of :class:`erlen_db.Model`
    or of a declarative base of its own), or a declarative base of its own
    (all its tables), or a :class:`~sqlalchemy.MetaData` or
    :class:`~sqlalchemy.Table`. Every table returned belongs to the plugin;
    ``erlen db info`` groups tables by owner and migrations are generated per
    owner. Tables on :class:`erlen_db.Model` that no plugin claims belong to
    the app. Two owners of one table name stop the app at startup.

    Import the models inside the hook, so they are defined only when the
    plugin is enabled:

    .. code-block:: python

        @erlen.hookimpl
        def erlen_db_models():
            from . import models
            return [models.Post, models.Comment]
    """


@hookspec
def erlen_db_engine_created(app: Flask, engine: Engine) -> None:
    """Called once the app's engine exists, before it first connects.

    Attach engine events here (``sqlalchemy.event.listen(engine, ...)``);
    the engine connects lazily, so listeners of ``"connect"`` see every
    connection.

    :param app: the app the engine belongs to.
    :param engine: the engine, made from ``DB_URL`` and ``DB_ENGINE_OPTIONS``.
    """


@hookspec(firstresult=True)
def erlen_db_managed_by(app: Flask, connection: Connection) -> str | None:
    """Say whether a migrations plugin manages the app's database.

    ``erlen db create-all`` refuses to run on a managed database. Return a
    short hint of what to run instead (``"erlen db upgrade"``), or ``None``
    when the database is not managed. The first non-``None`` answer wins.

    :param app: the app.
    :param connection: an open connection to the app's database.
    """

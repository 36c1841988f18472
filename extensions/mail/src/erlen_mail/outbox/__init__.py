"""The durable outbox: messages queued in the database, delivered by ``erlen mail worker`` (or erlen-tasks jobs).

:mod:`.queueing`'s names are imported from here on first use (the plugin imports
:mod:`.jobs`, which imports erlen-tasks only when used, in every process, and so
this package); the table (:mod:`.models`) and the worker (:mod:`.worker`) need
erlen-db and SQLAlchemy, imported when used.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from .queueing import OutboxUnavailableError, outbox_enabled, queue, queue_template, require_outbox

_QUEUEING_NAMES = frozenset({"OutboxUnavailableError", "outbox_enabled", "queue", "queue_template", "require_outbox"})


def __getattr__(name: str) -> t.Any:
    """:mod:`.queueing`'s names, importing it on first use.

    :param name: the name asked for.
    """
    if name in _QUEUEING_NAMES:
        from . import queueing

        return getattr(queueing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["OutboxUnavailableError", "outbox_enabled", "queue", "queue_template", "require_outbox"]

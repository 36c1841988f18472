"""The durable outbox: messages queued in the database, delivered by ``erlen mail worker`` (or erlen-tasks jobs).

:mod:`.queueing`'s names are imported from here on first use (the plugin imports
:mod:`.jobs`, which imports erlen-tasks only when used, in every process, and so
this package); the table (:mod:`.models`) and the worker (:mod:`.worker`) need
erlen-db and SQLAlchemy, imported when used.
"""

from __future__ import annotations

import typing as t

import erlen

if t.TYPE_CHECKING:
    from .queueing import OutboxUnavailableError, outbox_enabled, queue, queue_template, require_outbox

__getattr__ = erlen.lazy_exports(
    __name__,
    dict.fromkeys(
        ("OutboxUnavailableError", "outbox_enabled", "queue", "queue_template", "require_outbox"),
        "erlen_mail.outbox.queueing",
    ),
)


__all__ = ["OutboxUnavailableError", "outbox_enabled", "queue", "queue_template", "require_outbox"]

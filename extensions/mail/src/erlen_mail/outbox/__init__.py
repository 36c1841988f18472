"""The durable outbox: messages queued in the database, delivered by ``erlen mail worker`` (or erlen-tasks jobs).

Only :mod:`.queueing` (and :mod:`.jobs`, which imports erlen-tasks only when
used) is imported here; the table (:mod:`.models`) and the worker
(:mod:`.worker`) need erlen-db and SQLAlchemy, imported when used.
"""

from __future__ import annotations

from .queueing import OutboxUnavailableError, outbox_enabled, queue, queue_template, require_outbox

__all__ = ["OutboxUnavailableError", "outbox_enabled", "queue", "queue_template", "require_outbox"]

"""Operations on job rows shared by the ``erlen tasks`` commands and the admin."""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterable

from .models import DEAD, FAILED, PENDING, JobRecord, utcnow
from .state import state_of
from .stored_messages import UnreadableMessage, decode_stored

if t.TYPE_CHECKING:
    from flask import Flask

#: The statuses a job may be retried from (on the database broker; see :func:`retryable`).
RETRYABLE = (DEAD, FAILED)


def retryable(app: Flask) -> tuple[str, ...]:
    """The statuses from which a job of ``app`` may be queued again.

    On the database broker, a ``failed`` job's next try is its row: queuing it again only brings that try
    forward. On Redis and RabbitMQ, the next try waits in the broker (Dramatiq's delayed retry), out of the
    row's reach: a ``failed`` job queued again from its row would run twice, so only ``dead`` jobs may be.

    :param app: the app.
    """
    return (DEAD,) if state_of(app).uses_relay else RETRYABLE


def requeue(rows: Iterable[JobRecord], statuses: Iterable[str] = RETRYABLE) -> int:
    """Queue dead or failed jobs again now, with a fresh count of tries; returns how many.

    Rows of other statuses are left alone, and so are rows whose stored message cannot be read (see
    :mod:`erlen_tasks.stored_messages`). The caller commits.

    :param rows: job rows, in a session.
    :param statuses: the statuses retried, :func:`retryable` for the app's broker.
    """
    allowed = frozenset(statuses)
    now = utcnow()
    count = 0
    for row in rows:
        if row.status not in allowed:
            continue
        try:
            decode_stored(row.id, row.message)
        except UnreadableMessage:
            continue  # no try could read it: it stays dead, its last_error saying why
        message = t.cast(dict[str, t.Any], json.loads(row.message))
        options = message.setdefault("options", {})
        options.pop("retries", None)  # a fresh count of tries for Dramatiq's Retries
        options.pop("traceback", None)
        row.message = json.dumps(message, separators=(",", ":"))
        row.status, row.eta, row.attempts, row.last_error = PENDING, now, 0, None
        row.claim_token = None
        row.claimed_until = None
        row.updated_at = now
        count += 1
    return count


__all__ = ["RETRYABLE", "requeue", "retryable"]

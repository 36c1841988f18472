"""Operations on job rows shared by the ``erlen tasks`` commands and the admin."""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterable

from .models import DEAD, FAILED, PENDING, JobRecord, utcnow

#: The statuses a job may be retried from.
RETRYABLE = (DEAD, FAILED)


def requeue(rows: Iterable[JobRecord]) -> int:
    """Queue dead or failed jobs again now, with a fresh count of tries; returns how many.

    Rows of other statuses are left alone. The caller commits.

    :param rows: job rows, in a session.
    """
    now = utcnow()
    count = 0
    for row in rows:
        if row.status not in RETRYABLE:
            continue
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


__all__ = ["RETRYABLE", "requeue"]

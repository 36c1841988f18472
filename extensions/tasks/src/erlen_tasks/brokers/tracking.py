"""Keeps the rows of jobs relayed to Redis or RabbitMQ up to date: running, done, failed, dead.

With those brokers the job waits in the broker once relayed; this
middleware records each run's outcome in its row (by Dramatiq's message
id), so that ``erlen tasks list`` and the admin show every job the same way
whatever the broker. A failure to write is logged, never raised: the job's
outcome stands in the broker.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from dramatiq.middleware import Middleware

from ..models import DEAD, DONE, FAILED, RUNNING, JobRecord, utcnow
from .database import last_line

if t.TYPE_CHECKING:
    import dramatiq

TABLE: sa.Table = t.cast(sa.Table, JobRecord.__table__)


class Tracking(Middleware):
    """Dramatiq middleware writing each run's outcome to its ``tasks_jobs`` row.

    :param engine: the app's engine.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def _update(self, message: dramatiq.Message[t.Any], **values: t.Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(TABLE).where(TABLE.c.message_id == message.message_id).values(updated_at=utcnow(), **values)
            )

    def before_process_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self._update(message, status=RUNNING, attempts=TABLE.c.attempts + 1)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: t.Any,
        *,
        result: t.Any = None,
        exception: BaseException | None = None,
    ) -> None:
        # Runs after Retries (this middleware is the first of the broker's, and "after" hooks run in
        # reverse): a failed message is out of tries (dead), any other failure is retried.
        if exception is None:
            self._update(message, status=DONE, last_error=None)
            return
        error = last_line(message.options.get("traceback")) or f"{type(exception).__name__}: {exception}"
        self._update(message, status=DEAD if message.failed else FAILED, last_error=error)

    def after_skip_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self._update(message, status=DEAD if message.failed else DONE)


__all__ = ["Tracking"]

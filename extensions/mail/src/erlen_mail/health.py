"""erlen-mail's readiness checks for erlen-ops' ``/readyz``, and its outbox gauges for erlen-ops' ``/metrics``.

``outbox``: the messages waiting in the durable outbox and the age of the
oldest (it fails only when the table cannot be read: a backlog is the
worker's trouble, not this process's, and shows in the numbers and the
metrics). ``smtp``, with ``MAIL_HEALTH_SMTP`` on and the ``smtp`` backend:
the mail server accepts a connection (and the login) within
``MAIL_SMTP_TIMEOUT``.

``erlen_mail_outbox_messages`` and ``erlen_mail_outbox_oldest_seconds``
(with ``OPS_METRICS`` on and the ``db`` plugin) are read when Prometheus
scrapes, within ``OPS_METRICS_TIMEOUT``.

Optional hooks: erlen-mail does not depend on erlen-ops.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .state import state_of

if t.TYPE_CHECKING:
    from flask import Flask


@dataclass(frozen=True)
class OutboxBacklog:
    """The messages of the durable outbox still to deliver.

    :param messages: how many are pending or being sent.
    :param oldest_seconds: the age of the oldest of them, 0 when there are none.
    """

    messages: int
    oldest_seconds: float


def outbox_backlog(app: Flask) -> OutboxBacklog | None:
    """The durable outbox's backlog, or ``None`` when the app has no outbox (no ``db`` plugin).

    One query on the outbox table.

    :raises sqlalchemy.exc.SQLAlchemyError: the table cannot be read.
    """
    from .outbox.queueing import outbox_enabled

    if not outbox_enabled(app):
        return None
    import sqlalchemy as sa

    import erlen_db

    from .outbox.models import PENDING, SENDING, OutboxMessage, aware

    query = sa.select(sa.func.count(), sa.func.min(OutboxMessage.created_at)).where(
        OutboxMessage.status.in_((PENDING, SENDING))
    )
    with erlen_db.database_of(app).engine.connect() as connection:
        count, oldest_row = connection.execute(query).one()
    oldest = aware(oldest_row)
    age = 0.0 if oldest is None else max(0.0, (dt.datetime.now(dt.UTC) - oldest).total_seconds())
    return OutboxBacklog(int(count), age)


def readiness_checks(app: Flask) -> Mapping[str, Callable[[], Mapping[str, float] | None]]:
    """``outbox`` (with the ``db`` plugin) and ``smtp`` (with ``MAIL_HEALTH_SMTP`` on the ``smtp`` backend)."""
    from .outbox.queueing import outbox_enabled

    checks: dict[str, Callable[[], Mapping[str, float] | None]] = {}
    if outbox_enabled(app):

        def outbox() -> Mapping[str, float]:
            backlog = outbox_backlog(app)
            assert backlog is not None
            return {"backlog": backlog.messages, "oldest_seconds": round(backlog.oldest_seconds, 3)}

        checks["outbox"] = outbox
    if app.config["MAIL_HEALTH_SMTP"] and state_of(app).backend_name == "smtp":

        def smtp() -> None:
            backend = state_of(app).make_backend()
            backend.open()
            backend.close()

        checks["smtp"] = smtp
    return checks


def install_metrics(app: Flask, metrics: t.Any) -> None:
    """The outbox's backlog as gauges read at scrape time (with the ``db`` plugin).

    :param app: the app.
    :param metrics: erlen-ops' factory of metrics.
    """
    from .outbox.queueing import outbox_enabled

    if not outbox_enabled(app):
        return

    def depth() -> float | None:
        backlog = outbox_backlog(app)
        return None if backlog is None else backlog.messages

    def oldest() -> float | None:
        backlog = outbox_backlog(app)
        return None if backlog is None else backlog.oldest_seconds

    metrics.on_scrape("erlen_mail_outbox_messages", "Messages waiting in the mail outbox.", depth)
    metrics.on_scrape("erlen_mail_outbox_oldest_seconds", "Age of the oldest waiting message.", oldest)

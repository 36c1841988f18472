"""Delivering the outbox through erlen-tasks: when the ``tasks`` plugin is enabled, its workers send the mail.

With ``db``, ``mail`` and ``tasks`` enabled (and :setting:`MAIL_OUTBOX_WITH_TASKS`
on, the default), :func:`erlen_mail.queue` also enqueues one *delivery job*
per transaction, in that transaction: the message and the job that sends it
are committed together, or neither is. A *sweep*, a periodic job run every
minute, delivers what became due later (retries after their backoff, the
messages of a worker whose lease ran out). Both jobs run
:class:`~erlen_mail.outbox.worker.OutboxWorker`, so the outbox's claims,
leases and ``sending``/``uncertain`` marks keep their promise on any tasks
worker: no message is lost, none is sent twice without an operator.
``erlen tasks worker`` is then the only worker to run.

erlen-tasks is imported only when the ``tasks`` plugin is enabled: erlen-mail
works without it installed.
"""

from __future__ import annotations

import functools
import threading
import typing as t
import weakref
from collections.abc import Iterable

import erlen

if t.TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session

#: The queue of the delivery jobs: a worker limited with ``--queue`` must include it.
DELIVERY_QUEUE = "mail-outbox"

#: The name of the job that delivers what its transaction queued (and whatever else is due).
DELIVER_JOB = "mail.deliver_outbox"

#: The name of the periodic job that delivers retries and taken-over messages as they become due.
SWEEP_JOB = "mail.sweep_outbox"

#: When the sweep runs: every minute (cron, UTC).
SWEEP_CRON = "* * * * *"

#: Seconds a delivery job sends for before it stops after the current message and hands the rest to a
#: follow-up job: well within the job's timeout, so that Dramatiq's time limit never interrupts a send.
DELIVERY_BUDGET_SECONDS = 120.0

#: The job's timeout: the budget, and time for the message in flight to end (an SMTP exchange is bounded
#: by MAIL_SMTP_TIMEOUT per step).
DELIVERY_TIMEOUT_SECONDS = 600.0

#: ``session.info`` key of the delivery job the session's current transaction enqueued.
_ENQUEUED_KEY = "erlen_mail.delivery_job"


def delivers_with_tasks(app: Flask) -> bool:
    """Whether the app's outbox is delivered by erlen-tasks jobs.

    True when the ``tasks`` plugin (and so ``db``) is enabled and
    :setting:`MAIL_OUTBOX_WITH_TASKS` is on.

    :param app: an app with ``mail`` enabled.
    """
    return erlen.plugins_of(app).get("tasks") is not None and bool(app.config.get("MAIL_OUTBOX_WITH_TASKS", True))


def enqueue_delivery(app: Flask, session: Session) -> None:
    """Enqueue the delivery job in ``session``'s transaction, unless that transaction has one already.

    :func:`erlen_mail.queue` calls it after adding a message, when
    :func:`delivers_with_tasks`; a request that queues many messages enqueues
    one job, which delivers them all. A job enqueued inside a savepoint that
    was rolled back no longer counts: the next message enqueues another.

    :param app: the app.
    :param session: the session the message was added to.
    """
    import sqlalchemy as sa

    from erlen_tasks import enqueue

    transaction = session.get_transaction()
    assert transaction is not None  # the message's row was just flushed in it
    enqueued = session.info.get(_ENQUEUED_KEY)
    if enqueued is not None:
        owner, row = enqueued
        if owner() is transaction and sa.inspect(row).persistent:
            return
    row = enqueue(DELIVER_JOB, session=session, app=app)
    session.info[_ENQUEUED_KEY] = (weakref.ref(transaction), row)


def deliver_due(app: Flask, *, budget: float = DELIVERY_BUDGET_SECONDS) -> bool:
    """Deliver the outbox's due messages with an :class:`OutboxWorker`, for at most about ``budget`` seconds.

    Once the budget is spent the worker stops after the message it is
    handing over and gives the rest of its batch back (``pending``).

    :param app: the app.
    :param budget: seconds after which no further message is started.
    :returns: whether it stopped for the budget, with messages perhaps still due.
    """
    from .worker import OutboxWorker

    stop = threading.Event()
    timer = threading.Timer(budget, stop.set)
    timer.daemon = True
    timer.start()
    try:
        OutboxWorker(app).run(once=True, stop=stop)
    finally:
        timer.cancel()
    return stop.is_set()


def _deliver_outbox() -> None:
    """The delivery job: send what is due; past the budget, a follow-up job (committed with this run) goes on."""
    from flask import current_app

    from erlen_tasks import enqueue

    app = t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
    if not delivers_with_tasks(app):
        return  # MAIL_OUTBOX_WITH_TASKS was turned off: `erlen mail worker` delivers
    if deliver_due(app):
        enqueue(DELIVER_JOB, app=app)  # committed by the job's runner, with this run


def _sweep_outbox() -> None:
    """The periodic job: deliver retries whose backoff ended and messages whose worker's lease ran out."""
    _deliver_outbox()


@functools.cache
def delivery_jobs() -> tuple[t.Any, ...]:
    """The delivery job and the sweep, declared once per process (erlen-tasks imported on first call)."""
    from erlen_tasks import job

    deliver = job(name=DELIVER_JOB, queue=DELIVERY_QUEUE, timeout=DELIVERY_TIMEOUT_SECONDS)(_deliver_outbox)
    sweep = job(name=SWEEP_JOB, queue=DELIVERY_QUEUE, timeout=DELIVERY_TIMEOUT_SECONDS, cron=SWEEP_CRON)(_sweep_outbox)
    return deliver, sweep


@erlen.hookimpl(optionalhook=True)
def erlen_tasks_jobs() -> Iterable[t.Any]:
    # Called only when the tasks plugin is enabled (so erlen-tasks is installed).
    return list(delivery_jobs())


__all__ = [
    "DELIVERY_QUEUE",
    "DELIVER_JOB",
    "SWEEP_CRON",
    "SWEEP_JOB",
    "deliver_due",
    "delivers_with_tasks",
    "delivery_jobs",
    "enqueue_delivery",
]

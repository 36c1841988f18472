"""Queuing messages into the durable outbox, inside the caller's database transaction."""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from collections.abc import Iterable, Mapping

import erlen

from ..bulk.sending import _app
from ..errors import MailError
from ..message import Address, Attachment, Message, address_email
from .jobs import delivers_with_tasks, enqueue_delivery

if t.TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session

    from .models import OutboxMessage


class OutboxUnavailableError(MailError):
    """The durable outbox needs the ``db`` plugin (erlen-db), which is not enabled on the app."""


def outbox_enabled(app: Flask) -> bool:
    """Whether the app can queue messages: the ``db`` plugin is enabled (erlen-db installed)."""
    return erlen.plugins_of(app).get("db") is not None


def require_outbox(app: Flask) -> None:
    """:raises OutboxUnavailableError: the ``db`` plugin is not enabled on ``app``."""
    if not outbox_enabled(app):
        raise OutboxUnavailableError(
            f"The durable mail outbox needs a database, but the db plugin is not enabled on the app {app.name!r}: "
            "install erlen-mail[outbox] and add 'db' (and 'migrate') to PLUGINS, then run `erlen db upgrade`. "
            "Without it, send mail directly with erlen_mail.send()."
        )


def queue(
    message: Message, *, session: Session | None = None, app: Flask | None = None, suppressed: str | None = None
) -> OutboxMessage | None:
    """Queue ``message`` in the durable outbox; ``erlen mail worker`` delivers it (or, with ``tasks``, a job).

    The row is added to ``session`` (the app context's ``erlen_db.session``
    by default) and flushed, not committed: it is delivered only once the
    caller commits, together with its own changes, and never when the
    caller rolls back (the transactional outbox pattern). With the ``tasks``
    plugin enabled, the job that delivers it is enqueued in that transaction
    too (one per transaction, see :mod:`erlen_mail.outbox.jobs`).

    The message is prepared now: its sender, ``Date`` and ``Message-ID``
    are filled in and the ``erlen_mail_before_send`` hooks run (they may
    cancel it); the bytes stored are the bytes sent, with the same
    ``Message-ID`` on every attempt.

    With ``suppressed``, the message is prepared and stored all the same, as
    a row of the status ``suppressed`` that no worker ever sends (its
    ``last_error`` gives the reason; the ``erlen_mail_before_send`` hooks do
    not run, as nothing is sent). A request that must not tell whether it
    mailed anyone, such as a password reset for an unknown address, records
    one instead of a real message: both do the same work, an insert and a
    commit that writes.

    :param message: the message.
    :param session: the SQLAlchemy session to add the row to.
    :param app: the app; the current app by default.
    :param suppressed: record the message without ever sending it, for this reason.
    :returns: the new row (its ``id`` set), or ``None`` when a plugin cancelled the message.
    :raises OutboxUnavailableError: the ``db`` plugin is not enabled.
    :raises MessageError: the message is invalid.
    """
    app = _app(app)
    require_outbox(app)
    from .models import PENDING, SUPPRESSED, OutboxMessage

    registry = erlen.plugins_of(app)
    message.prepare(app.config.get("MAIL_DEFAULT_SENDER"))
    if suppressed is None:
        for _plugin, outcome in registry.iter_each("erlen_mail_before_send", message=message):
            if outcome is False:
                return None
    message.check_headers()
    assert message.sender is not None and message.message_id is not None
    now = dt.datetime.now(dt.UTC)
    row = OutboxMessage(
        status=PENDING if suppressed is None else SUPPRESSED,
        last_error=None if suppressed is None else f"Not sent: {suppressed}",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        message_id=message.message_id,
        subject=message.subject,
        sender=address_email(message.sender),
        recipients=json.dumps(message.recipients),
        raw=message.to_bytes(),
    )
    if session is None:
        from flask import has_app_context

        import erlen_db

        if not has_app_context():
            raise MailError(
                "erlen_mail.queue() outside an app context needs session=: pass the session whose transaction "
                "the message belongs to, or push an app context (`with app.app_context():`)."
            )
        session = erlen_db.database_of(app).session
    session.add(row)
    session.flush()
    if suppressed is None and delivers_with_tasks(app):
        enqueue_delivery(app, session)  # in the same transaction: the message and its delivery job, or neither
    return row


def queue_template(
    name: str,
    /,
    *,
    to: Address | Iterable[Address] | None = None,
    subject: str | None = None,
    cc: Address | Iterable[Address] | None = None,
    bcc: Address | Iterable[Address] | None = None,
    reply_to: Address | Iterable[Address] | None = None,
    sender: Address | None = None,
    headers: Mapping[str, str] | None = None,
    attachments: Iterable[Attachment] | None = None,
    session: Session | None = None,
    app: Flask | None = None,
    suppressed: str | None = None,
    **context: t.Any,
) -> OutboxMessage | None:
    """Render the mail templates of ``name`` (as :func:`erlen_mail.send_template`) and :func:`queue` the message."""
    from ..templates import render_message

    app = _app(app)
    require_outbox(app)
    message = render_message(
        name,
        to=to,
        subject=subject,
        context=context,
        app=app,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        sender=sender,
        headers=dict(headers or {}),
        attachments=list(attachments or []),
    )
    return queue(message, session=session, app=app, suppressed=suppressed)


__all__ = ["OutboxUnavailableError", "outbox_enabled", "queue", "queue_template", "require_outbox"]

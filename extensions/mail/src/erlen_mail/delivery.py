"""One call for mail that belongs to a change: queued in its transaction when the app has the outbox, else sent.

Apps and plugins that mail because something changed (an account was
created, a note was written) call :func:`deliver` or
:func:`deliver_template`, and work the same way with or without a
database: with the ``db`` plugin enabled the message joins the current
transaction in the durable outbox (it leaves with the commit, through
``erlen mail worker``, and never when the transaction rolls back); without
it, the message is sent at once.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .bulk.sending import SendResult, _app, send
from .message import Address, Attachment, Message
from .outbox.queueing import outbox_enabled, queue
from .templates import render_message

if t.TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session

    from .outbox.models import OutboxMessage

#: What became of a message given to :func:`deliver`.
DeliveryStatus = t.Literal["queued", "sent", "cancelled", "suppressed"]


@dataclass(frozen=True)
class Delivery:
    """What :func:`deliver` did with one message.

    :param status: ``"queued"`` (in the outbox: it leaves once the caller
        commits), ``"sent"`` (sent at once: the app has no outbox),
        ``"cancelled"`` (by an ``erlen_mail_before_send`` hook) or
        ``"suppressed"`` (recorded or only prepared, never sent: ``suppressed=``).
    :param message: the message.
    :param row: its outbox row, when it went through the outbox.
    :param result: the result of the send, when it was sent at once.
    """

    status: DeliveryStatus
    message: Message
    row: OutboxMessage | None = None
    result: SendResult | None = None

    @property
    def queued(self) -> bool:
        """Whether the message waits in the outbox for the caller's commit."""
        return self.status == "queued"


def deliver(
    message: Message, *, session: Session | None = None, app: Flask | None = None, suppressed: str | None = None
) -> Delivery:
    """Queue ``message`` in the current transaction when the app has the outbox; otherwise send it now.

    With the ``db`` plugin enabled this is :func:`erlen_mail.queue`: the
    message is added to ``session`` (the app context's by default) and
    flushed; the caller commits it with its own changes, and an outage of
    the mail server only delays it. Without a database it is
    :func:`erlen_mail.send`, which raises when the server is down.

    :param message: the message.
    :param session: the session whose transaction the message joins (outbox only).
    :param app: the app; the current app by default.
    :param suppressed: prepare the message (and, with the outbox, record it
        as ``suppressed``) but never send it, for this reason. Code that
        must not reveal whether it mailed anyone does the same work either way.
    :raises MessageError: the message is invalid.
    :raises SendError: sent at once, the backend could not send it.
    """
    app = _app(app)
    if outbox_enabled(app):
        row = queue(message, session=session, app=app, suppressed=suppressed)
        if row is None:
            return Delivery("cancelled", message)
        return Delivery("suppressed" if suppressed is not None else "queued", message, row=row)
    if suppressed is not None:
        message.prepare(app.config.get("MAIL_DEFAULT_SENDER"))
        message.check_headers()
        return Delivery("suppressed", message)
    result = send(message, app=app)
    return Delivery("sent" if result.sent else "cancelled", message, result=result)


def deliver_template(
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
) -> Delivery:
    """Render the mail templates of ``name`` (see :func:`erlen_mail.render_message`) and :func:`deliver` the message.

    .. code-block:: python

        session.add(order)
        session.flush()  # gives the order its id, for the link
        deliver_template("order_placed", to=customer.email, order=order)
        session.commit()  # the order and its mail, together

    :param name: the template name.
    :param to: the recipients.
    :param subject: the subject, instead of ``mail/<name>.subject.txt``.
    :param session: as for :func:`deliver`.
    :param app: the app; the current app by default.
    :param suppressed: as for :func:`deliver`.
    :param context: the template variables, as keyword arguments.
    :returns: as :func:`deliver`; raises as it does.
    """
    app = _app(app)
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
    return deliver(message, session=session, app=app, suppressed=suppressed)


__all__ = ["Delivery", "DeliveryStatus", "deliver", "deliver_template"]

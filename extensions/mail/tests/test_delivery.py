"""deliver and deliver_template without a database: the message is sent at once."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from erlen_mail import Message, SendError, deliver, deliver_template
from erlen_mail.testing import SMTPTestServer, outbox_of


def test_without_db_deliver_sends_now(app: Flask) -> None:
    sent = outbox_of(app)
    with app.app_context():
        delivery = deliver(Message("Hi", to="ada@example.com", body="x"))
    assert delivery.status == "sent" and not delivery.queued and delivery.row is None
    assert delivery.result is not None and delivery.result.sent
    assert [message.subject for message in sent] == ["Hi"]


def test_without_db_deliver_template_sends_now(app: Flask) -> None:
    sent = outbox_of(app)
    delivery = deliver_template("erlen/test", to="ada@example.com", app=app, app_name="Direct", backend="memory")
    assert delivery.status == "sent"
    assert [message.subject for message in sent] == ["Test message from Direct"]


def test_reading_the_outbox_after_sending_keeps_what_was_sent(app: Flask) -> None:
    outbox_of(app)
    with app.app_context():
        deliver(Message("Hi", to="ada@example.com", body="x"))
    assert [message.subject for message in outbox_of(app)] == ["Hi"]
    assert [message.subject for message in outbox_of(app)] == ["Hi"]  # reading does not consume


def test_mail_errors_a_view_catches_share_one_base_class(make_app: t.Any) -> None:
    """Without a sender, or with the server down, sending raises a MailError: one ``except`` catches both."""
    from erlen_mail import MailError, MessageError

    no_sender = make_app(["mail"], {"MAIL_BACKEND": "memory"})
    with no_sender.app_context(), pytest.raises(MailError) as raised:
        deliver(Message("Hi", to="ada@example.com", body="x"))
    assert isinstance(raised.value, MessageError)
    down = SMTPTestServer()  # a free port nobody listens on
    config = {"MAIL_DEFAULT_SENDER": "a@example.com", "MAIL_SMTP_TIMEOUT": 5.0, **down.config()}
    unreachable = make_app(["mail"], config)
    with unreachable.app_context(), pytest.raises(MailError) as raised:
        deliver(Message("Hi", to="ada@example.com", body="x"))
    assert isinstance(raised.value, SendError)


def test_without_db_a_suppressed_message_is_prepared_and_never_sent(app: Flask) -> None:
    sent = outbox_of(app)
    with app.app_context():
        delivery = deliver(Message("Hi", to="ada@example.com", body="x"), suppressed="no account")
    assert delivery.status == "suppressed" and delivery.message.message_id is not None
    assert sent == []


def test_without_db_a_failed_send_raises(make_app: t.Any) -> None:
    down = SMTPTestServer()  # a free port nobody listens on
    app = make_app(["mail"], {"MAIL_DEFAULT_SENDER": "a@example.com", "MAIL_SMTP_TIMEOUT": 5.0, **down.config()})
    with pytest.raises(SendError, match="ConnectionRefusedError"):
        deliver(Message("Hi", to="ada@example.com", body="x"), app=app)

"""Bulk sending over real SMTP: one connection, reconnects, a server that goes down and comes back."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest

from erlen_mail import BulkResult, Message, send, send_many
from erlen_mail.testing import SMTPTestServer

SENDER = "Erlen <noreply@example.com>"


def messages(count: int, prefix: str = "m") -> list[Message]:
    return [Message(f"{prefix}{i}", to=f"user{i}@example.com", body=f"number {i}") for i in range(count)]


def test_one_connection_for_many(smtp_app: t.Any, smtp_server: SMTPTestServer) -> None:
    result = send_many(messages(5), app=smtp_app, reconnect_after=0)
    assert isinstance(result, BulkResult)
    assert len(result) == 5 and result.ok
    assert [r.status for r in result] == ["sent"] * 5
    assert smtp_server.connections_used == 1
    assert [m.email["Subject"] for m in smtp_server.messages] == [f"m{i}" for i in range(5)]


def test_reconnects_after_the_configured_count(make_app: t.Any, smtp_server: SMTPTestServer) -> None:
    app = make_app(["mail"], {"MAIL_DEFAULT_SENDER": SENDER, "MAIL_BULK_RECONNECT_AFTER": 3, **smtp_server.config()})
    result = send_many(messages(10), app=app)
    assert result.ok
    assert smtp_server.connections_used == 4  # 3 + 3 + 3 + 1
    assert [m.session for m in smtp_server.messages] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]


def test_reconnect_argument_overrides_the_setting(smtp_app: t.Any, smtp_server: SMTPTestServer) -> None:
    send_many(messages(4), app=smtp_app, reconnect_after=2)
    assert smtp_server.connections_used == 2


def test_per_message_failures_do_not_stop_the_batch(smtp_app: t.Any, smtp_server: SMTPTestServer) -> None:
    smtp_server.refuse.add("user1@example.com")
    batch = messages(3)
    batch.insert(2, Message("no recipient"))
    result = send_many(batch, app=smtp_app)
    assert [r.status for r in result] == ["sent", "failed", "failed", "sent"]
    assert not result.ok
    assert result.failed[0].error is not None and "SMTPRecipientsRefused" in result.failed[0].error
    assert result.failed[1].error is not None and "no recipient" in result.failed[1].error
    assert smtp_server.connections_used == 1  # a refusal keeps the connection
    assert result.summary() == "2 sent, 2 failed, 0 cancelled"


def test_a_421_to_rcpt_closes_the_connection_and_the_next_message_opens_one(
    smtp_app: t.Any, smtp_server: SMTPTestServer
) -> None:
    """smtplib closes the connection on a 421 to RCPT TO without saying so (``SMTPRecipientsRefused``):
    the backend drops it, and the next message goes out over a new one instead of failing unsent."""
    smtp_server.faults["RCPT"] = "421 4.3.2 Closing connection"
    result = send_many(messages(3), app=smtp_app, reconnect_after=0)
    assert [r.status for r in result] == ["failed", "sent", "sent"], [r.error for r in result]
    assert "421" in (result.failed[0].error or "")
    assert [m.email["Subject"] for m in smtp_server.messages] == ["m1", "m2"]
    assert smtp_server.connections_used == 1  # the first connection delivered nothing


def test_server_down_then_back(smtp_app: t.Any, smtp_server: SMTPTestServer) -> None:
    smtp_server.stop()
    down = send_many(messages(3, "down"), app=smtp_app)
    assert [r.status for r in down] == ["failed"] * 3
    assert all(r.error is not None and "ConnectionRefusedError" in r.error for r in down)
    smtp_server.start()
    assert send(Message("back", to="a@example.com"), app=smtp_app).sent
    assert [m.email["Subject"] for m in smtp_server.messages] == ["back"]


def test_server_goes_down_and_comes_back_during_a_batch(smtp_app: t.Any, smtp_server: SMTPTestServer) -> None:
    def batch() -> Iterator[Message]:
        yield from messages(2, "before")
        smtp_server.stop()
        yield from messages(2, "while-down")
        smtp_server.start()
        yield from messages(2, "after")

    result = send_many(batch(), app=smtp_app, reconnect_after=0)
    assert [(r.message.subject, r.status) for r in result] == [
        ("before0", "sent"),
        ("before1", "sent"),
        ("while-down0", "failed"),
        ("while-down1", "failed"),
        ("after0", "sent"),
        ("after1", "sent"),
    ]
    for failure in result.failed:
        assert failure.error  # a reason for each: the dropped connection, then the refused one
        assert failure.exception is not None
    assert [m.email["Subject"] for m in smtp_server.messages] == ["before0", "before1", "after0", "after1"]
    assert smtp_server.connections_used == 2


def test_bulk_with_memory_backend(app: t.Any, outbox: list[Message]) -> None:
    result = send_many(messages(3), app=app)
    assert result.ok and len(outbox) == 3


def test_bulk_needs_no_app_argument_in_an_app_context(app: t.Any, outbox: list[Message]) -> None:
    with app.app_context():
        assert send_many(messages(2)).ok
    assert len(outbox) == 2


@pytest.mark.parametrize("count", [0])
def test_empty_batch(app: t.Any, count: int) -> None:
    assert send_many(messages(count), app=app).ok


def test_bulk_failures_are_logged(
    smtp_app: t.Any, smtp_server: SMTPTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_server.refuse.add("user0@example.com")
    with caplog.at_level("WARNING", logger="erlen_mail"):
        result = send_many(messages(2), app=smtp_app)
    assert "Mail 'm0' to ['user0@example.com'] failed: SMTPRecipientsRefused" in caplog.text
    assert "Bulk mail: 1 sent, 1 failed, 0 cancelled" in caplog.text
    assert result.sent[0].message.subject == "m1"

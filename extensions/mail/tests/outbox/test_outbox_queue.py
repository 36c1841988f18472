"""Queuing into the durable outbox and delivering with the worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

from flask import Flask
from outbox_helpers import assert_none_lost_none_doubled, queue_messages, received, rows_of

import erlen_db
from erlen_mail import Message, queue, queue_template
from erlen_mail.outbox.worker import OutboxWorker
from erlen_mail.testing import SMTPTestServer


def test_queue_and_deliver(outbox_app: Flask, smtp_server: SMTPTestServer) -> None:
    with outbox_app.app_context():
        message = Message(
            "Invoice", to=["ada@example.com", ("Bob", "bob@example.com")], bcc="archive@example.com", body="Hi"
        )
        row = queue(message)
        assert row is not None and row.id is not None and row.status == "pending"
        erlen_db.session.commit()
    assert not smtp_server.messages  # queuing sends nothing
    totals = OutboxWorker(outbox_app).run(once=True)
    assert (totals.sent, totals.failed, totals.retrying) == (1, 0, 0)
    [got] = smtp_server.messages
    assert got.recipients == ["ada@example.com", "bob@example.com", "archive@example.com"]
    assert got.sender == "noreply@example.com"
    assert got.email["Bcc"] is None and b"archive@example.com" not in got.data
    assert got.email["Message-ID"] == message.message_id
    assert got.data == message.to_bytes()
    [stored] = rows_of(outbox_app).values()
    assert stored.status == "sent" and stored.attempts == 1 and stored.sent_at is not None
    assert stored.claim_token is None and stored.last_error is None
    assert json.loads(stored.recipients) == got.recipients


def test_queue_is_part_of_the_callers_transaction(outbox_app: Flask, smtp_server: SMTPTestServer) -> None:
    with outbox_app.app_context():
        queue(Message("Rolled back", to="ada@example.com", body="x"))
        erlen_db.session.rollback()
        queue(Message("Committed", to="ada@example.com", body="x"))
        erlen_db.session.commit()
    OutboxWorker(outbox_app).run(once=True)
    assert [m.email["Subject"] for m in smtp_server.messages] == ["Committed"]
    assert [row.subject for row in rows_of(outbox_app).values()] == ["Committed"]


def test_queue_into_a_session_of_ones_own(outbox_app: Flask, smtp_server: SMTPTestServer) -> None:
    with erlen_db.database_of(outbox_app).session_scope() as session:
        queue(Message("Own session", to="ada@example.com", body="x"), session=session, app=outbox_app)
    assert OutboxWorker(outbox_app).run(once=True).sent == 1


def test_queue_outside_an_app_context_needs_a_session(outbox_app: Flask) -> None:
    from erlen_mail import MailError

    with pytest.raises(MailError, match="needs session="):
        queue(Message("No context", to="ada@example.com", body="x"), app=outbox_app)


def test_queue_template(outbox_app: Flask, smtp_server: SMTPTestServer) -> None:
    with outbox_app.app_context():
        queue_template("erlen/test", to="ada@example.com", app_name="Outbox", backend="smtp")
        erlen_db.session.commit()
    OutboxWorker(outbox_app).run(once=True)
    [got] = smtp_server.messages
    assert got.email["Subject"] == "Test message from Outbox"


def test_consecutive_batches_share_one_connection(make_outbox_app: object, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()  # type: ignore[operator]
    queued = queue_messages(app, 7)
    totals = OutboxWorker(app, batch_size=3, group_size=2).run(once=True)
    assert totals.sent == 7
    assert smtp_server.connections_used == 1  # batches of 3, 3 and 1, in groups of 2 and 1
    assert_none_lost_none_doubled(app, smtp_server, queued)


def test_reconnects_every_bulk_reconnect_after_across_batches(
    make_outbox_app: object, smtp_server: SMTPTestServer
) -> None:
    app = make_outbox_app({"MAIL_BULK_RECONNECT_AFTER": 3})  # type: ignore[operator]
    queued = queue_messages(app, 7)
    assert OutboxWorker(app, batch_size=2).run(once=True).sent == 7
    assert [message.session for message in smtp_server.messages] == [0, 0, 0, 1, 1, 1, 2]
    assert_none_lost_none_doubled(app, smtp_server, queued)


def test_a_batch_of_its_own_has_a_connection_of_its_own(make_outbox_app: object, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()  # type: ignore[operator]
    queue_messages(app, 4)
    worker = OutboxWorker(app, batch_size=2)
    assert worker.run_batch().sent == 2 and worker.run_batch().sent == 2
    assert smtp_server.connections_used == 2


def test_memory_backend_delivers_queued_mail(make_outbox_app: object, smtp_server: SMTPTestServer) -> None:
    from erlen_mail.testing import outbox_of

    app = make_outbox_app({"MAIL_BACKEND": "memory"})  # type: ignore[operator]
    outbox = outbox_of(app)
    with app.app_context():
        queue(Message("Memory", to="ada@example.com", cc="cy@example.com", bcc="bcc@example.com", body="Hi"))
        erlen_db.session.commit()
    OutboxWorker(app).run(once=True)
    [message] = outbox
    assert message.subject == "Memory" and message.to == ["ada@example.com"] and message.cc == ["cy@example.com"]
    assert message.bcc == ["bcc@example.com"] and message.body == "Hi\n"
    assert not received(smtp_server)

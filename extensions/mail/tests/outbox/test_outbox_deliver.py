"""deliver and deliver_template with a database: queued in the caller's transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

from flask import Flask
from outbox_helpers import rows_of

import erlen_db
from erlen_mail import Message, deliver, deliver_template
from erlen_mail.outbox.worker import OutboxWorker
from erlen_mail.testing import SMTPTestServer


def test_deliver_queues_in_the_callers_transaction(outbox_app: Flask, smtp_server: SMTPTestServer) -> None:
    with outbox_app.app_context():
        rolled_back = deliver(Message("Rolled back", to="ada@example.com", body="x"))
        assert rolled_back.status == "queued" and rolled_back.queued and rolled_back.result is None
        erlen_db.session.rollback()
        committed = deliver_template("erlen/test", to="ada@example.com", app_name="Queued", backend="smtp")
        assert committed.queued and committed.row is not None
        assert not smtp_server.messages  # nothing leaves before the commit and the worker
        erlen_db.session.commit()
    assert OutboxWorker(outbox_app).run(once=True).sent == 1
    assert [m.email["Subject"] for m in smtp_server.messages] == ["Test message from Queued"]
    assert [row.subject for row in rows_of(outbox_app).values()] == ["Test message from Queued"]


def test_a_suppressed_message_is_recorded_and_never_sent(outbox_app: Flask, smtp_server: SMTPTestServer) -> None:
    with outbox_app.app_context():
        delivery = deliver(Message("Reset", to="nobody@example.com", body="x"), suppressed="no account")
        assert delivery.status == "suppressed" and not delivery.queued
        erlen_db.session.commit()
    totals = OutboxWorker(outbox_app).run(once=True)
    assert totals.claimed == 0 and smtp_server.messages == []
    [row] = rows_of(outbox_app).values()
    assert row.status == "suppressed" and row.last_error == "Not sent: no account" and row.attempts == 0
    runner = outbox_app.test_cli_runner()
    assert "No open messages." in runner.invoke(args=["mail", "outbox"]).output
    listed = runner.invoke(args=["mail", "outbox", "--status", "suppressed"]).output
    assert "1 suppressed" in listed and "nobody@example.com" in listed and "Not sent: no account" in listed
    refused = runner.invoke(args=["mail", "retry", str(row.id)])
    assert refused.exit_code == 1 and "only failed and uncertain" in refused.output


def test_a_suppressed_message_skips_the_before_send_hooks(make_outbox_app: object) -> None:
    # The hooks are for mail that is sent; a plugin counting or cancelling mail never sees a stand-in.
    app = make_outbox_app(plugins=("mail", "hooktest_plugin"))  # type: ignore[operator]
    seen = app.extensions.setdefault("hooktest", [])
    with app.app_context():
        deliver(Message("Stand-in", to="nobody@example.com", body="x"), suppressed="no account")
        deliver(Message("Real", to="ada@example.com", body="x"))
        erlen_db.session.commit()
    assert seen == [("before", "Real")]

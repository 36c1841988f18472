"""A failure before a message's body (at connect, the greeting, EHLO, STARTTLS, AUTH, MAIL FROM, RCPT TO or the
``DATA`` command) is a plain, retried failure: the server cannot have accepted the message, so it is never left
``uncertain``. After the body's final ``.``, a refusal is a refusal, and a connection lost before the answer
leaves the message ``uncertain``."""

from __future__ import annotations

import datetime as dt
import ssl
import typing as t
from pathlib import Path

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

import trustme
from outbox_helpers import assert_none_lost_none_doubled, queue_messages, received, rows_of
from outbox_support import Clock, OutboxApp

import erlen_db
from erlen_mail import Message, queue
from erlen_mail.outbox.worker import OutboxWorker
from erlen_mail.testing import HANG_UP, SMTPTestServer

#: Where the exchange fails, and how: the server's answer instead of the usual one (``HANG_UP``: it closes the
#: connection without one), or ``None`` for a failure the test makes otherwise (the server stopped, a
#: certificate the client does not trust, a password the server refuses).
FAULTS = [
    pytest.param("connect", None, id="connect-refused"),
    pytest.param("GREETING", HANG_UP, id="greeting-hang-up"),
    pytest.param("GREETING", "421 4.3.2 Service not available", id="greeting-421"),
    pytest.param("EHLO", HANG_UP, id="ehlo-hang-up"),
    pytest.param("STARTTLS", None, id="starttls-untrusted"),
    pytest.param("AUTH", HANG_UP, id="auth-hang-up"),
    pytest.param("AUTH", None, id="auth-refused"),
    pytest.param("MAIL", HANG_UP, id="mail-hang-up"),
    pytest.param("MAIL", "421 4.3.2 Closing connection", id="mail-421"),
    pytest.param("MAIL", "451 4.3.0 Try again later", id="mail-451"),
    pytest.param("RCPT", HANG_UP, id="rcpt-hang-up"),
    pytest.param("RCPT", "421 4.3.2 Closing connection", id="rcpt-421"),
    pytest.param("RCPT", "451 4.3.0 Try again later", id="rcpt-451"),
    pytest.param("DATA", HANG_UP, id="data-hang-up"),
    pytest.param("DATA", "421 4.3.2 Closing connection", id="data-421"),
    pytest.param("DATA", "451 4.3.0 Try again later", id="data-451"),
]

#: Stages of opening a connection: the worker reconnects before the failing message so that it meets them.
OPENING = {"GREETING", "EHLO", "STARTTLS", "AUTH"}
#: Failures that stay until the test repairs them, or that fail the opening of a connection (the worker then
#: retries the rest of the batch with the message); after the others the rest is sent (over a new connection when
#: the failure closed it).
LASTING = {"connect", "GREETING", "STARTTLS", "AUTH"}


@pytest.mark.parametrize("position", ["first", "mid-group"])
@pytest.mark.parametrize(("stage", "reply"), FAULTS)
def test_a_failure_before_data_is_retried_never_uncertain(
    make_outbox_app: OutboxApp,
    smtp_server: SMTPTestServer,
    start_server: t.Callable[..., SMTPTestServer],
    server_tls_context: ssl.SSLContext,
    ca_file: Path,
    tmp_path: Path,
    clock: Clock,
    stage: str,
    reply: str | None,
    position: str,
) -> None:
    """The failing message (the batch's first, alone in its group, or the middle one of a group of three whose
    first went out over the same connection) is pending again, its attempt counted, never uncertain; the
    messages after it, in its group or later, are sent over a new connection or, when the server cannot be
    reached, retried with it; none is sent twice."""
    config: dict[str, t.Any] = {
        "MAIL_OUTBOX_GROUP_SIZE": 5,  # groups [0], [1, 2], [3, 4, 5]
        "MAIL_BULK_RECONNECT_AFTER": 2 if stage in OPENING else 0,
    }
    server = smtp_server
    if stage == "STARTTLS":
        server = start_server(tls_context=server_tls_context)
        config.update(server.config(), MAIL_SMTP_CA_FILE=str(ca_file))
    elif stage == "AUTH":
        server = start_server(credentials={"worker": "secret"})
        config.update(server.config(), MAIL_SMTP_USERNAME="worker", MAIL_SMTP_PASSWORD="secret")
    app = make_outbox_app(config)
    queued = queue_messages(app, 6)
    untrusted = tmp_path / "untrusted-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(untrusted))

    def arm() -> None:
        if stage == "connect":
            server.stop()
        elif stage == "STARTTLS":
            app.config["MAIL_SMTP_CA_FILE"] = str(untrusted)
        elif reply is None:
            app.config["MAIL_SMTP_PASSWORD"] = "wrong"
        else:
            server.faults[stage] = reply

    failing = 0 if position == "first" else 4

    class Worker(OutboxWorker):
        def checkpoint(self, step: str, row_id: int) -> None:
            if failing and step == "accepted" and row_id == queued[failing - 1]:
                arm()  # the first of the last group was accepted: the next one meets the fault, one is left

    if not failing:
        arm()
    totals = Worker(app, clock=clock).run(once=True)

    expected = ["sent"] * failing + ["pending"] + ["pending" if stage in LASTING else "sent"] * (5 - failing)
    rows = assert_none_lost_none_doubled(app, server, queued)
    assert [rows[i].status for i in queued] == expected, [rows[i].last_error for i in queued]
    assert (totals.sent, totals.retrying, totals.uncertain, totals.failed) == (
        expected.count("sent"),
        expected.count("pending"),
        0,
        0,
    )
    assert server.faults == {}  # the fault was met
    for row_id in queued:
        row = rows[row_id]
        if row.status == "pending":
            assert row.attempts == 1 and row.claim_token is None and row.last_error
            assert row.next_attempt_at.replace(tzinfo=dt.UTC) == clock.now + dt.timedelta(seconds=10)
    assert sum(received(server).values()) == expected.count("sent")

    # Repaired, the retries go out once they are due, each once.
    if stage == "connect":
        server.start()
    app.config.update(MAIL_SMTP_CA_FILE=str(ca_file), MAIL_SMTP_PASSWORD="secret")
    clock.advance(10)
    assert OutboxWorker(app, clock=clock).run(once=True).sent == expected.count("pending")
    rows = assert_none_lost_none_doubled(app, server, queued)
    assert {row.status for row in rows.values()} == {"sent"} and len(server.messages) == 6


def test_a_refusal_before_mail_from_on_a_used_connection_is_not_uncertain(
    make_outbox_app: OutboxApp, start_server: t.Callable[..., SMTPTestServer], clock: Clock
) -> None:
    """A message the client itself refuses to send (an address that is not ASCII, to a server without
    SMTPUTF8), after another message went out over the same connection: retried, not uncertain."""
    server = start_server(smtputf8=False)
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 5, **server.config()})
    first = queue_messages(app, 1)
    with app.app_context():
        row = queue(Message("International", to="zoë@exämple.com", body="Hello"))
        erlen_db.session.commit()
        assert row is not None
        international = [row.id]
    queued = first + international
    totals = OutboxWorker(app, batch_size=2, clock=clock).run_batch()
    assert (totals.sent, totals.retrying, totals.uncertain) == (1, 1, 0)
    rows = assert_none_lost_none_doubled(app, server, queued)
    row = rows[international[0]]
    assert row.status == "pending" and row.attempts == 1, row.last_error
    assert "SMTPUTF8" in (row.last_error or "")
    assert rows_of(app)[first[0]].status == "sent"


#: The server's answer after a message's final ``.``, and what becomes of the message: a refusal is a refusal (the
#: server kept nothing); a connection closed before any answer leaves it ``uncertain`` (the server kept it).
END_FAULTS = [
    pytest.param("421 4.3.2 Closing connection", "pending", id="end-421"),
    pytest.param("451 4.3.0 Try again later", "pending", id="end-451"),
    pytest.param("554 5.7.1 Message refused", "failed", id="end-554"),
    pytest.param(HANG_UP, "uncertain", id="end-hang-up"),
]


@pytest.mark.parametrize(("reply", "outcome"), END_FAULTS)
def test_a_failure_after_the_final_dot(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock, reply: str, outcome: str
) -> None:
    """The first message of a group of two meets the fault after its body's end: it is retried, failed or
    uncertain as the answer says, and the message after it is sent, once; an uncertain one is not sent again."""
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 5})  # groups [0], [1, 2]
    queued = queue_messages(app, 3)

    class Worker(OutboxWorker):
        def checkpoint(self, step: str, row_id: int) -> None:
            if step == "accepted" and row_id == queued[0]:
                smtp_server.faults["END"] = reply

    totals = Worker(app, clock=clock).run(once=True)
    assert smtp_server.faults == {}  # the fault was met
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert [rows[i].status for i in queued] == ["sent", outcome, "sent"], [rows[i].last_error for i in queued]
    assert (totals.sent, totals.retrying, totals.failed, totals.uncertain) == (
        2,
        outcome == "pending",
        outcome == "failed",
        outcome == "uncertain",
    )
    failing = rows[queued[1]]
    assert failing.attempts == 1 and failing.claim_token is None
    if reply == HANG_UP:
        assert received(smtp_server)[failing.message_id] == 1  # it may have been delivered: it was
        assert "after the message was sent, before the server answered" in (failing.last_error or "")
    else:
        assert reply.split()[0] in (failing.last_error or "") and received(smtp_server)[failing.message_id] == 0

    clock.advance(3600)  # only a retry goes out again, once
    assert OutboxWorker(app, clock=clock).run(once=True).sent == (outcome == "pending")
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert rows[queued[1]].status == {"pending": "sent"}.get(outcome, outcome)

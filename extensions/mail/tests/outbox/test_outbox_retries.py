"""Retries with backoff while the server is down, failure after the last attempt, permanent refusals."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

from outbox_helpers import assert_none_lost_none_doubled, queue_messages, received, rows_of
from outbox_support import Clock, OutboxApp

from erlen_mail.outbox.worker import OutboxWorker
from erlen_mail.testing import SMTPTestServer


def test_server_down_then_back(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock) -> None:
    app = make_outbox_app()
    queued = queue_messages(app, 3)
    smtp_server.stop()
    worker = OutboxWorker(app, clock=clock)

    first = worker.run_batch()
    assert (first.claimed, first.retrying, first.sent) == (3, 3, 0)
    rows = rows_of(app)
    for row in rows.values():
        assert row.status == "pending" and row.attempts == 1 and row.claim_token is None
        assert "Could not connect" in (row.last_error or "") and "ConnectionRefusedError" in (row.last_error or "")
        assert row.next_attempt_at.replace(tzinfo=dt.UTC) == clock.now + dt.timedelta(seconds=10)

    assert worker.run_batch().claimed == 0  # not due yet
    clock.advance(10)
    second = worker.run_batch()
    assert second.retrying == 3
    row = rows_of(app)[queued[0]]
    assert row.attempts == 2
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == clock.now + dt.timedelta(seconds=20)  # doubled

    smtp_server.start()
    clock.advance(19)
    assert worker.run_batch().claimed == 0
    clock.advance(1)
    third = worker.run_batch()
    assert third.sent == 3
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert all(row.status == "sent" and row.attempts == 3 for row in rows.values())


def test_last_attempt_marks_failed_with_the_reason(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock
) -> None:
    app = make_outbox_app({"MAIL_OUTBOX_MAX_ATTEMPTS": 2})
    queued = queue_messages(app, 1)
    smtp_server.stop()
    worker = OutboxWorker(app, clock=clock)
    assert worker.run_batch().retrying == 1
    clock.advance(3600)
    result = worker.run_batch()
    assert (result.retrying, result.failed) == (0, 1)
    [row] = rows_of(app).values()
    assert row.status == "failed" and row.attempts == 2
    assert row.last_error is not None and row.last_error.startswith("Gave up after 2 attempt(s): Could not connect")
    clock.advance(10**6)
    assert worker.run_batch().claimed == 0  # never again
    assert_none_lost_none_doubled(app, smtp_server, queued)


def test_temporary_refusal_is_retried(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock) -> None:
    app = make_outbox_app()
    queued = queue_messages(app, 1)
    smtp_server.data_reply = "451 4.3.0 Try again later"
    worker = OutboxWorker(app, clock=clock)
    assert worker.run_batch().retrying == 1
    [row] = rows_of(app).values()
    assert row.status == "pending" and "451" in (row.last_error or "")
    smtp_server.data_reply = None
    clock.advance(10)
    assert worker.run_batch().sent == 1
    assert_none_lost_none_doubled(app, smtp_server, queued)


def test_permanent_refusal_fails_at_once(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()
    smtp_server.refuse = {"user0@example.com"}
    queued = queue_messages(app, 2)
    totals = OutboxWorker(app).run(once=True)
    assert (totals.sent, totals.failed) == (1, 1)
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    failed = rows[queued[0]]
    assert failed.status == "failed" and failed.attempts == 1
    assert "SMTPRecipientsRefused" in (failed.last_error or "") and "550" in (failed.last_error or "")


def test_concurrent_workers_never_send_twice(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()
    queued = queue_messages(app, 60)
    workers = [OutboxWorker(make_outbox_app(), batch_size=4) for _ in range(4)]
    errors: list[BaseException] = []
    totals = []

    def work(worker: OutboxWorker) -> None:
        try:
            totals.append(worker.run(once=True))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    assert sum(total.sent for total in totals) == 60
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert {row.status for row in rows.values()} == {"sent"}
    assert len(received(smtp_server)) == 60

"""``erlen mail worker``, ``outbox`` and ``retry`` in-process, and the shipped migration."""

from __future__ import annotations

import threading
import typing as t

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

from outbox_helpers import queue_messages, rows_of
from outbox_support import OutboxApp

from erlen_mail.outbox.worker import OutboxWorker
from erlen_mail.testing import ReceivedMessage, SMTPTestServer


def test_worker_once_reports_progress(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()
    queue_messages(app, 5)
    smtp_server.refuse = {"user3@example.com"}
    result = app.test_cli_runner().invoke(args=["mail", "worker", "--once", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "Batch 1: 2 claimed: 2 sent, 0 retrying, 0 failed, 0 uncertain" in result.output
    assert "Batch 2: 2 claimed: 1 sent, 0 retrying, 1 failed, 0 uncertain" in result.output
    assert "#4 failed: SMTPRecipientsRefused" in result.output
    assert "Done: 4 sent, 0 retrying, 1 failed, 0 uncertain." in result.output
    assert len(smtp_server.messages) == 4


def test_worker_reports_retries_when_the_server_is_down(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer
) -> None:
    app = make_outbox_app()
    queue_messages(app, 2)
    smtp_server.stop()
    result = app.test_cli_runner().invoke(args=["mail", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "2 claimed: 0 sent, 2 retrying" in result.output and "ConnectionRefusedError" in result.output


def test_outbox_listing_and_retry_failed(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()
    runner = app.test_cli_runner()
    empty = runner.invoke(args=["mail", "outbox"])
    assert empty.exit_code == 0 and "No open messages." in empty.output
    queued = queue_messages(app, 3)
    smtp_server.refuse = {"user1@example.com"}
    runner.invoke(args=["mail", "worker", "--once"])

    listing = runner.invoke(args=["mail", "outbox"])
    assert listing.exit_code == 0, listing.output
    assert "0 pending, 0 sending, 1 failed, 0 uncertain, 2 sent" in listing.output
    [line] = [line for line in listing.output.splitlines() if line.strip().startswith(str(queued[1]))]
    assert "failed" in line and "user1@example.com" in line and "Message 1" in line and "550" in line
    every = runner.invoke(args=["mail", "outbox", "--status", "all"])
    assert sum("user" in line for line in every.output.splitlines()) == 3

    refused = runner.invoke(args=["mail", "retry", str(queued[0])])
    assert refused.exit_code == 1 and "is sent: only failed and uncertain" in refused.output
    missing = runner.invoke(args=["mail", "retry", "9999"])
    assert missing.exit_code == 1 and "no queued message 9999" in missing.output
    assert runner.invoke(args=["mail", "retry"]).exit_code == 2

    smtp_server.refuse = set()
    retried = runner.invoke(args=["mail", "retry", "--failed"])
    assert "Queued 1 message(s) again" in retried.output
    row = rows_of(app)[queued[1]]
    assert row.status == "pending" and row.attempts == 0
    runner.invoke(args=["mail", "worker", "--once"])
    assert rows_of(app)[queued[1]].status == "sent"
    assert len(smtp_server.messages) == 3


def test_discard_settles_failed_and_uncertain_messages(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()
    runner = app.test_cli_runner()
    queued = queue_messages(app, 4)
    smtp_server.refuse = {"user1@example.com"}

    def hang_up_on_user2(message: ReceivedMessage) -> None:
        smtp_server.hang_up_after_data = len(smtp_server.messages) == 2  # user0's came first; user1 was refused

    smtp_server.on_data = hang_up_on_user2
    runner.invoke(args=["mail", "worker", "--once"])
    smtp_server.on_data = None
    assert [rows_of(app)[i].status for i in queued] == ["sent", "failed", "uncertain", "sent"]

    refused = runner.invoke(args=["mail", "discard", str(queued[0])])
    assert refused.exit_code == 1 and "is sent: only failed and uncertain messages can be discarded" in refused.output
    assert runner.invoke(args=["mail", "discard"]).exit_code == 2
    discarded = runner.invoke(args=["mail", "discard", str(queued[2])])
    assert discarded.exit_code == 0, discarded.output
    assert "Discarded 1 message(s)" in discarded.output
    assert runner.invoke(args=["mail", "discard", "--failed"]).output.startswith("Discarded 1 message(s)")

    rows = rows_of(app)
    assert [rows[i].status for i in queued] == ["sent", "discarded", "discarded", "sent"]
    assert "before the server answered" in (rows[queued[2]].last_error or "")  # why it was uncertain, kept
    listing = runner.invoke(args=["mail", "outbox"])
    assert "0 failed, 0 uncertain, 2 sent, 2 discarded" in listing.output and "No open messages." in listing.output
    assert len(runner.invoke(args=["mail", "outbox", "--status", "discarded"]).output.splitlines()) == 4
    assert runner.invoke(args=["mail", "retry", str(queued[2])]).exit_code == 1  # settled for good
    assert OutboxWorker(app).run(once=True).claimed == 0
    assert len(smtp_server.messages) == 3  # user0, user2 (kept by the server), user3


def test_shipped_migration_creates_the_table(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    pytest.importorskip("erlen_migrate", reason="erlen-migrate is not installed")
    app = make_outbox_app(plugins=("migrate", "mail"))
    runner = app.test_cli_runner()
    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    assert "mail" in upgrade.output and "outbox" in upgrade.output
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    queued = queue_messages(app, 1)
    assert runner.invoke(args=["mail", "worker", "--once"]).exit_code == 0
    assert rows_of(app)[queued[0]].status == "sent"


@pytest.mark.parametrize(
    "args", [["mail", "outbox"], ["mail", "retry", "--failed"], ["mail", "worker", "--once"], ["mail", "worker"]]
)
def test_commands_say_to_migrate_when_the_table_is_missing(make_outbox_app: OutboxApp, args: list[str]) -> None:
    pytest.importorskip("erlen_migrate", reason="erlen-migrate is not installed")
    app = make_outbox_app(plugins=("migrate", "mail"))  # with migrate, the fixture creates no table
    outcome: list[t.Any] = []
    # In a daemon thread: a worker that retried the missing table forever would hang the test, not fail it.
    runner = threading.Thread(target=lambda: outcome.append(app.test_cli_runner().invoke(args=args)), daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert outcome, f"{' '.join(args)} kept running against a database without its table"
    [result] = outcome
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "The mail outbox table 'mail_outbox' does not exist" in result.output
    assert "run `erlen db upgrade`" in result.output


@pytest.mark.parametrize("args", [["mail", "outbox"], ["mail", "retry", "--failed"], ["mail", "worker", "--once"]])
def test_commands_report_an_unreachable_database(make_app: t.Any, args: list[str]) -> None:
    app = make_app(["db", "mail"], {"DB_URL": "postgresql+psycopg://mailer:s3cret-pw@127.0.0.1:1/mail"})
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Cannot reach the database at postgresql+psycopg://mailer:***@127.0.0.1:1/mail" in result.output
    assert "s3cret-pw" not in result.output

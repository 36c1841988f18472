"""``erlen mail worker`` with ``LOG_FORMAT = "json"``: its progress is logged as JSON lines, like the rest."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

from outbox_helpers import queue_messages
from outbox_support import OutboxApp

from erlen_mail.testing import SMTPTestServer

# What an app with JSON logs does to the root logger is undone after each test.
pytestmark = pytest.mark.usefixtures("restore_logging")


def test_worker_logs_json_lines(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app({"LOG_FORMAT": "json"})
    queue_messages(app, 3)
    smtp_server.refuse = {"user1@example.com"}
    result = app.test_cli_runner().invoke(args=["mail", "worker", "--once", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # nothing printed: all of it is logged
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    worker = [line for line in lines if line["logger"] == "erlen_mail.worker"]
    assert [line["event"] for line in worker] == [
        "mail.worker.started",
        "mail.worker.batch",
        "mail.worker.message_failed",
        "mail.worker.batch",
        "mail.worker.stopped",
    ]
    assert all(line["plugin"] == "mail" for line in worker)
    first_batch = worker[1]
    assert first_batch["message"] == "Batch 1: 2 claimed: 1 sent, 0 retrying, 1 failed, 0 uncertain"
    assert (first_batch["level"], first_batch["batch"], first_batch["sent"], first_batch["failed"]) == ("INFO", 1, 1, 1)
    failed = worker[2]
    assert (
        failed["level"] == "ERROR"
        and failed["message"].startswith("#")
        and "SMTPRecipientsRefused" in failed["message"]
    )
    assert isinstance(failed["outbox_id"], int)
    assert (worker[-1]["sent"], worker[-1]["failed"]) == (2, 1)
    assert worker[-1]["message"] == "Done: 2 sent, 0 retrying, 1 failed, 0 uncertain."


def test_worker_prints_with_the_text_format(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()
    queue_messages(app, 1)
    result = app.test_cli_runner().invoke(args=["mail", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "Done: 1 sent, 0 retrying, 0 failed, 0 uncertain."
    assert not any(line.startswith("{") for line in result.output.splitlines())

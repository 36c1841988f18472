from __future__ import annotations

import typing as t

from flask.testing import FlaskCliRunner

from erlen_mail import Message
from erlen_mail.testing import SMTPTestServer, free_port

SENDER = "Erlen <noreply@example.com>"


def test_send_test(cli_runner: FlaskCliRunner, outbox: list[Message]) -> None:
    result = cli_runner.invoke(args=["mail", "send-test", "--to", "ada@example.com", "--to", "bob@example.com"])
    assert result.exit_code == 0, result.output
    assert "Sent a test message to ada@example.com, bob@example.com through the 'memory' backend." in result.output
    [message] = outbox
    assert message.to == ["ada@example.com", "bob@example.com"]
    assert message.subject == "Test message from erlen_test_app"
    assert message.sender == SENDER


def test_send_test_over_smtp(make_app: t.Any, smtp_server: SMTPTestServer) -> None:
    app = make_app(["mail"], smtp_server.config())
    result = app.test_cli_runner().invoke(
        args=["mail", "send-test", "--to", "ada@example.com", "--sender", "ops@example.com"]
    )
    assert result.exit_code == 0, result.output
    [received] = smtp_server.messages
    assert received.sender == "ops@example.com"
    assert "through the smtp mail backend" in received.email.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_send_test_failure(make_app: t.Any) -> None:
    app = make_app(
        ["mail"],
        {
            "MAIL_DEFAULT_SENDER": SENDER,
            "MAIL_BACKEND": "smtp",
            "MAIL_SMTP_HOST": "127.0.0.1",
            "MAIL_SMTP_PORT": free_port(),
        },
    )
    result = app.test_cli_runner().invoke(args=["mail", "send-test", "--to", "ada@example.com"])
    assert result.exit_code == 1
    assert "Could not send" in result.output and "ConnectionRefusedError" in result.output


def test_send_test_without_sender(make_app: t.Any) -> None:
    app = make_app(["mail"])
    result = app.test_cli_runner().invoke(args=["mail", "send-test", "--to", "ada@example.com"])
    assert result.exit_code == 1
    assert "MAIL_DEFAULT_SENDER" in result.output


def test_send_test_requires_to(cli_runner: FlaskCliRunner) -> None:
    result = cli_runner.invoke(args=["mail", "send-test"])
    assert result.exit_code == 2
    assert "--to" in result.output

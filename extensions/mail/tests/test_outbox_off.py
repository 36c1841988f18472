"""Without the db plugin the durable outbox is off, and says how to turn it on."""

from __future__ import annotations

import typing as t

import pytest

from erlen_mail import Message, OutboxUnavailableError, queue, queue_template


def test_queue_without_db_says_to_enable_it(make_app: t.Any) -> None:
    app = make_app(["mail"], {"MAIL_DEFAULT_SENDER": "a@example.com"})
    with app.app_context(), pytest.raises(OutboxUnavailableError) as caught:
        queue(Message("Hi", to="ada@example.com", body="x"))
    assert "db plugin is not enabled" in str(caught.value) and "erlen-mail[outbox]" in str(caught.value)
    with pytest.raises(OutboxUnavailableError):
        queue_template("erlen/test", to="ada@example.com", app=app)


@pytest.mark.parametrize("command", [["worker", "--once"], ["outbox"], ["retry", "--failed"]])
def test_outbox_commands_without_db(make_app: t.Any, command: list[str]) -> None:
    result = make_app(["mail"]).test_cli_runner().invoke(args=["mail", *command])
    assert result.exit_code == 1
    assert "db plugin is not enabled" in result.output

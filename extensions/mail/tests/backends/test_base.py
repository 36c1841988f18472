"""The backend interface: send is required; open, close and send_raw are optional."""

from __future__ import annotations

import pytest
from flask import Flask

from erlen_mail import Message
from erlen_mail.backends.base import Backend


def test_a_backend_without_send_cannot_be_made() -> None:
    class Incomplete(Backend):
        pass

    with pytest.raises(TypeError, match=r"abstract method.*send"):
        Incomplete(Flask(__name__))  # type: ignore[abstract]


def test_connectionless_backend_needs_only_send() -> None:
    sent: list[object] = []

    class Minimal(Backend):
        def send(self, message: object) -> None:  # type: ignore[override]
            sent.append(message)

    backend = Minimal(Flask(__name__))
    backend.open()
    backend.send("message")
    backend.close()
    assert sent == ["message"]


def test_a_backend_with_only_send_delivers_queued_messages_parsed_back() -> None:
    from erlen_mail import Message

    sent: list[Message] = []

    class SendOnly(Backend):
        def send(self, message: Message) -> None:
            sent.append(message)

    queued = Message(
        subject="Weekly digest",
        to=["Ada <ada@example.com>"],
        bcc=["audit@example.com"],
        sender="Team <team@example.com>",
        body="Hello",
        headers={"Message-ID": "<digest-1@example.com>", "X-Kind": "digest"},
    )
    refused = SendOnly(Flask(__name__)).send_raw(
        "team@example.com", ["ada@example.com", "audit@example.com"], queued.to_bytes()
    )
    assert refused == {}
    (delivered,) = sent
    assert (delivered.subject, delivered.body.strip() if delivered.body else None) == ("Weekly digest", "Hello")
    assert delivered.to == ["Ada <ada@example.com>"] and delivered.bcc == ["audit@example.com"]
    assert delivered.message_id == "<digest-1@example.com>" and delivered.headers["X-Kind"] == "digest"


def test_send_raw_staged_calls_before_end_first_by_default() -> None:
    """A backend without stages calls ``before_end`` before it sends anything; when it raises, nothing is sent."""
    calls: list[str] = []

    class Recording(Backend):
        def send(self, message: Message) -> None:
            calls.append("send")

    data = Message("Hi", to="ada@example.com", body="Hello", sender="team@example.com").to_bytes()
    backend = Recording(Flask(__name__))
    assert backend.send_raw_staged("team@example.com", ["ada@example.com"], data, lambda: calls.append("before")) == {}
    assert calls == ["before", "send"]

    def refuse() -> None:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        backend.send_raw_staged("team@example.com", ["ada@example.com"], data, refuse)
    assert calls == ["before", "send"]

"""The backend interface: send is required, open and close are optional."""

from __future__ import annotations

import pytest
from flask import Flask

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

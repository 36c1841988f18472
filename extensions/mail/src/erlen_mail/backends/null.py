"""The ``null`` backend: accepts every message and delivers none."""

from __future__ import annotations

import typing as t

from .base import Backend

if t.TYPE_CHECKING:
    from ..message import Message


class NullBackend(Backend):
    """Discards messages (they still go through the hooks and count as sent)."""

    def send(self, message: Message) -> None:
        message.to_bytes()  # still refuse what could not be sent for real

    def send_raw(self, sender: str, recipients: list[str], data: bytes) -> dict[str, tuple[int, bytes]]:
        return {}

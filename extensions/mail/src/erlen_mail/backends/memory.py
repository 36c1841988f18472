"""The ``memory`` backend: keeps messages in the app's outbox, for tests."""

from __future__ import annotations

import typing as t

from .base import Backend

if t.TYPE_CHECKING:
    from ..message import Message


class MemoryBackend(Backend):
    """Appends each message to ``outbox_of(app)`` (the ``outbox`` fixture); queued ones parsed back from their bytes."""

    def send(self, message: Message) -> None:
        from ..state import state_of

        message.to_bytes()  # refuse what the real backends would refuse
        state_of(self.app).outbox.append(message)

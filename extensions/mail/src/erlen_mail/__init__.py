"""erlen-mail: email for Erlen apps and plugins."""

from __future__ import annotations

import typing as t

from .backends import (
    Backend,
    ConsoleBackend,
    FileBackend,
    MemoryBackend,
    NullBackend,
    SMTPBackend,
)
from .bulk.sending import BulkResult, SendResult, send, send_many
from .delivery import Delivery, deliver, deliver_template
from .errors import HeaderInjectionError, MailError, MessageError, SendError
from .health import OutboxBacklog, outbox_backlog
from .message import Address, Attachment, Message
from .outbox import OutboxUnavailableError, queue, queue_template
from .state import MailState, state_of
from .templates import render_message, send_template

if t.TYPE_CHECKING:
    from .outbox.worker import OutboxWorker

__version__ = "0.1.0"


def __getattr__(name: str) -> t.Any:
    # The worker needs erlen-db and SQLAlchemy: imported on first use, never by a web worker that only queues.
    if name == "OutboxWorker":
        from .outbox.worker import OutboxWorker

        return OutboxWorker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Address",
    "Attachment",
    "Backend",
    "BulkResult",
    "ConsoleBackend",
    "Delivery",
    "FileBackend",
    "HeaderInjectionError",
    "MailError",
    "MailState",
    "MemoryBackend",
    "Message",
    "MessageError",
    "NullBackend",
    "OutboxBacklog",
    "OutboxUnavailableError",
    "OutboxWorker",
    "SMTPBackend",
    "SendError",
    "SendResult",
    "deliver",
    "deliver_template",
    "outbox_backlog",
    "queue",
    "queue_template",
    "render_message",
    "send",
    "send_many",
    "send_template",
    "state_of",
]

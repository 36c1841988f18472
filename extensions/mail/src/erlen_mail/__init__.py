"""erlen-mail: email for Erlen apps and plugins."""

from __future__ import annotations

import typing as t

import erlen

from .backends import Backend
from .errors import HeaderInjectionError, MailError, MessageError, SendError
from .message import Address, Attachment, Message
from .state import MailState, state_of

if t.TYPE_CHECKING:
    from .backends.console import ConsoleBackend
    from .backends.file import FileBackend
    from .backends.memory import MemoryBackend
    from .backends.null import NullBackend
    from .backends.smtp import SMTPBackend
    from .bulk.sending import BulkResult, SendResult, send, send_many
    from .delivery import Delivery, deliver, deliver_template
    from .health import OutboxBacklog, outbox_backlog
    from .outbox.queueing import OutboxUnavailableError, queue, queue_template
    from .outbox.worker import OutboxWorker
    from .templates import render_message, send_template

__version__ = "0.1.0"

#: Names imported on first use, with their modules: sending, delivering, queueing and rendering are what a
#: page that mails does, and every process imports this package (the plugin is in it). The worker needs
#: erlen-db and SQLAlchemy, never imported by a web worker that only queues.
_LAZY = {
    **dict.fromkeys(("BulkResult", "SendResult", "send", "send_many"), "bulk.sending"),
    **dict.fromkeys(("Delivery", "deliver", "deliver_template"), "delivery"),
    **dict.fromkeys(("OutboxUnavailableError", "queue", "queue_template"), "outbox.queueing"),
    **dict.fromkeys(("render_message", "send_template"), "templates"),
    "OutboxWorker": "outbox.worker",
    # Read by erlen-ops' readiness check and metrics (and by whoever asks): no worker of an app without them.
    **dict.fromkeys(("OutboxBacklog", "outbox_backlog"), "health"),
    # A process uses the one backend MAIL_BACKEND names (imported when the app is created), never the others.
    "ConsoleBackend": "backends.console",
    "FileBackend": "backends.file",
    "MemoryBackend": "backends.memory",
    "NullBackend": "backends.null",
    "SMTPBackend": "backends.smtp",
}


__getattr__ = erlen.lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _LAZY.items()})


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

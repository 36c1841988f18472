"""Mail backends: where messages go."""

from __future__ import annotations

from .base import Backend
from .console import ConsoleBackend
from .file import FileBackend
from .memory import MemoryBackend
from .null import NullBackend
from .smtp import SMTPBackend

#: The backends erlen-mail ships, by the name ``MAIL_BACKEND`` chooses them with.
BUILTIN_BACKENDS: dict[str, type[Backend]] = {
    "smtp": SMTPBackend,
    "console": ConsoleBackend,
    "file": FileBackend,
    "memory": MemoryBackend,
    "null": NullBackend,
}

__all__ = [
    "BUILTIN_BACKENDS",
    "Backend",
    "ConsoleBackend",
    "FileBackend",
    "MemoryBackend",
    "NullBackend",
    "SMTPBackend",
]

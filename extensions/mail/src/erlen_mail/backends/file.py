"""The ``file`` backend: writes each message to a ``.eml`` file."""

from __future__ import annotations

import os
import time
import typing as t
import uuid
from pathlib import Path

from .base import Backend

if t.TYPE_CHECKING:
    from ..message import Message


class FileBackend(Backend):
    """Writes each message into ``MAIL_FILE_PATH`` (``<instance>/mail`` by default) as a ``.eml`` file.

    Files are named ``<time>-<random>.eml`` so they sort by sending time and
    never overwrite one another; a file appears complete or not at all.
    """

    @property
    def folder(self) -> Path:
        """The folder the files are written to."""
        configured = self.config.get("MAIL_FILE_PATH")
        return Path(configured) if configured else Path(self.app.instance_path) / "mail"

    def send(self, message: Message) -> None:
        self._write(message.to_email().as_bytes())

    def send_raw(self, sender: str, recipients: list[str], data: bytes) -> dict[str, tuple[int, bytes]]:
        self._write(data.replace(b"\r\n", b"\n"))  # line ends as send() writes them
        return {}

    def _write(self, data: bytes) -> None:
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        partial = folder / f".{name}.tmp"
        partial.write_bytes(data)
        os.replace(partial, folder / name)

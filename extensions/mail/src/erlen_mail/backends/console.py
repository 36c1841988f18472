"""The ``console`` backend: prints each message, the default in debug mode."""

from __future__ import annotations

import sys
import typing as t

import click

from ..message import address_email
from .base import Backend

if t.TYPE_CHECKING:
    from ..message import Message


class ConsoleBackend(Backend):
    """Writes each message, as it would go over the wire, to ``MAIL_CONSOLE_STREAM``.

    Blind-copy recipients are listed on a line before the message, since
    they are not in its headers. Nothing of the configuration (such as the
    SMTP password) is ever printed.
    """

    def send(self, message: Message) -> None:
        stream = sys.stderr if self.config.get("MAIL_CONSOLE_STREAM") == "stderr" else sys.stdout
        text = message.to_email().as_string()
        lines = ["-" * 79]
        if message.bcc:
            lines.append("(bcc: " + ", ".join(address_email(address) for address in message.bcc) + ")")
        lines.append(text.rstrip("\n"))
        lines.append("-" * 79)
        click.echo("\n".join(lines), file=stream)

    def send_raw(self, sender: str, recipients: list[str], data: bytes) -> dict[str, tuple[int, bytes]]:
        stream = sys.stderr if self.config.get("MAIL_CONSOLE_STREAM") == "stderr" else sys.stdout
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        lines = ["-" * 79, f"(envelope: from {sender} to {', '.join(recipients)})", text.rstrip("\n"), "-" * 79]
        click.echo("\n".join(lines), file=stream)
        return {}

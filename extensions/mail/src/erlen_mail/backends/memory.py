"""The ``memory`` backend: keeps messages in the app's outbox, for tests."""

from __future__ import annotations

import typing as t
from email import message_from_bytes, policy
from email.utils import formataddr, getaddresses

from .base import Backend

if t.TYPE_CHECKING:
    from ..message import Message


class MemoryBackend(Backend):
    """Appends each message to ``outbox_of(app)`` (the ``outbox`` fixture)."""

    def send(self, message: Message) -> None:
        from ..state import state_of

        message.to_bytes()  # refuse what the real backends would refuse
        state_of(self.app).outbox.append(message)

    def send_raw(self, sender: str, recipients: list[str], data: bytes) -> dict[str, tuple[int, bytes]]:
        from ..state import state_of

        state_of(self.app).outbox.append(message_from_raw(sender, recipients, data))
        return {}


def message_from_raw(sender: str, recipients: list[str], data: bytes) -> Message:
    """A :class:`Message` made back from serialised bytes and their envelope (for the ``memory`` backend).

    Recipients of the envelope that are in neither ``To`` nor ``Cc`` become ``bcc``.
    """
    from ..message import MANAGED_HEADERS, Attachment, Message

    parsed = message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)

    def addresses(name: str) -> list[str]:
        return [formataddr(pair) for pair in getaddresses([str(value) for value in parsed.get_all(name, [])])]

    to, cc = addresses("To"), addresses("Cc")
    visible = {email for _, email in getaddresses([*to, *cc])}
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    headers = {
        name: str(value) for name, value in parsed.items() if name.lower() not in MANAGED_HEADERS and name != "Bcc"
    }
    attachments = [
        Attachment(part.get_filename() or "attachment", part.get_content(), part.get_content_type())
        for part in parsed.iter_attachments()
    ]
    return Message(
        subject=str(parsed.get("Subject", "")),
        to=t.cast(t.Any, to),
        cc=t.cast(t.Any, cc),
        bcc=[address for address in recipients if address not in visible],
        sender=str(parsed.get("From", sender)),
        reply_to=t.cast(t.Any, addresses("Reply-To")),
        body=t.cast(str, text.get_content()) if text is not None else None,
        html=t.cast(str, html.get_content()) if html is not None else None,
        headers=headers,
        attachments=attachments,
    )

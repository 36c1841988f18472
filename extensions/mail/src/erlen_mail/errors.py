"""The exceptions of erlen-mail."""

from __future__ import annotations

from erlen import ErlenError


class MailError(ErlenError):
    """Base class of every error erlen-mail raises."""


class MessageError(MailError, ValueError):
    """A message cannot be sent as it is: no recipient, no sender, a bad header."""


class HeaderInjectionError(MessageError):
    """A header value contains a carriage return or a line feed.

    Such a value could add headers of its sender's choosing (header
    injection), so it is refused, never cleaned up.
    """


class SendError(MailError):
    """A message could not be sent; ``result`` tells which and why.

    :param message: what went wrong.
    :param result: the :class:`~erlen_mail.SendResult` of the failed send.
    """

    def __init__(self, message: str, *, result: object = None) -> None:
        super().__init__(message)
        self.result = result

"""The SMTP connection :class:`~erlen_mail.SMTPBackend` sends over: :class:`smtplib.SMTP`, recording how far a
message got and holding back its end on demand.

A module of its own, imported when the backend opens its first connection: :mod:`smtplib` (with the
standard library's email generator) is no part of a process that never sends, such as a web worker whose
mail goes through the outbox or a page that sends none.
"""

from __future__ import annotations

import smtplib
import typing as t
from collections.abc import Callable, Sequence

#: The line that ends a message's data (after its last line's CRLF): until the server reads it,
#: it cannot accept the message; a connection that breaks before it leaves nothing delivered.
_END = b".\r\n"


class SMTPConnection(smtplib.SMTP):
    """Records whether the whole message (ending in ``CRLF.CRLF``) was written since the last ``MAIL FROM``,
    and can hold back the message's end until a callback returns.

    smtplib writes the message body with one ``send`` of bytes ending in
    ``b"\\r\\n.\\r\\n"``; commands are written as text. When the connection
    breaks after that write and before the server's answer is read, the
    server may have accepted the message.

    With :attr:`before_end` set (for one message: it is cleared when called),
    that write is split: everything but the final ``.`` line, then
    ``before_end()``, then the ``.`` line. The commands and the body thus
    travel while the caller does something else (the outbox commits that the
    message is being handed over), and only the end waits for it. When
    ``before_end`` raises, the end is never written: the server, whose
    connection the caller then closes, discards the message.
    """

    data_written = False
    #: Called once the message's body, all but its end, was written; the end is written after it returns.
    before_end: Callable[[], None] | None = None
    #: Whether :attr:`before_end` would return at once: it is then called before the body, which is
    #: written with its end in one write (one wake-up of the server less than two writes).
    end_ready: Callable[[], bool] | None = None

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.data_written = False
        return super().mail(sender, options)

    def data(self, msg: t.Any) -> tuple[int, bytes]:
        try:
            return super().data(msg)
        except smtplib.SMTPDataError as exc:
            # Raised only for a refused DATA command (the message's own answer is returned): smtplib's
            # sendmail resets the transaction after a refused MAIL FROM, after every RCPT TO refused and after
            # a refused message, but not here. Left open, the next message's MAIL FROM on this connection
            # would be refused as nested (503, a permanent failure of a message that did nothing wrong).
            if exc.smtp_code != 421:  # after a 421 the connection is closed by the backend
                try:
                    self.rset()
                except smtplib.SMTPServerDisconnected:
                    pass  # closed already: the backend drops it
            raise

    def send(self, s: t.Any) -> None:
        if not (isinstance(s, bytes) and s.endswith(b"\r\n" + _END)):
            super().send(s)
            return
        before_end, self.before_end = self.before_end, None
        if before_end is None:
            super().send(s)
        elif self.end_ready is not None and self.end_ready():
            before_end()
            super().send(s)
        else:
            super().send(s[: -len(_END)])
            before_end()
            super().send(_END)
        self.data_written = True


class SMTPSSLConnection(SMTPConnection, smtplib.SMTP_SSL):
    """:class:`SMTPConnection` over implicit TLS."""


def close_quietly(connection: smtplib.SMTP) -> None:
    """Close ``connection``, ignoring the socket's errors: it is being dropped anyway."""
    try:
        connection.close()
    except OSError:
        pass

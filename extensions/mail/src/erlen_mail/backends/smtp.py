"""The ``smtp`` backend: delivers over SMTP with STARTTLS or implicit TLS, login and a timeout."""

from __future__ import annotations

import functools
import socket
import ssl
import typing as t
from collections.abc import Callable

from ..errors import MessageError
from ..message import address_email
from .base import Backend

if t.TYPE_CHECKING:
    import smtplib

    from flask import Flask

    from ..message import Message
    from .smtp_connection import SMTPConnection

_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


@functools.cache
def local_hostname() -> str:
    """This host's fully qualified name, for EHLO: looked up once per process (as Django does).

    Without it, :class:`smtplib.SMTP` looks it up (DNS) on every connection.
    """
    return socket.getfqdn()


class SMTPBackend(Backend):
    """Sends over one SMTP connection, opened on the first message and kept for the batch.

    Settings: ``MAIL_SMTP_HOST``, ``MAIL_SMTP_PORT``, ``MAIL_SMTP_SECURITY``
    (``none``, ``starttls`` or ``ssl``), ``MAIL_SMTP_USERNAME``,
    ``MAIL_SMTP_PASSWORD``, ``MAIL_SMTP_TIMEOUT``, ``MAIL_SMTP_CA_FILE``,
    ``MAIL_SMTP_VERIFY``.

    When a send fails because the connection broke, the connection is
    dropped and the next message opens a new one; a refusal by the server
    (a bad recipient) keeps it.
    """

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.connection: SMTPConnection | None = None
        #: Recipients the server refused in the last send while accepting others: address to (code, reply).
        self.refused: dict[str, tuple[int, bytes]] = {}
        #: Whether the last send broke after the whole message was written, before the server answered.
        self.uncertain = False

    @property
    def security(self) -> str:
        return str(self.config.get("MAIL_SMTP_SECURITY", "none"))

    @property
    def host(self) -> str:
        return str(self.config.get("MAIL_SMTP_HOST", "localhost"))

    @property
    def port(self) -> int:
        port = self.config.get("MAIL_SMTP_PORT")
        return int(port) if port else _DEFAULT_PORTS[self.security]

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context: the system's trusted certificates, or ``MAIL_SMTP_CA_FILE``."""
        ca_file = self.config.get("MAIL_SMTP_CA_FILE")
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if not self.config.get("MAIL_SMTP_VERIFY", True):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def open(self) -> None:
        if self.connection is not None:
            return
        from .smtp_connection import SMTPConnection, SMTPSSLConnection, close_quietly

        timeout = float(self.config.get("MAIL_SMTP_TIMEOUT", 10.0))
        connection: SMTPConnection
        if self.security == "ssl":
            connection = SMTPSSLConnection(
                self.host, self.port, local_hostname(), timeout=timeout, context=self.ssl_context()
            )
        else:
            connection = SMTPConnection(self.host, self.port, local_hostname(), timeout=timeout)
        try:
            # Commands and the held-back end of a message are small writes: send each at once
            # rather than wait (Nagle) for the server to acknowledge the previous one.
            if connection.sock is not None:
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.security == "starttls":
                connection.ehlo()
                connection.starttls(context=self.ssl_context())
                connection.ehlo()
            username = self.config.get("MAIL_SMTP_USERNAME")
            if username:
                connection.login(username, self.config.get("MAIL_SMTP_PASSWORD") or "")
        except BaseException:
            close_quietly(connection)
            raise
        self.connection = connection

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        import smtplib  # imported already, with the connection's module

        from .smtp_connection import close_quietly

        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            close_quietly(connection)

    def send(self, message: Message) -> None:
        if message.sender is None:
            raise MessageError(f"The message {message.subject!r} has no sender: prepare() it before sending.")
        data = message.to_bytes()
        self.send_raw(address_email(message.sender), message.recipients, data)

    def send_raw(self, sender: str, recipients: list[str], data: bytes) -> dict[str, tuple[int, bytes]]:
        return self._sendmail(sender, recipients, data, None, None)

    def send_raw_staged(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        before_end: Callable[[], None],
        *,
        end_ready: Callable[[], bool] | None = None,
    ) -> dict[str, tuple[int, bytes]]:
        """Send ``MAIL FROM``, ``RCPT TO``, ``DATA`` and the body, then call ``before_end``, then the end.

        See :meth:`Backend.send_raw_staged`. When ``before_end`` raises, the
        connection is closed without the message's end (the server discards
        it) and the exception propagates; :meth:`delivery_uncertain` is then
        ``False``. When ``end_ready()`` is true at the body, ``before_end`` is
        called first and the body goes out with its end in one write.
        """
        return self._sendmail(sender, recipients, data, before_end, end_ready)

    def _sendmail(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        before_end: Callable[[], None] | None,
        end_ready: Callable[[], bool] | None,
    ) -> dict[str, tuple[int, bytes]]:
        import smtplib  # imported already, by open()

        from .smtp_connection import close_quietly

        self.uncertain = False
        self.open()
        assert self.connection is not None
        # Nothing of this message is written yet: a failure before its MAIL FROM (the client refusing it, say)
        # must not be taken for one after the previous message's end, which set the flag on this connection.
        self.connection.data_written = False
        try:
            options = self._mail_options(self.connection, data, sender, recipients)
            self.connection.before_end, self.connection.end_ready = before_end, end_ready
            try:
                self.refused = self.connection.sendmail(sender, recipients, data, options)
            finally:
                self.connection.before_end = self.connection.end_ready = None
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
            # The server answered with a refusal: the connection is still usable, unless it said 421 (closing)
            # or smtplib closed it already: a 421 to RCPT TO comes as SMTPRecipientsRefused, without a code of
            # its own, and a connection lost during the RSET after a refusal is closed without a word. Kept,
            # such a connection would fail the next message before it even began.
            if getattr(exc, "smtp_code", None) == 421 or self.connection.sock is None:
                connection, self.connection = self.connection, None
                close_quietly(connection)
            raise
        except BaseException:
            connection, self.connection = self.connection, None
            self.uncertain = bool(getattr(connection, "data_written", False))
            close_quietly(connection)
            raise
        return self.refused

    def delivery_uncertain(self, exc: BaseException) -> bool:
        return self.uncertain

    @staticmethod
    def _mail_options(connection: smtplib.SMTP, data: bytes, sender: str, recipients: list[str]) -> list[str]:
        # As smtplib's send_message: SMTPUTF8 for an address that is not ASCII;
        # and BODY=8BITMIME for 8bit content when the server supports it.
        if not (sender.isascii() and all(recipient.isascii() for recipient in recipients)):
            connection.ehlo_or_helo_if_needed()
            if not connection.has_extn("smtputf8"):
                import smtplib  # imported already, with the connection's module

                raise smtplib.SMTPNotSupportedError(
                    "An address of the message is not ASCII, but the server does not support SMTPUTF8."
                )
            return ["SMTPUTF8", "BODY=8BITMIME"]
        if data.isascii():
            return []
        connection.ehlo_or_helo_if_needed()
        return ["BODY=8BITMIME"] if connection.has_extn("8bitmime") else []

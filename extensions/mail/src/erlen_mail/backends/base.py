"""The interface every mail backend implements."""

from __future__ import annotations

import abc
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from flask import Flask

    from ..message import Message


class Backend(abc.ABC):
    """Delivers messages: over SMTP, to the console, to files, to a provider's API.

    A backend is made for one send or one batch, so it may hold a connection
    without locking: :meth:`open` is called before the first message,
    :meth:`send` once per message, :meth:`close` at the end (and in the
    middle of a batch, to reconnect). Plugins add backends through the
    ``erlen_mail_backends`` hook.

    :param app: the app whose configuration the backend reads.
    """

    #: The name the backend is chosen by in ``MAIL_BACKEND``; set when registered.
    name: t.ClassVar[str] = ""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.config = app.config

    # open and close are optional: backends without a connection inherit these no-ops.
    def open(self) -> None:  # noqa: B027
        """Open a connection, if the backend uses one. Calling it again while open does nothing."""

    def close(self) -> None:  # noqa: B027
        """Close the connection, if open; never raises for a connection that is already gone."""

    @abc.abstractmethod
    def send(self, message: Message) -> None:
        """Deliver one prepared message, opening the connection first if needed.

        :param message: the message, with its sender, ``Date`` and ``Message-ID`` filled in.
        :raises Exception: any exception means the message was not sent; its
            text is reported as the reason.
        """
        ...

    def send_raw(self, sender: str, recipients: list[str], data: bytes) -> dict[str, tuple[int, bytes]]:
        """Deliver a message already serialised (the durable outbox sends these).

        By default the bytes are parsed back into a :class:`~erlen_mail.Message`
        (its ``Date``, ``Message-ID`` and headers kept) and given to
        :meth:`send`, so a backend that implements only ``send`` delivers queued
        mail too. Backends that speak MIME (SMTP, a provider's raw-message API)
        override it to send the bytes as they are.

        :param sender: the envelope sender, a bare address.
        :param recipients: the envelope recipients (to, cc and bcc), bare addresses.
        :param data: the message as :meth:`Message.to_bytes` made it.
        :returns: recipients the server refused while it accepted others (SMTP), else ``{}``.
        :raises Exception: the message was not sent (unless :meth:`delivery_uncertain` says otherwise).
        """
        from ..message import message_from_raw

        self.send(message_from_raw(sender, recipients, data))
        return {}

    def send_raw_staged(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        before_end: Callable[[], None],
        *,
        end_ready: Callable[[], bool] | None = None,
    ) -> dict[str, tuple[int, bytes]]:
        """Deliver a serialised message as :meth:`send_raw` does, calling ``before_end`` before its end.

        ``before_end`` is called once, as late as the backend can: after
        everything that does not let the server accept the message yet was
        handed over, and before what does. The durable outbox waits there for
        the commit that records the message as being handed over, so the
        commit overlaps the exchange. The ``smtp`` backend calls it after
        ``MAIL FROM``, ``RCPT TO``, ``DATA`` and the body, before the final
        ``.`` line; this default calls it first, then :meth:`send_raw`. When the
        server refuses the message before that point, ``before_end`` is not
        called.

        :param sender: the envelope sender, a bare address.
        :param recipients: the envelope recipients, bare addresses.
        :param data: the message as :meth:`Message.to_bytes` made it.
        :param before_end: called before the message can be accepted; when it
            raises, the message is not delivered and the exception propagates.
        :param end_ready: whether ``before_end`` would return at once (what it
            waits for is done). A backend may then call it earlier and send
            the message in fewer writes: the ``smtp`` backend writes the body
            and its end together.
        :returns: as :meth:`send_raw`.
        """
        before_end()
        return self.send_raw(sender, recipients, data)

    def delivery_uncertain(self, exc: BaseException) -> bool:
        """Whether the failure ``exc`` of the last send may have happened after the message was accepted.

        The SMTP backend answers ``True`` when the connection broke after the
        whole message was written and before the server's answer was read: the
        server may have accepted it. The durable outbox then marks the message
        ``uncertain`` rather than sending it again. ``False`` by default.
        """
        return False

    def __enter__(self) -> Backend:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

"""Sending messages: one at a time, or many over one connection, with a result per message."""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from erlen import plugins_of

from ..errors import MessageError, SendError
from ..state import state_of

if t.TYPE_CHECKING:
    from flask import Flask

    from ..backends.base import Backend
    from ..message import Message

logger = logging.getLogger("erlen_mail")

Status = t.Literal["sent", "failed", "cancelled"]


@dataclass
class SendResult:
    """What became of one message.

    :param message: the message.
    :param status: ``"sent"`` (handed to the backend), ``"failed"`` or
        ``"cancelled"`` (by a plugin's ``erlen_mail_before_send``).
    :param error: why it failed or who cancelled it; ``None`` when sent.
    :param exception: the exception that made it fail, if any.
    :param refused: recipients the SMTP server refused while it accepted
        others, with the server's code and reply.
    """

    message: Message
    status: Status
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    refused: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    @property
    def sent(self) -> bool:
        """Whether the message was handed to the backend."""
        return self.status == "sent"

    @property
    def failed(self) -> bool:
        """Whether sending the message failed."""
        return self.status == "failed"


@dataclass
class BulkResult:
    """The results of :func:`send_many`, one per message, in the order given."""

    results: list[SendResult] = field(default_factory=list)

    def __iter__(self) -> Iterator[SendResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> SendResult:
        return self.results[index]

    @property
    def sent(self) -> list[SendResult]:
        """The results of the messages that were sent."""
        return [r for r in self.results if r.status == "sent"]

    @property
    def failed(self) -> list[SendResult]:
        """The results of the messages that failed."""
        return [r for r in self.results if r.status == "failed"]

    @property
    def cancelled(self) -> list[SendResult]:
        """The results of the messages a plugin cancelled."""
        return [r for r in self.results if r.status == "cancelled"]

    @property
    def ok(self) -> bool:
        """Whether no message failed (cancelled ones do not count as failures)."""
        return not self.failed

    def summary(self) -> str:
        """One line: how many were sent, failed and cancelled."""
        return f"{len(self.sent)} sent, {len(self.failed)} failed, {len(self.cancelled)} cancelled"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Sender:
    """Sends messages of one app through one backend instance."""

    def __init__(self, app: Flask, backend: Backend, *, log_failures: bool) -> None:
        self.app = app
        self.log_failures = log_failures
        self.backend = backend
        self.registry = plugins_of(app)
        self.default_sender = app.config.get("MAIL_DEFAULT_SENDER")
        # The enabled plugins do not change during a send or a batch.
        self.before_send = self.registry.implements("erlen_mail_before_send")

    def send_one(self, message: Message) -> SendResult:
        try:
            # Checked after the hooks (which may change the message); before
            # them as well only when there are hooks to see the message.
            message.prepare(self.default_sender, check=self.before_send)
            if self.before_send:
                for plugin, outcome in self.registry.iter_each("erlen_mail_before_send", message=message):
                    if outcome is False:
                        return SendResult(message, "cancelled", f"cancelled by plugin {plugin.name!r}")
            message.check_headers()
            self.backend.send(message)
        except Exception as exc:
            result = SendResult(message, "failed", _describe(exc), exc)
            if self.log_failures:
                logger.warning("Mail %r to %s failed: %s", message.subject, message.recipients, result.error)
            self._notify("erlen_mail_send_failed", message=message, error=exc)
            return result
        refused = dict(getattr(self.backend, "refused", None) or {})
        result = SendResult(message, "sent", refused=refused)
        if refused:
            logger.warning("Mail %r: the server refused some recipients: %s", message.subject, refused)
        self._notify("erlen_mail_after_send", message=message, result=result)
        return result

    def _notify(self, hook: str, *, message: Message, **kwargs: object) -> None:
        # Every plugin is called, whatever the others do: one plugin's failure
        # must not keep the next (an audit log, say) from hearing about the
        # send. The registry logs each failure with its traceback (logger
        # erlen.plugins); the send's outcome stands.
        for plugin, exc in self.registry.notify(hook, message=message, **kwargs):
            logger.error(
                "Plugin %r failed in %s for the mail %r (%s); the send's outcome stands",
                plugin.name,
                hook,
                message.subject,
                _describe(exc),
            )


def _app(app: Flask | None) -> Flask:
    if app is not None:
        return app
    from flask import current_app

    return t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]


def send(message: Message, *, app: Flask | None = None) -> SendResult:
    """Send one message now, through the app's backend.

    :param message: the message.
    :param app: the app; the current app by default.
    :returns: its result: ``"sent"``, or ``"cancelled"`` by a plugin.
    :raises MessageError: the message is invalid (no recipient, no sender,
        a line break in a header value: :class:`HeaderInjectionError`).
    :raises SendError: the backend could not send it; ``error.result``
        holds the :class:`SendResult` and ``__cause__`` the original exception.
    """
    app = _app(app)
    backend = state_of(app).make_backend()
    try:
        result = _Sender(app, backend, log_failures=False).send_one(message)
    finally:
        backend.close()
    if result.failed:
        if isinstance(result.exception, MessageError):
            raise result.exception
        raise SendError(
            f"Could not send the message {message.subject!r} to {', '.join(message.recipients) or 'nobody'} "
            f"through the {state_of(app).backend_name!r} backend: {result.error}",
            result=result,
        ) from result.exception
    return result


def send_many(
    messages: Iterable[Message], *, app: Flask | None = None, reconnect_after: int | None = None
) -> BulkResult:
    """Send many messages over one backend connection, reconnecting after every ``reconnect_after``.

    Never raises for one message: each gets a :class:`SendResult` telling
    whether it was sent, failed (and why) or was cancelled. When the
    connection breaks, the next message opens a new one.

    :param messages: the messages; an iterable is consumed lazily.
    :param app: the app; the current app by default.
    :param reconnect_after: messages per connection; ``MAIL_BULK_RECONNECT_AFTER``
        by default; ``0`` never reconnects on purpose.
    """
    app = _app(app)
    if reconnect_after is None:
        reconnect_after = int(app.config.get("MAIL_BULK_RECONNECT_AFTER", 100))
    backend = state_of(app).make_backend()
    sender = _Sender(app, backend, log_failures=True)
    bulk = BulkResult()
    handed = 0
    try:
        for message in messages:
            if reconnect_after > 0 and handed and handed % reconnect_after == 0:
                backend.close()
            result = sender.send_one(message)
            bulk.results.append(result)
            if result.status != "cancelled":
                handed += 1
    finally:
        backend.close()
    if bulk.failed:
        logger.warning("Bulk mail: %s", bulk.summary())
    return bulk

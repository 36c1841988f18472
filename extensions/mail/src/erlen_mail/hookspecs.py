"""The hooks erlen-mail adds, for plugins that extend it.

Implement them with :data:`erlen.hookimpl` in any enabled plugin; it should
declare ``requires=["mail"]`` (or ``integrates_with``).
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from erlen import hookspec

if t.TYPE_CHECKING:
    from .backends.base import Backend
    from .bulk.sending import SendResult
    from .message import Message


@hookspec
def erlen_mail_backends() -> Mapping[str, type[Backend]]:
    """Return more backends, by the name ``MAIL_BACKEND`` chooses them with.

    Each is a subclass of :class:`erlen_mail.Backend` (a provider's HTTP API,
    say). A name another plugin or erlen-mail itself already uses is an error.

    .. code-block:: python

        @erlen.hookimpl
        def erlen_mail_backends():
            return {"acme": AcmeAPIBackend}
    """


@hookspec
def erlen_mail_before_send(message: Message) -> bool | None:
    """Called before each message is sent; alter it in place, or cancel it.

    Return ``False`` to cancel: the message is not sent, later plugins' hooks
    are not called, and its :class:`~erlen_mail.SendResult` has the status
    ``"cancelled"`` naming the plugin. Any other return value (``None``)
    lets it go on. Raising marks the message failed, with the exception as
    the reason. The message's headers are checked again after the hooks.
    Queued messages meet the hooks when they are queued; suppressed ones
    (``suppressed=``), which are never sent, do not meet them.

    :param message: the message about to be sent; its sender, ``Date`` and
        ``Message-ID`` are already filled in.
    """


@hookspec
def erlen_mail_after_send(message: Message, result: SendResult) -> None:
    """Called after a message was handed to the backend successfully.

    An exception raised here is logged (loggers ``erlen.plugins``, with the
    traceback, and ``erlen_mail``) and does not
    turn the send into a failure: the message has already left.

    :param message: the message that was sent.
    :param result: its result, with the status ``"sent"``.
    """


@hookspec
def erlen_mail_send_failed(message: Message, error: BaseException) -> None:
    """Called when a message could not be sent (a hook or the backend raised).

    An exception raised here is logged (loggers ``erlen.plugins``, with the
    traceback, and ``erlen_mail``).

    :param message: the message that was not sent.
    :param error: the exception that stopped it.
    """

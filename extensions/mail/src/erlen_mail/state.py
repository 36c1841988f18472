"""The per-app state of erlen-mail, kept in ``app.extensions["mail"]``."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass, field

import erlen
from erlen import ConfigError

if t.TYPE_CHECKING:
    from flask import Flask

    from .backends.base import Backend
    from .message import Message

#: The key of ``app.extensions`` under which :class:`MailState` lives.
EXTENSION_KEY = "mail"


@dataclass
class MailState:
    """What erlen-mail knows about one app.

    :param app: the app.
    :param backends: every available backend class, by name (erlen-mail's are imported when first read: see
        :class:`erlen_mail.backends.Backends`).
    :param backend_name: the backend in use.
    """

    app: Flask
    backends: Mapping[str, type[Backend]]
    backend_name: str
    #: Messages the ``memory`` backend has sent, oldest first.
    outbox: list[Message] = field(default_factory=list)

    def use_backend(self, name: str) -> None:
        """Switch the app to the backend ``name`` (tests use this for ``memory``).

        The backend's module is imported here, so that one that cannot be imported fails when the app is
        created, not at its first message.

        :param name: the backend's name, as ``MAIL_BACKEND`` gives it.
        :raises ConfigError: there is no such backend.
        """
        if name not in self.backends:
            raise ConfigError(
                f"MAIL_BACKEND is {name!r}, which is not a known mail backend. "
                f"Known backends: {', '.join(sorted(self.backends))}. Backends of other plugins are available "
                "once those plugins are enabled in PLUGINS."
            )
        self.backends[name]  # imported now
        self.backend_name = name

    def make_backend(self) -> Backend:
        """A new instance of the backend in use, for one send or one batch."""
        return self.backends[self.backend_name](self.app)


def state_of(app: Flask | None = None) -> MailState:
    """The erlen-mail state of ``app``, or of the current app.

    :raises erlen.PluginNotEnabledError: the ``mail`` plugin is not enabled on the app (a ``ConfigError``).
    """
    return t.cast(MailState, erlen.extension_state(EXTENSION_KEY, app))

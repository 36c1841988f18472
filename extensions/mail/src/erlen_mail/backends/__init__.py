"""Mail backends: where messages go.

A process uses one backend, the one ``MAIL_BACKEND`` names, for its whole
life (tests switch with :meth:`erlen_mail.MailState.use_backend`). The
backends erlen-mail ships are therefore named here by their import paths and
each is imported when chosen: a worker sending through the console does not
carry the SMTP client, nor the file and memory backends.
"""

from __future__ import annotations

import importlib
import typing as t
from collections.abc import Iterator, Mapping

import erlen

from .base import Backend

if t.TYPE_CHECKING:
    from .console import ConsoleBackend
    from .file import FileBackend
    from .memory import MemoryBackend
    from .null import NullBackend
    from .smtp import SMTPBackend

#: The backends erlen-mail ships, by the name ``MAIL_BACKEND`` chooses them with: ``"module:class"``.
BUILTIN_BACKENDS: dict[str, str] = {
    "smtp": f"{__name__}.smtp:SMTPBackend",
    "console": f"{__name__}.console:ConsoleBackend",
    "file": f"{__name__}.file:FileBackend",
    "memory": f"{__name__}.memory:MemoryBackend",
    "null": f"{__name__}.null:NullBackend",
}


class Backends(Mapping[str, type[Backend]]):
    """Backend classes by name, each given as a class or as a ``"module:class"`` path imported when first read.

    :param backends: each backend's class or path, by name.
    """

    def __init__(self, backends: Mapping[str, type[Backend] | str]) -> None:
        self._backends = dict(backends)

    def __getitem__(self, name: str) -> type[Backend]:
        backend = self._backends[name]
        if isinstance(backend, str):
            module, _, attribute = backend.partition(":")
            backend = t.cast("type[Backend]", getattr(importlib.import_module(module), attribute))
            self._backends[name] = backend  # kept: imported once
        return backend

    def __iter__(self) -> Iterator[str]:
        return iter(self._backends)

    def __len__(self) -> int:
        return len(self._backends)

    def __contains__(self, name: object) -> bool:
        # Without reading the value, which would import the backend.
        return name in self._backends

    def __repr__(self) -> str:
        return f"Backends({self._backends!r})"


__getattr__ = erlen.lazy_exports(
    __name__, {path.rpartition(":")[2]: path.partition(":")[0] for path in BUILTIN_BACKENDS.values()}
)

__all__ = [
    "BUILTIN_BACKENDS",
    "Backend",
    "Backends",
    "ConsoleBackend",
    "FileBackend",
    "MemoryBackend",
    "NullBackend",
    "SMTPBackend",
]

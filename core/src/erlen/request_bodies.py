"""A request body the server cannot read is the client's error (400), not the app's (500).

A server that decodes a chunked body while the app reads it raises its own
errors from ``wsgi.input``'s ``read`` for a body whose chunks are malformed or
cut short: gunicorn's ``InvalidChunkSize``, ``ChunkMissingTerminator`` and
``NoMoreData``, Werkzeug's development server's ``OSError("Invalid chunk
header")``. Werkzeug turns a failed read into a 400 only where it wraps the
stream itself, which it does not for such a server (``wsgi.input_terminated``),
so they reached the form, the view or the API as a 500. Bodies sent with
``Content-Length`` need nothing of this: Werkzeug's own wrapper answers 400 for
them.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Callable, Iterator

from flask import Request
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.utils import cached_property

logger = logging.getLogger(__name__)


#: What the 400 says (error pages show a description given to the exception, not a class's own).
UNREADABLE = (
    "The request's body could not be read: its chunked transfer coding is malformed, or the connection ended "
    "before the body did. Send the body again, whole (with Content-Length, or valid chunks)."
)


class UnreadableBody(BadRequest):
    """The 400 of a request whose body the server could not read."""


class GuardedInput:
    """``wsgi.input`` whose read errors are :class:`UnreadableBody` (a 400).

    :param stream: the server's ``wsgi.input``.
    """

    def __init__(self, stream: t.Any) -> None:
        self._stream = stream

    def _guarded(self, read: Callable[..., t.Any], *args: t.Any) -> t.Any:
        try:
            return read(*args)
        except HTTPException:
            raise
        except Exception as exc:
            # Logged: should a failure of the server itself ever come this way, it still shows.
            logger.info("The request's body could not be read: %r", exc)
            raise UnreadableBody(UNREADABLE) from exc

    def read(self, *args: t.Any) -> bytes:
        """``wsgi.input.read``."""
        return t.cast(bytes, self._guarded(self._stream.read, *args))

    def readline(self, *args: t.Any) -> bytes:
        """``wsgi.input.readline``."""
        return t.cast(bytes, self._guarded(self._stream.readline, *args))

    def readlines(self, *args: t.Any) -> list[bytes]:
        """``wsgi.input.readlines``."""
        return t.cast(list[bytes], self._guarded(self._stream.readlines, *args))

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._stream, name)


class GuardedRequest(Request):
    """Flask's request, reading a chunked body through :class:`GuardedInput` (Erlen apps' ``request_class``).

    The stream is wrapped when a view, a form or the API first reads the body: a request without one pays
    nothing. An app that sets a ``request_class`` of its own keeps the guard by subclassing this one.
    """

    @cached_property
    def stream(self) -> t.IO[bytes]:
        environ = self.environ
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            environ["wsgi.input"] = GuardedInput(environ["wsgi.input"])
        return super().stream

"""Request ids: one per request, taken from the client's (or load balancer's) header or made, and answered.

On when ``REQUEST_IDS`` is true or ``LOG_FORMAT`` is ``"json"``; off, a request does no work for them.
The id comes from the ``REQUEST_ID_HEADER`` header (``X-Request-ID``) when it is a plausible id (1 to
:data:`MAX_LENGTH` letters, digits and ``-_.:=+/@``); otherwise, or without the header, a new random one
is made. It is sent back in the same header of the response, and the JSON log lines written while the
request is handled carry it. Code reads it with :func:`erlen.request_id`.
"""

from __future__ import annotations

import contextvars
import re
import secrets
import typing as t
from collections.abc import Callable, Iterable

if t.TYPE_CHECKING:
    from flask import Flask

#: The longest id taken from a request; a longer one is replaced by a new id.
MAX_LENGTH = 128

#: An id taken from a request: what load balancers and tracing systems send (UUIDs, ``Root=1-...``), nothing
#: that could break a log line or a header.
_VALID = re.compile(rf"[A-Za-z0-9\-_.:=+/@]{{1,{MAX_LENGTH}}}")

#: The id of the request being handled in this context; ``None`` outside requests or with request ids off.
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("erlen_request_id", default=None)

#: The key of the WSGI environ under which the request's id is kept too.
ENVIRON_KEY = "erlen.request_id"


def request_id() -> str | None:
    """The id of the request being handled: the one its ``X-Request-ID`` header gave, or the one made for it.

    ``None`` outside a request, or when request ids are off (``REQUEST_IDS`` false and ``LOG_FORMAT`` not
    ``"json"``).
    """
    return _current.get()


def valid_request_id(value: str | None) -> bool:
    """Whether ``value``, a request's header, is taken as its id (else a new one is made).

    :param value: the header's value, ``None`` when absent.
    """
    return value is not None and _VALID.fullmatch(value) is not None


def new_request_id() -> str:
    """A new random request id: 32 hexadecimal digits, as a UUID without dashes."""
    return secrets.token_hex(16)


WSGIApp = Callable[[dict[str, t.Any], Callable[..., t.Any]], Iterable[bytes]]


def with_request_ids(wsgi_app: WSGIApp, header: str) -> WSGIApp:
    """``wsgi_app`` giving each request an id (see the module's documentation) and answering it in ``header``.

    :param wsgi_app: the app's WSGI callable.
    :param header: the request and response header, such as ``X-Request-ID``.
    """
    environ_key = "HTTP_" + header.upper().replace("-", "_")
    lowered = header.lower()

    def add_request_id(environ: dict[str, t.Any], start_response: Callable[..., t.Any]) -> Iterable[bytes]:
        given = environ.get(environ_key)
        value = given if given is not None and _VALID.fullmatch(given) else secrets.token_hex(16)
        environ[ENVIRON_KEY] = value

        def start(status: str, response_headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            if not any(name.lower() == lowered for name, _ in response_headers):
                response_headers.append((header, value))
            return start_response(status, response_headers, exc_info)

        token = _current.set(value)
        try:
            return wsgi_app(environ, start)
        finally:
            _current.reset(token)

    return add_request_id


def register_request_ids(app: Flask) -> None:
    """Wrap ``app.wsgi_app`` with :func:`with_request_ids` when the app's settings turn request ids on.

    :param app: an Erlen app whose settings are loaded.
    """
    if app.config.get("REQUEST_IDS") or app.config.get("LOG_FORMAT") == "json":
        app.wsgi_app = with_request_ids(app.wsgi_app, app.config["REQUEST_ID_HEADER"])  # type: ignore[method-assign,assignment]

"""Reverse proxies in front of the app: the ``TRUSTED_PROXY_HOPS`` setting.

Behind a reverse proxy (nginx, a load balancer) the app sees the proxy's
connection: its address, plain HTTP, and whatever ``Host`` it forwards. The
proxy tells the real client's in ``X-Forwarded-For``, ``-Proto``, ``-Host``,
``-Port`` and ``-Prefix``, and a client can send the same headers itself, so
they are trusted only for as many proxies as the app says are there.

With ``TRUSTED_PROXY_HOPS`` at *n* > 0, :func:`apply_proxy_hops` wraps the
app in Werkzeug's :class:`~werkzeug.middleware.proxy_fix.ProxyFix`, taking
the *n*-th value from the right of each header: ``request.remote_addr`` is
the client's address, ``request.scheme`` and ``url_for(..., _external=True)``
say ``https``, and the ``Host`` checked against ``TRUSTED_HOSTS`` is the one
the client asked for.

At 0 (the default) the headers are ignored. Since that is wrong behind a
proxy, the first :data:`WATCHED_REQUESTS` requests of each process are
watched: the first that carries one is logged as a warning (once per
process) and kept in :class:`ProxyState` for ``erlen check --deploy`` run in
that process. Then the watch takes itself out, so requests after those cost
nothing: behind a proxy every request carries the headers, so a few
requests tell, even with a load balancer's direct health checks among them.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
from dataclasses import dataclass

from flask import Flask

logger = logging.getLogger("erlen.proxies")

#: The key of ``app.extensions`` under which the :class:`ProxyState` lives.
EXTENSION_KEY = "erlen.proxies"

#: How many requests of each process are watched for forwarded headers while ``TRUSTED_PROXY_HOPS`` is 0.
WATCHED_REQUESTS = 1000

#: The WSGI keys of the forwarded headers whose arrival, with no trusted proxy, is worth a warning.
#: Every proxy set up to forward anything sends one of these. (The watch spells them out, for speed.)
WATCHED_HEADERS: dict[str, str] = {
    "HTTP_X_FORWARDED_FOR": "X-Forwarded-For",
    "HTTP_X_FORWARDED_PROTO": "X-Forwarded-Proto",
    "HTTP_X_FORWARDED_HOST": "X-Forwarded-Host",
}


@dataclass(frozen=True)
class ForwardedRequest:
    """The first request that came with a forwarded header while ``TRUSTED_PROXY_HOPS`` was 0.

    :param header: the header's name, such as ``X-Forwarded-For``.
    :param remote_addr: the address the request came from (the proxy's, if there is one).
    :param at: when it came (UTC).
    """

    header: str
    remote_addr: str | None
    at: dt.datetime


@dataclass
class ProxyState:
    """The proxy setting of one app, in ``app.extensions["erlen.proxies"]``.

    :param hops: ``TRUSTED_PROXY_HOPS`` as the app was created with.
    :param forwarded: the first request with a forwarded header while ``hops`` is 0; ``None`` until one comes.
    :param unwatched: how many more requests are watched for one (0 once one came).
    """

    hops: int
    forwarded: ForwardedRequest | None = None
    unwatched: int = 0


def proxy_state(app: Flask) -> ProxyState | None:
    """The :class:`ProxyState` of ``app``; ``None`` when Erlen has not finished setting it up."""
    return t.cast("ProxyState | None", app.extensions.get(EXTENSION_KEY))


def apply_proxy_hops(app: Flask) -> None:
    """Trust ``TRUSTED_PROXY_HOPS`` proxies' forwarded headers, or watch for them when it is 0.

    Called once Erlen and every plugin have set the app up, so the fix wraps
    any middleware they added: all of it sees the client's address and scheme.

    :param app: the app, with ``TRUSTED_PROXY_HOPS`` validated.
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    state = ProxyState(hops, unwatched=0 if hops else WATCHED_REQUESTS)
    app.extensions[EXTENSION_KEY] = state
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    else:
        app.wsgi_app = _watching_forwarded_headers(app, state)  # type: ignore[method-assign]


def _watching_forwarded_headers(app: Flask, state: ProxyState) -> t.Any:
    """``app.wsgi_app`` noting the first request with a forwarded header among the first few, then taking itself out.

    A closure rather than an object with ``__call__``: it costs a watched request half as much.

    :param app: the app whose ``wsgi_app`` it wraps.
    :param state: where the request is noted.
    """
    wsgi_app = app.wsgi_app

    def watch_forwarded_headers(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        if state.unwatched > 0:
            # Unlocked: threads racing here at worst watch a request or two more or fewer.
            state.unwatched -= 1
            if (
                "HTTP_X_FORWARDED_FOR" in environ
                or "HTTP_X_FORWARDED_PROTO" in environ
                or "HTTP_X_FORWARDED_HOST" in environ
            ):
                _note(state, environ)
            if state.unwatched <= 0 and app.wsgi_app is watch_forwarded_headers:
                # Nothing wrapped the watch since: later requests go straight to the app and pay nothing.
                app.wsgi_app = wsgi_app  # type: ignore[method-assign]
        return wsgi_app(environ, start_response)

    watch_forwarded_headers.wsgi_app = wsgi_app  # type: ignore[attr-defined]  # what it wraps, as middleware say
    return watch_forwarded_headers


def _note(state: ProxyState, environ: dict[str, t.Any]) -> None:
    if state.forwarded is not None:
        return  # another thread noted it first
    header = next(name for key, name in WATCHED_HEADERS.items() if key in environ)
    remote_addr = environ.get("REMOTE_ADDR")
    state.forwarded = ForwardedRequest(header, remote_addr, dt.datetime.now(dt.UTC))
    state.unwatched = 0  # one is enough
    logger.warning(
        "A request came with %s (from %s), but TRUSTED_PROXY_HOPS is 0, so the X-Forwarded-* headers are "
        "ignored: behind a reverse proxy, links are built with the proxy's scheme and host (http:// instead of "
        "https://) and every client has the proxy's address, so one client's failed log-ins throttle everyone. "
        "Set ERLEN_TRUSTED_PROXY_HOPS to the number of reverse proxies in front of the app (1 for one nginx). "
        "If none is, a client sent the header itself and this can be ignored. Logged once per process.",
        header,
        remote_addr or "an unknown address",
    )

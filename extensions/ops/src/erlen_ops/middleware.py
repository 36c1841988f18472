"""The WSGI middleware in front of the app: health, readiness and metrics endpoints, request metrics.

The endpoints are answered before Flask sees the request: no session is
opened, no CSRF check, no plugin's ``before_request``, no database touched
(``/healthz``), and no trusted-host check either, since load balancers probe
by address. The middleware sits inside the proxy fix (``TRUSTED_PROXY_HOPS``),
so the address ``/metrics`` allows is the client's.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import time
import typing as t
from collections.abc import Iterable

from flask import has_request_context
from flask.globals import request_ctx
from werkzeug.wrappers import Response

# Not the metrics module: it imports prometheus-client, which an app with metrics off never needs.
from .names import MULTIPROCESS_VARIABLE, QUERIES_KEY, UNMATCHED

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .metrics import AppMetrics
    from .state import OpsState

_NO_STORE = {"Cache-Control": "no-store"}

logger = logging.getLogger("erlen_ops.metrics")


class OpsMiddleware:
    """Answers the ops endpoints; counts the other requests when metrics are on.

    :param wsgi_app: the app's WSGI callable to wrap.
    :param state: the app's erlen-ops state.
    """

    def __init__(self, wsgi_app: WSGIApplication, state: OpsState) -> None:
        self.wsgi_app = wsgi_app
        self.state = state
        settings = state.settings
        self.health_path: str = settings.health_path
        self.ready_path: str = settings.ready_path
        self.metrics_path: str | None = settings.metrics_path if settings.metrics else None
        self.allowed = [ipaddress.ip_network(network, strict=False) for network in settings.metrics_allow]
        self.token = settings.metrics_token.encode() if settings.metrics_token else None
        #: Whether requests are counted: from :meth:`serve_with`, once the metrics are set up.
        self.count = False
        self._metrics_failure_logged = False

    def serve_with(self, metrics: AppMetrics | None, wsgi_app: WSGIApplication | None = None) -> None:
        """Count the requests with ``metrics`` and answer them with ``wsgi_app`` from now on (called by the set-up
        of the app's metrics and tracing, :meth:`OpsState.start`, before it serves a request through this).

        :param metrics: the app's metrics, if on.
        :param wsgi_app: the app's WSGI callable wrapped by the tracing, if on.
        """
        if wsgi_app is not None:
            self.wsgi_app = wsgi_app
        if metrics is not None:
            # Bound once: the per-request path makes no attribute lookups through the state.
            self._observe = metrics.observe_request
            self._enter = metrics.in_flight.enter
            self._leave = metrics.in_flight.leave
            self.count = True

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == self.health_path:
            return self._answer(environ, start_response, self._healthz)
        if path == self.ready_path:
            return self._answer(environ, start_response, self._readyz)
        if not self.state.started:
            # The first request of an app the erlen command created (erlen run): metrics and tracing now. A set-up
            # that fails is logged, the request answered all the same, and the set-up goes on at the next request.
            self.state.start_or_log()
        if path == self.metrics_path:
            return self._answer(environ, start_response, self._metrics)
        if self.count:
            return self._counted(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _answer(
        self, environ: WSGIEnvironment, start_response: StartResponse, make: t.Callable[[WSGIEnvironment], Response]
    ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            response = Response("Method Not Allowed\n", 405, {"Allow": "GET, HEAD", **_NO_STORE}, mimetype="text/plain")
        else:
            response = make(environ)
        return response(environ, start_response)

    def _healthz(self, environ: WSGIEnvironment) -> Response:
        return _json({"status": "ok"}, 200)

    def _readyz(self, environ: WSGIEnvironment) -> Response:
        checker = self.state.checker
        if checker is None:  # the app is still starting
            return _json({"status": "fail", "checks": {}}, 503)
        readiness = checker.readiness()
        return _json(readiness.as_json(), 200 if readiness.ready else 503)

    def _metrics(self, environ: WSGIEnvironment) -> Response:
        if not self._allowed(environ):
            return Response("Forbidden\n", 403, _NO_STORE, mimetype="text/plain")
        from prometheus_client import CONTENT_TYPE_LATEST

        from .metrics import exposition

        metrics = self.state.metrics_made  # __call__ has just tried to set them up
        if metrics is None:  # their set-up failed (logged): a reason for the scraper, not a 500
            return Response(
                "Metrics unavailable: erlen-ops could not set them up yet (see the app's log).\n",
                503,
                _NO_STORE,
                mimetype="text/plain",
            )
        folder = metrics.in_flight.folder
        if folder is not None and not os.path.isdir(folder):
            # prometheus-client would raise (a 500); the scraper gets a reason instead, the operator the log.
            self._metrics_failed(FileNotFoundError(f"The folder {folder!r} is gone"))
            return Response(
                f"Metrics unavailable: the folder of {MULTIPROCESS_VARIABLE} is gone.\n",
                503,
                _NO_STORE,
                mimetype="text/plain",
            )
        try:
            metrics.in_flight.publish()
        except OSError as exc:
            self._metrics_failed(exc)  # the other workers' values can still be read
        body = exposition(metrics.factory)
        return Response(body, 200, {"Content-Type": CONTENT_TYPE_LATEST, **_NO_STORE})

    def _allowed(self, environ: WSGIEnvironment) -> bool:
        if self.token is not None:
            given = environ.get("HTTP_AUTHORIZATION", "")
            scheme, _, credentials = given.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token):
                return True
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
                environ.get("REMOTE_ADDR", "")
            )
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            # A server listening on both IPv6 and IPv4 ([::]) sees IPv4 clients as ::ffff:a.b.c.d.
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed)

    def _counted(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        status = ["500", UNMATCHED]

        def noting_status(status_line: str, headers: t.Any, exc_info: t.Any = None) -> t.Any:
            # Flask starts the response inside the request context: the matched rule is still at hand, on the
            # request werkzeug keeps in the environ (cheaper than the context-local proxy).
            status[0] = status_line[:3]
            rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
            if rule is None and has_request_context():
                rule = request_ctx.request.url_rule
            if rule is not None and rule.endpoint:
                status[1] = rule.endpoint
            return start_response(status_line, headers, exc_info)

        try:
            self._enter()
        except OSError as exc:  # the metrics' folder went away (a cleaner of /tmp): the request is answered anyway
            self._metrics_failed(exc)
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        try:
            return self.wsgi_app(environ, noting_status)
        finally:
            try:
                self._leave()
                self._observe(
                    status[1],
                    environ.get("REQUEST_METHOD", ""),
                    status[0],
                    time.perf_counter() - started,
                    environ.get(QUERIES_KEY, 0) if self.state.counts_queries else None,
                )
            except OSError as exc:
                self._metrics_failed(exc)

    def _metrics_failed(self, exc: OSError) -> None:
        """Log, once per process, that the metrics could not be written; requests are answered all the same."""
        if not self._metrics_failure_logged:
            self._metrics_failure_logged = True
            logger.error(
                "Metrics cannot be written (%s: %s): requests are answered but not all counted. Is the folder of "
                "%s still there, writable? Recreate it and restart the app.",
                type(exc).__name__,
                exc,
                MULTIPROCESS_VARIABLE,
            )


def _json(body: object, status: int) -> Response:
    return Response(json.dumps(body, sort_keys=True) + "\n", status, _NO_STORE, mimetype="application/json")

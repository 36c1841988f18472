"""Cross-origin requests (CORS) to the APIs, from the origins of ``API_CORS_ORIGINS`` only.

`Flask-Cors <https://flask-cors.readthedocs.io/>`_ computes the headers:
``Access-Control-Allow-Origin`` naming the request's origin when it is on the
list (and nothing for any other origin, so the browser keeps the response from
the page), the answer to preflight requests (``OPTIONS`` with
``Access-Control-Request-Method``: the allowed methods and headers and
``Access-Control-Max-Age``), ``Access-Control-Allow-Credentials`` with
``API_CORS_CREDENTIALS``, and ``Access-Control-Expose-Headers``, which lets
scripts read ``ETag``, ``Link``, ``Location``, the rate-limit headers and the
others of ``API_CORS_EXPOSE_HEADERS``.

The headers are added to the responses under the APIs' prefixes only (not to
the rest of the site), errors included, by one ``after_request`` function of
the app: the options are the app's, even when one ``Api`` blueprint is
registered on several apps. Allowing an origin changes nothing in CSRF:
state-changing requests with the session cookie still need the CSRF token in
their header (see :mod:`erlen_api.security`), which a script of another
origin cannot read.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_cors.core import get_cors_options, set_cors_headers

import erlen

#: The headers scripts of allowed origins may read, by default.
DEFAULT_EXPOSE_HEADERS = [
    "ETag",
    "Link",
    "Location",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "Deprecation",
    "Sunset",
    "WWW-Authenticate",
]

#: The request headers allowed origins may send, by default (the CSRF header is added).
DEFAULT_ALLOW_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match"]

_ORIGIN = re.compile(r"https?://[^/?#\s]+")


def validate_origins(origins: list[str]) -> None:
    """Check ``API_CORS_ORIGINS``: origins such as ``https://app.example.com``, or ``*``.

    :param origins: the setting's value.
    :raises ValueError: an item is not an origin (a path, a trailing slash, no scheme).
    """
    for origin in origins:
        if origin == "*":
            continue
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(
                "must list origins, a scheme and a host with an optional port such as 'https://app.example.com' "
                f"or 'http://localhost:5173' (no path, no trailing slash), or '*'; {origin!r} is not one"
            )
        try:
            urlsplit(origin).port  # noqa: B018 - a port that is no number raises
        except ValueError:
            raise ValueError(f"lists {origin!r}, whose port is not a number") from None


def _origin_patterns(origins: list[str]) -> list[str | re.Pattern[str]]:
    """The origins as Flask-Cors matches them: each one exactly (Flask-Cors reads some characters as a regex).

    :param origins: the allowed origins.
    """
    if "*" in origins:
        return ["*"]
    return [re.compile(re.escape(origin.rstrip("/")) + r"\Z", re.IGNORECASE) for origin in origins]


def install(app: Flask) -> None:
    """Answer cross-origin requests to the app's APIs from the origins of ``API_CORS_ORIGINS``.

    Nothing is installed when the list is empty (the default): browsers then keep every cross-origin response
    from the page, as without CORS.

    :param app: the app, whose settings are validated.
    :raises erlen.SettingError: ``*`` with ``API_CORS_CREDENTIALS`` (any site could act as the user).
    """
    config = app.config
    origins: list[str] = list(config["API_CORS_ORIGINS"])
    if not origins:
        return
    credentials = bool(config["API_CORS_CREDENTIALS"])
    if credentials and "*" in origins:
        raise erlen.SettingError(
            "API_CORS_ORIGINS is '*' while API_CORS_CREDENTIALS is on: every site could make requests with the "
            "user's cookies and read the answers. List the origins allowed (such as 'https://app.example.com'), "
            "or turn API_CORS_CREDENTIALS off.",
            key="API_CORS_ORIGINS",
            plugin="api",
        )
    allow_headers = list(config["API_CORS_ALLOW_HEADERS"])
    for header in config.get("FORMS_CSRF_HEADERS") or ["X-CSRF-Token"]:
        if header not in allow_headers:
            allow_headers.append(header)
    options = get_cors_options(
        app,
        {
            "origins": _origin_patterns(origins),
            "supports_credentials": credentials,
            "max_age": config["API_CORS_MAX_AGE"],
            "expose_headers": list(config["API_CORS_EXPOSE_HEADERS"]),
            "allow_headers": allow_headers,
            "methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            # No Access-Control-Allow-Origin listing every allowed origin on requests without Origin.
            "always_send": False,
            # Vary: Origin is added below, also with a single allowed origin.
            "vary_header": False,
            "send_wildcard": "*" in origins,
        },
    )
    wildcard = "*" in origins

    def add_cors_headers(response: Response) -> Response:
        from .state import state_of

        if not state_of(t.cast(Flask, current_app._get_current_object())).covers(request.path):  # type: ignore[attr-defined]
            return response
        set_cors_headers(response, options)
        if not wildcard:
            response.vary.add("Origin")
        return response

    app.after_request(add_cors_headers)

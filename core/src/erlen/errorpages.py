"""Error pages: 400, 404, 500... in the app's layout, or as JSON for clients that ask for JSON.

One mechanism serves every error page of Erlen and its plugins (a missing
page, a refused CSRF token, an unreachable database): :func:`error_response`.
The page is the first of these templates that exists:

1. the template a plugin names for its own page (``forms/csrf_error.html``);
2. ``errors/<status>.html``, so an app overrides the page of one status;
3. ``erlen/error.html``, which extends the layout (``erlen/layout.html``).

Error pages never touch the database, so they still work while it is down:
they render with no context processor and no ``erlen_template_context``
hook run, only with the names plugins give through :func:`erlen_error_context
<erlen.hookspecs.erlen_error_context>`, which never load anything.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, json, request
from flask.globals import request_ctx
from jinja2 import Template
from werkzeug.exceptions import HTTPException, default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

#: The title and explanation of each status that gets a page of its own words; others use Werkzeug's.
MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood. Check the address or the form, then try again."),
    401: ("Log-in required", "You need to log in to see this page."),
    403: ("Access denied", "You do not have permission to see this page."),
    404: ("Page not found", "There is no page at this address. The link may be mistaken, or the page was removed."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("Request too large", "The request is larger than the server accepts."),
    429: ("Too many requests", "You sent too many requests in a short time. Wait a moment, then try again."),
    500: (
        "Something went wrong",
        "An unexpected error happened on our side. It was logged; please try again in a moment.",
    ),
    503: ("Service unavailable", "The service is temporarily unavailable. Please try again in a few moments."),
}

#: The media types of a JSON error answer, the problem type first (RFC 9457).
_JSON_TYPES = ("application/problem+json", "application/json")


def wants_json() -> bool:
    """Whether the current request prefers a JSON answer to an HTML page.

    It does when its ``Accept`` header ranks a JSON type above HTML, or when
    it sent JSON and accepts anything.
    """
    accept = request.accept_mimetypes
    if accept.best_match(["text/html", *_JSON_TYPES]) in _JSON_TYPES:
        return True
    return request.is_json and not any(value == "text/html" for value, _quality in accept)


def describe(status: int, exc: HTTPException | None = None) -> tuple[str, str]:
    """The title and detail of the error page for ``status``.

    :param status: the HTTP status.
    :param exc: the exception raised, if any: a description given to it
        (``abort(404, "No such note.")``) is the detail; a 500's never is
        (it may hold internals).
    """
    exception_class = default_exceptions.get(status)
    if status in MESSAGES:
        title, detail = MESSAGES[status]
    else:
        title = HTTP_STATUS_CODES.get(status, "Error")
        description: object = exception_class.description if exception_class is not None else None
        detail = description if isinstance(description, str) else ""
    if exc is not None and status < 500 and exc.description and exc.description != type(exc).description:
        detail = exc.description
    return title, detail or ""


def error_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    template: str | None = None,
    headers: Mapping[str, str] | None = None,
    exception: HTTPException | None = None,
    json_body: Mapping[str, t.Any] | None = None,
    **context: t.Any,
) -> Response:
    """The answer to a request that failed with ``status``: a JSON problem or the error page.

    A client that prefers JSON (:func:`wants_json`) gets
    ``{"status", "title", "detail"}`` as ``application/problem+json``;
    others get the page :func:`render_error_page` renders. Neither touches
    the database.

    :param status: the HTTP status, such as 404.
    :param title: the page's heading; by default the status's (``Page not found``).
    :param detail: one or two sentences saying what happened and what to do.
    :param template: a template to try before ``errors/<status>.html``.
    :param headers: headers to send, such as ``Retry-After``.
    :param exception: the HTTP exception raised, for its description and headers (``Allow`` of a 405).
    :param json_body: more members of the JSON answer.
    :param context: more names for the template.
    """
    default_title, default_detail = describe(status, exception)
    title = title if title is not None else default_title
    detail = detail if detail is not None else default_detail
    all_headers: dict[str, str] = {}
    if exception is not None:
        all_headers.update((name, value) for name, value in exception.get_headers() if name.lower() != "content-type")
    all_headers.update(headers or {})
    if wants_json():
        body = {"status": status, "title": title, "detail": detail, **(json_body or {})}
        return current_app.response_class(
            json.dumps(body), status=status, headers=all_headers, mimetype="application/problem+json"
        )
    return render_error_page(status, title=title, detail=detail, template=template, headers=all_headers, **context)


def render_error_page(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    template: str | None = None,
    headers: Mapping[str, str] | None = None,
    **context: t.Any,
) -> Response:
    """The HTML error page for ``status``, in the app's layout, rendered without touching the database.

    The template is the first that exists of ``template``,
    ``errors/<status>.html`` and ``erlen/error.html``. It gets ``status``,
    ``title``, ``detail``, ``home_url``, ``back_url`` (the referring page,
    when it is on this site), ``context``, and the names of
    :func:`~erlen.hookspecs.erlen_error_context`; no context processor runs.
    Should the template itself fail, a plain page answers (and the failure is
    logged), never a bare server error.

    :param status: the HTTP status.
    :param title: the heading; by default the status's.
    :param detail: what happened and what to do; by default the status's.
    :param template: a template to try first.
    :param headers: headers to send with the page.
    :param context: more names for the template.
    """
    from .app import plugins_of

    app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    default_title, default_detail = describe(status)
    title = title if title is not None else default_title
    detail = detail if detail is not None else default_detail
    names: dict[str, t.Any] = {}
    for _plugin, extra in plugins_of(app).call_each("erlen_error_context"):
        names.update(extra or {})
    names.update(
        status=status,
        title=title,
        detail=detail,
        home_url=(request.script_root or "") + "/",
        back_url=_back_url(),
        erlen_error_page=True,
        **context,
    )
    candidates: list[str | Template] = [
        name for name in (template, f"errors/{status}.html", "erlen/error.html") if name
    ]
    if request_ctx.url_adapter is None:
        # No URLs can be built for this request (its Host is not trusted, so it was never routed): the
        # layout's links and stylesheets cannot be either. The plain page is the answer, not a failure.
        body = _plain_page(status, title, detail)
    else:
        try:
            body = app.jinja_env.get_or_select_template(candidates).render(names)
        except Exception:
            app.logger.exception("The error page for %s could not be rendered; a plain page was sent instead.", status)
            body = _plain_page(status, title, detail)
    response = app.response_class(body, status=status, mimetype="text/html")
    response.headers.update(headers or {})
    return response


def _back_url() -> str | None:
    """The page the user came from, when it is a page of this site that is not the failing ``GET`` itself.

    A form that posts to its own address (the usual way) has that address as its referrer: when the post
    fails (an expired CSRF token, a file too large), going back is a ``GET`` of the same address, which shows
    the form again, as the error page tells the user to do. Only a ``GET`` or ``HEAD`` whose referrer is its own
    address gets no back link: it would only load the failing page again.
    """
    referrer = request.referrer
    if not referrer:
        return None
    if request_ctx.url_adapter is None:
        return None  # the request's Host is not trusted: request.host and request.url would raise again
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    if referrer == request.url and request.method in ("GET", "HEAD"):
        return None
    return referrer


def _plain_page(status: int, title: str, detail: str) -> str:
    from markupsafe import escape

    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body><main><h1>{escape(title)}</h1><p>{escape(detail)}</p>"
        f'<p><a href="{escape((request.script_root or "") + "/")}">Go to the home page</a></p></main></body></html>'
    )


def handle_http_exception(exc: HTTPException) -> t.Any:
    """Answer an HTTP error (4xx, 5xx, and unhandled exceptions as 500) with :func:`error_response`.

    An exception that carries its own response (``abort(response)``, or a
    class that overrides ``get_response``) keeps it.

    :param exc: the exception Flask caught.
    """
    status = exc.code
    if status is None or status < 400:
        return exc
    if exc.response is not None or type(exc).get_response is not HTTPException.get_response:
        return exc  # it carries its own answer (abort(response), an API's problem document)
    return error_response(status, exception=exc)


def register_error_pages(app: Flask) -> None:
    """Answer every HTTP error of ``app`` with an error page, unless a handler of its own answers it.

    Registered for :class:`~werkzeug.exceptions.HTTPException`, so any
    handler for one status (``@app.errorhandler(404)``) or of a blueprint
    comes first.

    :param app: the app.
    """
    app.register_error_handler(HTTPException, handle_http_exception)

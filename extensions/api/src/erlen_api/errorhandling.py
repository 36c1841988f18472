"""Every error under an API's prefix answered with a problem document, never an HTML page or a traceback.

* Errors raised while an API endpoint runs (a :class:`~erlen_api.Problem`,
  Flask's ``abort(404)``, Werkzeug's 413, an unexpected exception) are
  handled by the API blueprint's handlers, which Flask consults before the
  app's: an app's HTML 404 page does not apply under the API.
* A request under an API's prefix that matches no route (404), or not with
  its method (405), never reaches a blueprint: :func:`answer_routing_error`
  answers it, before any other ``before_request`` function.
* erlen-db's unavailable database (its ``is_unavailable`` errors) is a 503
  with ``Retry-After``, like erlen-db's own page.
* A value the database refuses to store (SQLAlchemy's ``DataError``: text
  with a NUL character or too long for its column, a number out of its
  column's range), in an endpoint that takes inputs, is a 422 naming where
  the inputs are: a type such as ``str`` lets it through, the database is
  the first to refuse it, and it is the client's to correct. Other
  database errors (a division by zero in the view's query) stay 500s.
* A stored row that the response schema refuses (written by plain SQL or
  an older version) is a 500 of type ``urn:erlen:problem:stored-value-invalid``
  naming the resource and the fields, and an error in the log naming the
  row (:mod:`erlen_api.stored_values`).
"""

from __future__ import annotations

import importlib.util
import typing as t

from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import HTTPException, NotFound, default_exceptions

from .endpoint import ENDPOINTS_ATTRIBUTE, Endpoint
from .problems import PROBLEM_TYPES, Problem, problem_response
from .stored_values import StoredValueError, answer_stored_value_error

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

#: The headers of Werkzeug's errors that a problem document keeps (the rest describe its HTML page).
_KEPT_HEADERS = frozenset({"allow", "www-authenticate", "retry-after", "accept-patch", "accept-post", "location"})


def to_problem(exc: HTTPException) -> Response | HTTPException:
    """The problem document of an HTTP error; redirects (``RequestRedirect``) are returned as they are.

    :param exc: the error.
    """
    if isinstance(exc, Problem):
        return _with_instance(exc.get_response(), exc)
    status = exc.code or 500
    if status < 400:
        return exc
    headers = {name: value for name, value in exc.get_headers() if name.lower() in _KEPT_HEADERS}
    # A 500's description may come from an exception's message: never show it.
    detail = "The server met an unexpected error." if status == 500 else exc.description
    return problem_response(status, detail, headers=headers, instance=request.path)


def _with_instance(response: Response, exc: Problem) -> Response:
    """The problem's response, with the request's path as its ``instance`` unless it has one.

    :param response: the problem's own response.
    :param exc: the problem.
    """
    if "instance" in exc.extensions:
        return response
    return problem_response(
        t.cast(int, exc.code),
        exc.detail,
        type=exc.type,
        title=exc.title,
        headers=exc.headers,
        instance=request.path,
        **exc.extensions,
    )


#: The detail of a value the database refuses; its own message (which may quote the value) goes to the log only.
_NOT_STORABLE = (
    "A value cannot be stored: too long, out of range, or holding a character the database refuses (such as NUL)."
)


#: The SQLSTATEs of a value that cannot be stored: too long (``22001``, ``22026``), out of range (``22003``,
#: ``22008``), a character the column's encoding lacks (``22021``, ``22P05``). The rest of class ``22`` (a division
#: by zero, an invalid regular expression, ...) comes of the view's own query as much as of the request's values:
#: a 500.
_NOT_STORABLE_SQLSTATES = frozenset({"22001", "22026", "22003", "22008", "22021", "22P05"})


def _refuses_a_value(exc: Exception) -> bool:
    """Whether the database error ``exc`` says a value cannot be stored (see :data:`_NOT_STORABLE_SQLSTATES`).

    A ``DataError`` without a SQLSTATE is the driver's own refusal of a value it is given, such as psycopg's of
    a NUL character.

    :param exc: SQLAlchemy's ``DataError``.
    """
    original = getattr(exc, "orig", None)
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return sqlstate is None or str(sqlstate) in _NOT_STORABLE_SQLSTATES


def _current_endpoint() -> Endpoint | None:
    """The endpoint the current request reached, or ``None`` outside the API's typed views."""
    view = current_app.view_functions.get(request.endpoint or "")
    endpoints: dict[str, Endpoint] | None = getattr(view, ENDPOINTS_ATTRIBUTE, None)
    if not endpoints:
        return None
    method = request.method
    return endpoints.get(method) or endpoints.get("GET" if method == "HEAD" else "")


def _not_storable(exc: Exception) -> Response | None:
    """A 422 for a value of the request that the database refuses; ``None`` when the endpoint takes no inputs.

    Without inputs the value was the server's own making: that stays a 500.

    :param exc: SQLAlchemy's ``DataError``.
    """
    endpoint = _current_endpoint()
    if endpoint is None or not endpoint.has_inputs:
        return None
    current_app.logger.warning("The database refused a value of the request: %s", exc.__class__.__name__, exc_info=exc)
    error: dict[str, t.Any] = {"detail": _NOT_STORABLE, "type": "value_not_storable"}
    if endpoint.body is not None:
        error.update(location="body", pointer="#")
    else:
        location = "query" if endpoint.query or endpoint.query_models else "path"
        error.update(location=location, parameter=None)
    return problem_response(
        422,
        "The request has 1 invalid input.",
        type=PROBLEM_TYPES["validation"],
        title="Invalid request",
        instance=request.path,
        errors=[error],
    )


def _database_error(exc: Exception) -> Response:
    """erlen-db's unavailable database as a 503 problem, a value it refuses as a 422; others go on to the 500.

    :param exc: a SQLAlchemy error.
    """
    from sqlalchemy.exc import DataError

    from erlen_db import RETRY_AFTER, is_unavailable, note_unavailable

    if not is_unavailable(exc):
        refused = _not_storable(exc) if isinstance(exc, DataError) and _refuses_a_value(exc) else None
        if refused is None:
            raise exc
        return refused
    note_unavailable()
    current_app.logger.error("Database unavailable: %s", exc.__class__.__name__, exc_info=exc)
    return problem_response(
        503,
        "The database is unavailable. Try again shortly.",
        type=PROBLEM_TYPES["database-unavailable"],
        title="Service Unavailable",
        headers={"Retry-After": str(RETRY_AFTER)},
        instance=request.path,
    )


def register_handlers(blueprint: Blueprint) -> None:
    """Answer every error of ``blueprint``'s views with a problem document.

    A handler per status code (an app's handler for a code would otherwise win over a blueprint's for the
    class), one for any other HTTP error, one for stored rows the response schema refuses, and, when erlen-db
    is installed, one for its unavailable database.

    :param blueprint: an API blueprint.
    """
    for code in default_exceptions:
        blueprint.register_error_handler(code, to_problem)
    blueprint.register_error_handler(HTTPException, to_problem)
    blueprint.register_error_handler(StoredValueError, answer_stored_value_error)
    if importlib.util.find_spec("erlen_db") is not None:
        from sqlalchemy.exc import SQLAlchemyError

        blueprint.register_error_handler(SQLAlchemyError, _database_error)


def answer_routing_error() -> Response | HTTPException | None:
    """A problem document for a request under an API's prefix that matched no route, or not with its method.

    Runs first among the app's ``before_request`` functions.
    """
    # The request itself rather than its proxy: this runs before every request of the app.
    error = request._get_current_object().routing_exception  # type: ignore[attr-defined]
    if error is None or not isinstance(error, HTTPException) or (error.code or 500) < 400:
        return None
    from .state import state_of

    state = state_of(t.cast(Flask, current_app._get_current_object()))  # type: ignore[attr-defined]
    if not state.covers(request.path):
        return None
    if isinstance(error, NotFound) and error.description == NotFound.description:
        # Werkzeug's words are for a person at a browser ("if you entered the URL manually..."); an API client
        # needs to know where the paths and their parameters' types are listed (an id of letters matches none).
        document = f"{current_app.config['API_URL_PREFIX'].rstrip('/')}/openapi.json"
        error = NotFound(
            f"No operation of the API has the path {request.path}: check it, and the type of each of its "
            f"parameters (a number where an id is one), against the OpenAPI document at {document}."
        )
    response = to_problem(error)
    lifecycle = state.lifecycle_for(request.path)
    if lifecycle is not None and not isinstance(response, HTTPException):
        lifecycle.apply(response)
    return response


def install_routing_handler(app: Flask) -> None:
    """Run :func:`answer_routing_error` before any other ``before_request`` function of ``app``.

    :param app: the app.
    """
    functions = app.before_request_funcs.setdefault(None, [])
    functions.insert(0, answer_routing_error)

"""Conditional requests: ``ETag`` and ``If-None-Match`` (304) on reads, ``If-Match`` (412, 428) on writes.

* Every successful ``GET`` (and ``HEAD``) under an API's prefix that answers
  JSON gets an ``ETag``, the tag :func:`erlen_api.etags.entity_tag` makes of
  its body; a request whose ``If-None-Match`` names it is answered ``304 Not
  Modified`` without a body. A view that sets its own ``ETag`` keeps it, and
  ``If-None-Match`` is compared with that one.
* A hand-written update or delete calls :func:`check_if_match` with the
  resource's current value before changing it: a client that sends the
  ``ETag`` of an older version gets a 412, so two clients editing the same
  resource cannot overwrite each other's changes unseen (optimistic
  concurrency). With ``API_REQUIRE_IF_MATCH``, a request without
  ``If-Match`` gets a 428.
"""

from __future__ import annotations

import typing as t

from flask import Flask, current_app, request
from pydantic import BaseModel, TypeAdapter
from werkzeug.wrappers import Response

from .etags import entity_tag, matches
from .problems import Problem, problem_response
from .state import ApiState, state_of

if t.TYPE_CHECKING:
    from .endpoint import Endpoint

#: The methods whose successful JSON answers carry an ``ETag``.
_READS = frozenset({"GET", "HEAD"})

#: The ``Content-Type`` of erlen-api's JSON answers, as werkzeug writes it for ``mimetype="application/json"``.
_JSON_CONTENT_TYPE = "application/json"

#: The bodies read as they are: a list or tuple of chunks (a constant, not ``list | tuple`` made on each call).
_SEQUENCES = (list, tuple)

#: The headers a 304 keeps besides those describing the body (RFC 9110, 15.4.5: the others describe no body).
_BODY_HEADERS = ("Content-Type", "Content-Length", "Content-Encoding", "Content-Range")


def representation(value: t.Any, response_type: t.Any = None) -> bytes:
    """The bytes a ``GET`` answers for ``value``: its JSON, as the endpoint's response type serialises it.

    :param value: the resource's current value: a model instance, or what validates into ``response_type``
        (a dict, an ORM object with the same attributes); bytes are taken as the representation itself.
    :param response_type: the response type of the ``GET`` endpoint reading the resource; the type of
        ``value`` by default (which must then be the response type, such as a pydantic model).
    """
    if isinstance(value, bytes):
        return value
    kind = response_type if response_type is not None else type(value)
    adapter: TypeAdapter[t.Any] = TypeAdapter(kind)
    if not (isinstance(kind, type) and type(value) is kind and isinstance(value, BaseModel)):
        value = adapter.validate_python(value, from_attributes=True)
    return adapter.dump_json(value, by_alias=True)


def etag_of(value: t.Any, response_type: t.Any = None) -> str:
    """The ``ETag`` a ``GET`` of the resource answers, for a view to send with its own response.

    :param value: the resource's value (see :func:`representation`).
    :param response_type: the ``GET`` endpoint's response type; the type of ``value`` by default.
    """
    return entity_tag(representation(value, response_type))


def check_if_match(current: t.Any, response_type: t.Any = None) -> None:
    """Refuse an update or delete whose ``If-Match`` names another version than ``current``.

    Call it in a ``PATCH``, ``PUT`` or ``DELETE`` view once the resource is found, before changing it::

        note = NOTES.get(id) or erlen_api.abort(404, f"No note {id}.")
        erlen_api.check_if_match(note)  # 412 when the client's copy is stale

    The tag is compared (strongly) with the one a ``GET`` of the resource answers, made by the same rule.
    Without ``If-Match`` the request goes on, unless ``API_REQUIRE_IF_MATCH`` is set. Declare
    ``responses={412: ...}`` on the endpoint to document the header and the answers.

    :param current: the resource's current value, as the ``GET`` endpoint answers it (see :func:`representation`).
    :param response_type: the ``GET`` endpoint's response type; the type of ``current`` by default.
    :raises Problem: 412 when ``If-Match`` names another version; 428 when it is missing and
        ``API_REQUIRE_IF_MATCH`` is set.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if current_app.config.get("API_REQUIRE_IF_MATCH"):
            raise Problem(
                428,
                "This request must say which version it changes: send If-Match with the ETag of the resource "
                "as you last read it.",
            )
        return
    tag = etag_of(current, response_type)
    if not matches(header, tag, weak=False):
        raise Problem(
            412,
            "The resource has changed since you read it (If-Match names another version): read it again, "
            "and apply your change to the current version.",
            headers={"ETag": tag},
        )


def tag_response(response: Response) -> Response:
    """Give a successful JSON answer to a read its ``ETag``; answer 304 when ``If-None-Match`` names it.

    An ``after_request`` function of the app (the plugin calls :func:`tag_response_of`, with the state at hand):
    only responses under an API's prefix are tagged.

    :param response: the response of the current request.
    """
    return tag_response_of(response, state_of(t.cast(Flask, current_app._get_current_object())))  # type: ignore[attr-defined]


def tag_response_of(response: Response, state: ApiState) -> Response:
    """:func:`tag_response`, given the ``api`` plugin's state of the current app.

    :param response: the response of the current request.
    :param state: the state, whose prefixes say which paths are an API's.
    """
    if response.status_code != 200 or response.direct_passthrough:
        return response
    # The request once, rather than through its proxy for each attribute: this runs on every response.
    current = request._get_current_object()  # type: ignore[attr-defined]
    if current.method not in _READS:
        return response
    headers = response.headers
    # One pass over the headers for both: Headers.get raises (and builds) a KeyError for a header that is
    # absent, as ETag usually is. The first of each, as Headers.get answers.
    content_type = tag = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-type":
            if content_type is None:
                content_type = value
        elif lowered == "etag" and tag is None:
            tag = value
    # erlen-api's own answers carry exactly this header; anything else is parsed as werkzeug parses it.
    if content_type != _JSON_CONTENT_TYPE and response.mimetype != "application/json":
        return response
    chunks = response.response
    body: list[t.Any] | tuple[t.Any, ...] | None = chunks if isinstance(chunks, _SEQUENCES) else None
    if body is None and response.is_streamed:
        return response
    if not state.covers(current.path):
        return response
    if tag is None:
        # A body of one bytes object (as erlen-api makes them) is the representation itself: no copy to join.
        single = body is not None and len(body) == 1 and type(body[0]) is bytes
        tag = entity_tag(body[0] if single else response.get_data())  # type: ignore[index]
        headers.add("ETag", tag)  # absent, as the pass above found: nothing to replace
    if_none_match = current.environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        try:
            if matches(if_none_match, tag, weak=True):
                return not_modified(response)
        except Problem as exc:
            # After the view: a read, which changed nothing. An after_request function cannot raise (a 500).
            return refused(response, exc, current.path)
    return response


def refused(response: Response, problem: Problem, path: str) -> Response:
    """``response`` turned into ``problem``'s answer, keeping the headers that do not describe its body (the
    rate limits', CORS', a version's ``Deprecation``), as :func:`not_modified` does.

    :param response: the answer of the view.
    :param problem: the problem to answer instead.
    :param path: the request's path, the problem's ``instance``.
    """
    answer = problem_response(
        t.cast(int, problem.code),
        problem.detail,
        type=problem.type,
        title=problem.title,
        instance=path,
        **problem.extensions,
    )
    response.status_code = answer.status_code
    response.set_data(answer.get_data())
    for name in ("ETag", "Last-Modified", "Content-Location"):
        response.headers.pop(name, None)
    response.headers["Content-Type"] = answer.headers["Content-Type"]
    return response


def not_modified(response: Response) -> Response:
    """``response`` turned into a ``304 Not Modified``: no body, the headers that describe it left out.

    :param response: a ``200`` answer whose tag the request's ``If-None-Match`` names.
    """
    response.status_code = 304
    response.set_data(b"")
    for name in _BODY_HEADERS:
        response.headers.pop(name, None)
    return response


def describe(operation: dict[str, t.Any], endpoint: Endpoint, app: Flask) -> None:
    """Document the conditional requests of an operation in its OpenAPI object.

    ``GET`` operations with a JSON answer: the ``ETag`` of the answer, the ``If-None-Match`` parameter and the
    304. Operations declaring a 412 (they call :func:`check_if_match`): the ``If-Match`` parameter, and the 428
    when ``API_REQUIRE_IF_MATCH`` is set.

    :param operation: the operation object, changed in place.
    :param endpoint: its endpoint.
    :param app: the app whose document it is.
    """
    responses: dict[str, t.Any] = operation["responses"]
    success = responses.get(str(endpoint.status), {})
    parameters: list[dict[str, t.Any]] = operation.setdefault("parameters", [])
    if endpoint.method == "GET" and endpoint.status == 200 and "content" in success:
        success.setdefault("headers", {})["ETag"] = {"$ref": "#/components/headers/ETag"}
        parameters.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "The ETag of the representation the client has: 304 when it is still current.",
                "schema": {"type": "string"},
            }
        )
        responses["304"] = {
            "description": "Not Modified: the representation still has the ETag that If-None-Match names.",
            "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
        }
        _describe_malformed(responses, "If-None-Match")
    if "412" in responses:
        _describe_malformed(responses, "If-Match")
        required = bool(app.config.get("API_REQUIRE_IF_MATCH"))
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": required,
                "description": "The ETag of the version the change applies to (from a GET): 412 when the "
                "resource has changed since.",
                "schema": {"type": "string"},
            }
        )
        if required:
            responses.setdefault("428", {**responses["412"], "description": "Precondition Required: send If-Match."})
    if not parameters:
        del operation["parameters"]


def _describe_malformed(responses: dict[str, t.Any], header: str) -> None:
    """Document the 400 of a malformed conditional ``header``: a response of its own, or a line added to the 400
    of an invalid body.

    :param responses: the operation's responses, changed in place.
    :param header: ``If-Match`` or ``If-None-Match``.
    """
    sentence = f"{header} is not * nor a list of entity tags."
    known = responses.get("400")
    if known is None:
        default = responses["default"]
        responses["400"] = {**default, "description": f"Bad Request: {sentence}"}
    else:
        responses["400"] = {**known, "description": f"{known['description']} Or: {sentence}"}


#: The ``components/headers`` of the document that :func:`describe` refers to.
HEADERS: dict[str, dict[str, t.Any]] = {
    "ETag": {
        "description": "The entity tag of the representation: send it back in If-None-Match (reads) or If-Match "
        "(updates and deletes).",
        "schema": {"type": "string"},
    },
}

"""Content negotiation: what a request accepts (406) and what its body is (415).

* An endpoint that answers a body answers JSON. A request whose ``Accept``
  refuses ``application/json`` gets a 406 problem document (problem
  documents are always acceptable: RFC 9110 lets an error disregard
  ``Accept``). The most specific media range that matches decides, with its
  parameters other than ``q`` ignored, so ``application/json;q=0, */*``
  refuses JSON and ``application/json; charset=utf-8`` accepts it. No
  ``Accept``, or one without a single valid media range, accepts anything.
* A body must be JSON (``application/json`` or a ``+json`` type) in UTF-8 and
  the ``identity`` coding: another media type, a ``charset`` other than
  UTF-8, or a ``Content-Encoding`` such as ``gzip``, gets a 415 that says what is accepted (``Accept-Patch``,
  ``Accept-Post``, ``Accept-Encoding``).
"""

from __future__ import annotations

import functools
import re
import typing as t
from collections.abc import Mapping

from flask import request

from .problems import PROBLEM_MEDIA_TYPE, Problem

#: The media type of successful responses.
JSON_MEDIA_TYPE = "application/json"


def _quality(parameters: list[str]) -> float:
    """The ``q`` of a media range's parameters; 1 when absent or unreadable.

    :param parameters: the parameters after the media range, such as ``["q=0.5"]``.
    """
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 1.0
    return 1.0


@functools.lru_cache(maxsize=256)
def accepts_json(accept: str | None) -> bool:
    """Whether an ``Accept`` header allows ``application/json``.

    Remembered per header value: a client sends the same header on every request, and parsing it was a
    good part of erlen-api's own work per request. A pure function of the text, so the memo holds no
    app's state; a client sending a new header each time only replaces old entries.

    :param accept: the header's value, or ``None`` when the request has none.
    """
    if not accept:
        return True
    best: tuple[int, float] | None = None  # (specificity, quality) of the most specific matching range
    valid = False
    for item in accept.split(","):
        media_range, *parameters = item.split(";")
        kind, slash, subtype = media_range.strip().lower().partition("/")
        if not slash or not kind or not subtype:
            continue
        valid = True
        if (kind, subtype) == ("application", "json"):
            specificity = 2
        elif (kind, subtype) == ("application", "*"):
            specificity = 1
        elif (kind, subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        quality = _quality(parameters)
        if best is None or specificity > best[0] or (specificity == best[0] and quality > best[1]):
            best = (specificity, quality)
    if not valid:
        return True
    return best is not None and best[1] > 0


def require_acceptable(environ: Mapping[str, t.Any] | None = None) -> None:
    """Refuse a request that does not accept JSON.

    :param environ: the current request's WSGI environ, when the caller has it at hand (saves a look-up through
        the request's proxy); the current request's by default.
    :raises Problem: 406.
    """
    if environ is None:
        environ = request.environ
    if not accepts_json(environ.get("HTTP_ACCEPT")):
        raise Problem(
            406,
            f"This endpoint answers {JSON_MEDIA_TYPE} (errors {PROBLEM_MEDIA_TYPE}); the request's Accept "
            "header refuses it.",
        )


def _accepted_media(method: str) -> dict[str, str]:
    """The headers saying which bodies a request of ``method`` may send.

    :param method: the request's method.
    """
    if method == "PATCH":
        return {"Accept-Patch": JSON_MEDIA_TYPE}
    if method == "POST":
        return {"Accept-Post": JSON_MEDIA_TYPE}
    return {}


#: The charsets a JSON body may declare: UTF-8, and ASCII, which is UTF-8 too.
_UTF8_NAME = re.compile(r"(?i)utf-?8|us-ascii|ascii")


def require_json_body() -> None:
    """Refuse a body that is not JSON, that declares a charset other than UTF-8, or that comes in a content coding
    (``gzip``) the API does not decode.

    :raises Problem: 415, with ``Accept-Encoding: identity`` for a coded body, ``Accept-Patch`` or ``Accept-Post``
        for another media type or charset.
    """
    coding = request.environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if coding and coding != "identity":
        raise Problem(
            415,
            f"The body must not be compressed: send it without Content-Encoding (not {coding}).",
            headers={"Accept-Encoding": "identity"},
        )
    mimetype = request.mimetype
    if mimetype != JSON_MEDIA_TYPE and not mimetype.endswith("+json"):
        raise Problem(
            415,
            f"The body must be JSON (Content-Type: {JSON_MEDIA_TYPE}), not {mimetype or 'of no declared type'}.",
            headers=_accepted_media(request.method) or None,
        )
    charset = request.mimetype_params.get("charset", "")
    if charset and _UTF8_NAME.fullmatch(charset) is None:
        # The body is read as UTF-8 whatever it declares: Latin-1 text would fail as invalid JSON, or its
        # characters read as others, and the client would not learn why.
        raise Problem(
            415,
            f"The body must be JSON in UTF-8 (RFC 8259), not charset={charset}: encode it in UTF-8, and declare "
            "charset=utf-8 or no charset.",
            headers=_accepted_media(request.method) or None,
        )


def describe(operation: dict[str, t.Any], has_body: bool, has_response: bool) -> None:
    """Document the negotiation answers of an operation: 406 when it answers a body.

    :param operation: the operation object, changed in place.
    :param has_body: whether the operation takes a body (its 415 is documented already).
    :param has_response: whether it answers a body.
    """
    responses: dict[str, t.Any] = operation["responses"]
    default = responses.get("default")
    if has_response and default is not None:
        responses.setdefault(
            "406", {**default, "description": "Not Acceptable: the request's Accept header refuses JSON."}
        )
    if has_body and "415" in responses:
        responses["415"] = {
            **responses["415"],
            "description": "The body is not JSON in UTF-8, or is compressed (Content-Encoding).",
        }

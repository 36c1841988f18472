"""Errors as RFC 9457 problem details: the documents, the exception that carries one, and their JSON Schemas.

Every error an API answers is a JSON object of the media type
``application/problem+json``::

    {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No note 7."}

``type`` is ``about:blank`` for errors that the HTTP status says all about,
and one of :data:`PROBLEM_TYPES` for those that carry more members (the
validation errors' ``errors``).
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

import pydantic_core
from flask import Response
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

#: The media type of problem documents.
PROBLEM_MEDIA_TYPE = "application/problem+json"

#: The ``type`` URIs of the problems that say more than their status. They are URNs: stable
#: identifiers for clients to compare, not pages to fetch (RFC 9457 allows both).
PROBLEM_TYPES: dict[str, str] = {
    "validation": "urn:erlen:problem:validation",
    "invalid-json": "urn:erlen:problem:invalid-json",
    "csrf": "urn:erlen:problem:csrf",
    "database-unavailable": "urn:erlen:problem:database-unavailable",
    "response-validation": "urn:erlen:problem:response-validation",
    "conflict": "urn:erlen:problem:conflict",
    "stored-value-invalid": "urn:erlen:problem:stored-value-invalid",
}


class ProblemDetails(BaseModel):
    """A problem document (RFC 9457), as OpenAPI describes it; extension members are allowed."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(default="about:blank", description="A URI identifying the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.", ge=100, le=599)
    detail: str | None = Field(default=None, description="What went wrong this time, for people.")
    instance: str | None = Field(default=None, description="The path of the request that failed.")


class FieldError(BaseModel):
    """One invalid input of a request: where it is and what is wrong with it."""

    model_config = ConfigDict(title="FieldError")

    detail: str = Field(description="What is wrong, for people.")
    location: t.Literal["body", "query", "path"] = Field(description="Where the input is.")
    pointer: str | None = Field(
        default=None, description="A JSON pointer (RFC 6901, URI fragment form) to the value in the body."
    )
    parameter: str | None = Field(default=None, description="The name of the query or path parameter.")
    type: str = Field(description="A stable code of the error, such as 'missing' or 'string_too_short'.")


class ValidationProblemDetails(ProblemDetails):
    """The problem of a request whose inputs are invalid: every error, each with its place."""

    model_config = ConfigDict(extra="allow", title="ValidationProblem")

    errors: list[FieldError]
    accepted_parameters: list[str] | None = Field(
        default=None,
        description="The query parameters the operation accepts, when the request has others it refuses "
        "(errors of type 'extra_forbidden').",
    )


class Problem(HTTPException):
    """An HTTP error answered with a problem document; raise it from a view (or use :func:`abort`).

    Outside an API it still renders as a problem document.

    :param status: the HTTP status code, 400 to 599.
    :param detail: what went wrong this time, for people.
    :param type: a URI identifying the kind of problem; ``about:blank`` by default, when the status says it all.
    :param title: a short summary of the kind of problem; the status's reason phrase by default.
    :param headers: headers to send with the response (``Retry-After``, ``WWW-Authenticate``...).
    :param extensions: more members of the document, such as ``errors``; JSON-serialisable values.
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        type: str = "about:blank",
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: t.Any,
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"A problem's status is an error status, 400 to 599, not {status}.")
        super().__init__(description=detail)
        self.code = status
        self.detail = detail
        self.type = type
        self.title = title or HTTP_STATUS_CODES.get(status, "Error")
        self.headers: dict[str, str] = dict(headers or {})
        self.extensions = extensions

    def get_response(self, environ: t.Any = None, scope: t.Any = None) -> Response:
        """The problem document as a response.

        :param environ: unused; Werkzeug's signature.
        :param scope: unused; Werkzeug's signature.
        """
        status = t.cast(int, self.code)
        return problem_response(
            status,
            self.detail,
            type=self.type,
            title=self.title,
            headers=self.headers,
            **self.extensions,
        )


def abort(status: int, detail: str | None = None, **options: t.Any) -> t.NoReturn:
    """Stop the view with a problem document, like :func:`flask.abort`::

        note = session.get(Note, id) or erlen_api.abort(404, f"No note {id}.")

    :param status: the HTTP status code, 400 to 599.
    :param detail: what went wrong, for people.
    :param options: the other arguments of :class:`Problem` (``type``, ``title``, ``headers``, extension members).
    :raises Problem: always.
    """
    raise Problem(status, detail, **options)


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    type: str = "about:blank",
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: t.Any,
) -> Response:
    """A response holding a problem document.

    :param status: the HTTP status code.
    :param detail: what went wrong this time, for people; left out when ``None``.
    :param type: a URI identifying the kind of problem.
    :param title: a short summary; the status's reason phrase by default.
    :param headers: headers to send with it.
    :param extensions: more members of the document.
    """
    document: dict[str, t.Any] = {
        "type": type,
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
    }
    if detail is not None:
        document["detail"] = detail
    document.update(extensions)
    response = Response(pydantic_core.to_json(document), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response

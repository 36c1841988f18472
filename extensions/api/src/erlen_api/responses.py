"""Turning what a view returns into a response: its value serialised straight to JSON bytes by pydantic.

A view returns a value of its declared response type (a model instance, a
dict, a dataclass, an ORM object with the attributes of the model, a list of
them), optionally in a tuple with a status and headers like any Flask view:
``return note, 201, {"Location": url}``. A Flask response passes through
untouched.

When responses are checked (``API_CHECK_RESPONSES``, by default in debug
and testing), the JSON produced is validated against the declared type
again, so a view that builds a model with ``model_construct`` or returns
something its type does not describe fails loudly in tests instead of
sending clients what the OpenAPI document does not promise.
"""

from __future__ import annotations

import types
import typing as t
from collections.abc import Mapping

import pydantic_core
from flask import Flask, Response
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response as WerkzeugResponse

from .endpoint import Endpoint
from .negotiation import JSON_MEDIA_TYPE as JSON_MEDIA_TYPE
from .stored_values import StoredValueError, stored_value_error


class ResponseValidationError(Exception):
    """A view returned a value its declared response type does not describe.

    Answered with a 500 (no details for the client); the message, in the log
    and in tests, names the view and every mismatch: where it is, what pydantic
    says of it and its error type, never the value (a row's data would reach the
    production log).

    :param endpoint: the endpoint whose view returned it.
    :param error: pydantic's error (a validation error, or a serialisation error).
    :param explanation: what the developer must change, when known (a field narrower than its column).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        error: ValidationError | pydantic_core.PydanticSerializationError,
        explanation: str | None = None,
    ) -> None:
        name = getattr(endpoint.view, "__qualname__", repr(endpoint.view))
        super().__init__(
            f"The view {name} ({endpoint.method}) returned a value that its response type "
            f"{_type_name(endpoint.response)} does not describe:\n{_without_values(error)}"
            + (f"\n{explanation}" if explanation else "")
        )
        self.endpoint = endpoint
        self.error = error


def _without_values(error: ValidationError | pydantic_core.PydanticSerializationError) -> str:
    """pydantic's error as its own text gives it, less the values (``input_value=...``): one line per mismatch.

    :param error: the validation or serialisation error.
    """
    if not isinstance(error, ValidationError):
        return str(error)
    lines = [f"{error.error_count()} validation error{'s' if error.error_count() != 1 else ''} for {error.title}"]
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"]) or "(the value)"
        lines.append(f"{where}\n  {item['msg']} [type={item['type']}]")
    return "\n".join(lines)


def _type_name(annotation: t.Any) -> str:
    """A type's name for messages.

    :param annotation: the type.
    """
    arguments, origin = t.get_args(annotation), t.get_origin(annotation)
    if origin in (t.Union, types.UnionType):
        return " | ".join(_type_name(item) for item in arguments)
    if arguments and origin is not None:  # list[NoteOut], not "list"
        return f"{_type_name(origin)}[{', '.join(_type_name(item) for item in arguments)}]"
    return getattr(annotation, "__name__", None) or repr(annotation)


def checks_responses(app: Flask) -> bool:
    """Whether ``app`` validates responses against their declared types (``API_CHECK_RESPONSES``).

    :param app: the app.
    """
    setting = app.config.get("API_CHECK_RESPONSES")
    if setting is None:
        return bool(app.debug or app.testing)
    return bool(setting)


def serialize(endpoint: Endpoint, value: t.Any, *, check: bool) -> bytes:
    """``value`` as JSON bytes, by the endpoint's declared response type.

    :param endpoint: the endpoint.
    :param value: what the view returned (without status and headers).
    :param check: validate the JSON produced against the declared type.
    :raises ResponseValidationError: ``value`` does not fit the declared type.
    :raises StoredValueError: rows of ``value`` (ORM instances) hold stored values the declared type refuses.
    """
    adapter = endpoint.response_adapter
    if adapter is None:
        return pydantic_core.to_json(value)
    response_type = endpoint.response
    returned = value
    validated = False  # whether the value validated: past that, an error is of the view's making
    try:
        if not (isinstance(response_type, type) and type(value) is response_type and isinstance(value, BaseModel)):
            # Dicts, dataclasses, ORM objects, lists of them: validated into the declared type first; ORM
            # instances from their loaded values when those validate the same.
            loaded = endpoint.loaded_values(value)
            try:
                value = adapter.validate_python(loaded, from_attributes=True)
            except ValidationError:
                if loaded is value:
                    raise
                # The error as the instances themselves give it (its input is the instance, not its dict).
                value = adapter.validate_python(value, from_attributes=True)
        validated = True
        # By alias, as the OpenAPI document describes responses (pydantic's serialization schema uses aliases).
        data = adapter.dump_json(value, by_alias=True, warnings="error" if check else "none")
        if check:
            adapter.validate_json(data)
    except (ValidationError, pydantic_core.PydanticSerializationError) as exc:
        # Rows as stored that their own columns refuse are the data's fault, not the view's: a problem naming the
        # fields. Values the columns allow but the type refuses are the type's: the developer's error, explained.
        found = None if validated or not isinstance(exc, ValidationError) else stored_value_error(returned, exc)
        if isinstance(found, StoredValueError):
            raise found from None
        raise ResponseValidationError(endpoint, exc, found.explanation if found is not None else None) from None
    return data


def make_response(app: Flask, endpoint: Endpoint, returned: t.Any) -> WerkzeugResponse:
    """The response of the view of ``endpoint``, from what it returned.

    :param app: the current app.
    :param endpoint: the endpoint that ran.
    :param returned: the view's return value: a response, a value, or ``(value, status)``,
        ``(value, headers)``, ``(value, status, headers)``.
    :raises ResponseValidationError: the value does not fit the declared type.
    """
    if isinstance(returned, WerkzeugResponse):
        return returned
    status: int = endpoint.status
    headers: Headers | Mapping[str, str] | None = None
    value = returned
    if isinstance(returned, tuple):
        if len(returned) == 3:
            value, status, headers = returned
        elif len(returned) == 2:
            value, second = returned
            if isinstance(second, int):
                status = second
            else:
                headers = second
        else:
            raise TypeError(
                "A view returns a value, (value, status), (value, headers) or (value, status, headers); "
                f"got a tuple of {len(returned)}."
            )
    if endpoint.response is None or status == 204 or status == 304:
        response = Response(status=status)
        del response.headers["Content-Type"]  # no body, no media type
    else:
        # content_type rather than mimetype: the same header, without werkzeug working out a charset to add.
        response = Response(
            serialize(endpoint, value, check=checks_responses(app)), status=status, content_type=JSON_MEDIA_TYPE
        )
    if headers:
        response.headers.update(headers)
    return response

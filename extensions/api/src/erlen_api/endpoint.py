"""An endpoint: what one view declares for one HTTP method, read from its type hints, and how its inputs are parsed.

:func:`compile_endpoint` reads a view's signature once, when the route is
declared; :meth:`Endpoint.parse` then turns each request's path values,
query string and JSON body into the view's arguments, or raises a
:class:`~erlen_api.Problem` listing every invalid input (422), an
unparseable body (400) or a body that is not JSON (415).
"""

from __future__ import annotations

import codecs
import dataclasses
import decimal
import inspect
import json
import math
import re
import sys
import typing as t
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pydantic_core
from flask import Request, current_app, request
from pydantic import BaseModel, Field, RootModel, TypeAdapter, ValidationError, create_model
from pydantic_core import ErrorDetails
from werkzeug.exceptions import RequestEntityTooLarge

from .json_keys import duplicate_key, json_path
from .loaded_rows import LoadedRows
from .negotiation import require_json_body
from .nul_text import detail_of
from .params import Body, Path, Query, is_scalar, is_sequence, is_structured, split_annotation
from .problems import PROBLEM_TYPES, Problem
from .ratelimits import validate_declared
from .unknown_parameters import forbids_extra, unknown_parameter_errors

if t.TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

    from .api import Api

#: The attribute of a view function (or a method of a class view) holding its :class:`EndpointOptions`.
OPTIONS_ATTRIBUTE = "__erlen_api_options__"

#: The attribute of a registered view function holding its endpoints, by HTTP method.
ENDPOINTS_ATTRIBUTE = "__erlen_api_endpoints__"


class _Unset:
    """The type of :data:`UNSET`."""

    def __repr__(self) -> str:
        return "UNSET"


#: "Not declared": the response type comes from the view's return annotation.
UNSET: t.Final = _Unset()

#: What a body holding a number JSON has not must contain: pydantic's parser reads ``NaN``, ``Infinity`` and
#: numbers beyond a float's range (``1e400``, read as infinite), which no JSON answer can hold again. A number
#: passes 1e308 with an exponent of three digits, or with 210 digits before an exponent of at most 99 (or
#: before none): a run of 210 digits is a hint too, tried only where a run begins (a search from every digit
#: of a long run would cost 210 steps a byte).
_NON_FINITE_HINT = re.compile(rb"NaN|Infinity|[eE]\+?0*[1-9][0-9]{2}|(?<![0-9])[0-9]{210}")

#: What a body holding a string a number field reads as NaN or infinite must contain: pydantic's lax mode reads
#: ``"nan"``, ``"inf"``, ``"-Infinity"`` (any case), ``"1e400"`` for a float and ``"NaN"``, ``"sNaN"``,
#: ``"Infinity"`` for a ``Decimal``; an escaped character (``"\u006ean"``) may spell any of them.
_NON_FINITE_TEXT_HINT = re.compile(rb"(?i)nan|inf|\\u|e\+?0*[1-9][0-9]{2}|(?<![0-9])[0-9]{210}")

#: The most errors a 422 lists. A body of 1 MiB holding half a million invalid items ([1,1,1,...] for a list of
#: strings) had as many listed: a 54 MB answer, four seconds of work; a client fixes the first ones first anyway.
MAX_LISTED_ERRORS = 100

#: No value at a location of the view's arguments.
_ABSENT: t.Final = object()


@dataclass(frozen=True)
class EndpointOptions:
    """What an endpoint declares besides its parameters; the keyword arguments of ``Api.get`` and friends.

    :param response: the type of the response body; the view's return annotation by default. ``None`` means no
        body (204 by default).
    :param status: the status of a successful response; 200 by default (204 when ``response`` is ``None``).
    :param permission: the permission the user needs (``"notes.edit"``); implies ``login_required``.
    :param login_required: only authenticated users (by session or token) may call it.
    :param tokens: whether bearer access tokens are accepted; the session cookie always is.
    :param summary: the operation's summary in the OpenAPI document; the docstring's first line by default.
    :param description: the operation's description; the rest of the docstring by default.
    :param tags: the operation's tags; the API's name by default.
    :param deprecated: mark the operation deprecated in the OpenAPI document.
    :param operation_id: the operation's id in the OpenAPI document; the endpoint name by default.
    :param responses: other statuses it may answer, to document: status to description (``{404: "No such note"}``).
    :param ratelimit: its own rate limits, such as ``"5/minute"`` (counted for it alone, per token or address,
        instead of ``API_RATELIMIT_ADDRESS`` and ``API_RATELIMIT_TOKEN``), or ``False`` for none; ``None``: the
        app's.
    :param headers: the headers of a successful response, to document: name to description
        (``{"ETag": "The version, for If-Match"}``).
    :param refuse_unknown_query: refuse a query parameter the endpoint does not read (a 422, an error of type
        ``extra_forbidden`` each), as the operations of a :class:`~erlen_api.Resource` do; by default only an
        endpoint with a query model that forbids extra keys refuses them, others ignore them (see
        :mod:`erlen_api.unknown_parameters`).
    """

    response: t.Any = UNSET
    status: int | None = None
    permission: str | None = None
    login_required: bool = False
    tokens: bool = True
    summary: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    deprecated: bool = False
    operation_id: str | None = None
    responses: Mapping[int, str] = field(default_factory=dict)
    ratelimit: str | t.Literal[False] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    refuse_unknown_query: bool = False

    def __post_init__(self) -> None:
        validate_declared(self.ratelimit)

    @property
    def needs_login(self) -> bool:
        """Whether an anonymous request is refused with a 401."""
        return self.login_required or self.permission is not None


#: Path parameter types whose validation answers a value of exactly that type unchanged: a converter's value of
#: that type is not validated again.
_UNCHANGED_WHEN_EXACT: tuple[type, ...] = (int, str, float)  # a tuple: an annotation need not be hashable

#: The keyword arguments of route declarations that are :class:`EndpointOptions`.
OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(EndpointOptions))


def endpoint(**options: t.Any) -> Callable[[t.Callable[..., t.Any]], t.Callable[..., t.Any]]:
    """Declare a method of a class-based view (or a view function), with the options of :class:`EndpointOptions`::

        class NoteView(MethodView):
            @erlen_api.endpoint(permission="notes.edit", status=200)
            def patch(self, id: int, changes: NoteChanges) -> NoteOut: ...

    :param options: the fields of :class:`EndpointOptions`.
    :raises TypeError: an unknown option.
    """
    unknown = set(options) - OPTION_NAMES
    if unknown:
        raise TypeError(
            f"Unknown endpoint options: {', '.join(sorted(unknown))}. Known: {', '.join(sorted(OPTION_NAMES))}."
        )

    def decorate(view: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        setattr(view, OPTIONS_ATTRIBUTE, options)
        return view

    return decorate


def merged_options(defaults: Mapping[str, t.Any], view: t.Callable[..., t.Any]) -> EndpointOptions:
    """The options of ``view``: ``defaults`` (the route's), overridden by those its :func:`endpoint` declares.

    :param defaults: options given to the route.
    :param view: the function or method.
    """
    values = {**defaults, **getattr(view, OPTIONS_ATTRIBUTE, {})}
    if "tags" in values:
        values["tags"] = tuple(values["tags"])
    return EndpointOptions(**values)


@dataclass(frozen=True)
class PathParameter:
    """A path parameter of an endpoint.

    :param name: its name in the rule and the view's signature.
    :param annotation: its declared type, or ``None`` when the view declares none (the converter's value is kept).
    :param description: its description in the OpenAPI document.
    """

    name: str
    annotation: t.Any
    description: str | None = None


@dataclass(frozen=True)
class QueryParameter:
    """A query parameter of an endpoint.

    :param key: its name in the query string.
    :param annotation: its type.
    :param required: whether a request must carry it.
    :param default: its value when absent (when not required).
    :param repeated: whether it is a list read from a repeated parameter (``?tag=a&tag=b``).
    :param description: its description in the OpenAPI document.
    """

    key: str
    annotation: t.Any
    required: bool
    default: t.Any
    repeated: bool
    description: str | None = None


@dataclass(frozen=True)
class QueryModel:
    """A view argument read from several query parameters: a model, dataclass or ``TypedDict`` marked ``Query()``.

    :param argument: the view's parameter name.
    :param annotation: the model type.
    :param parameters: a parameter per field.
    """

    argument: str
    annotation: t.Any
    parameters: tuple[QueryParameter, ...]


@dataclass(frozen=True)
class BodyParameter:
    """The JSON body of an endpoint.

    :param argument: the view's parameter name.
    :param annotation: its type.
    :param required: whether a request must carry one.
    :param default: the argument when no body is sent (when not required).
    :param description: its description in the OpenAPI document.
    """

    argument: str
    annotation: t.Any
    required: bool
    default: t.Any
    description: str | None = None


@dataclass
class Endpoint:
    """One view's declaration for one HTTP method: its inputs, its response and its options.

    :param method: the HTTP method.
    :param view: the function (or method of a class view) whose signature declares it.
    :param options: its :class:`EndpointOptions`.
    :param api: the :class:`~erlen_api.Api` it belongs to.
    :param path: its path parameters, by name.
    :param query: its scalar query parameters, by argument name.
    :param query_models: its arguments read from several query parameters.
    :param body: its JSON body, if it has one.
    :param response: the response body's type; :data:`UNSET` when it declares none, ``None`` for no body.
    """

    method: str
    view: t.Callable[..., t.Any]
    options: EndpointOptions
    api: Api
    path: dict[str, PathParameter] = field(default_factory=dict)
    query: dict[str, QueryParameter] = field(default_factory=dict)
    query_models: list[QueryModel] = field(default_factory=list)
    body: BodyParameter | None = None
    response: t.Any = UNSET
    _path_adapters: dict[str, tuple[TypeAdapter[t.Any], type | None]] = field(default_factory=dict, repr=False)
    _query_model: type[BaseModel] | None = field(default=None, repr=False)
    _query_model_adapters: dict[str, TypeAdapter[t.Any]] = field(default_factory=dict, repr=False)
    _body_adapter: TypeAdapter[t.Any] | None = field(default=None, repr=False)
    #: Whether the body's type validates a float or a ``Decimal`` anywhere: only then can one of its strings read
    #: as NaN or infinite, and only then are the body's strings looked at (see :meth:`_parse_body`).
    _body_reads_numbers: bool = field(default=False, repr=False)
    #: Whether the body's type has a union: only then are its errors' locations mapped onto the JSON (see
    #: :func:`_json_location`), from the body parsed for that on that rare path (a body with invalid fields).
    _body_has_unions: bool = field(default=False, repr=False)
    _response_adapter: TypeAdapter[t.Any] | None = field(default=None, repr=False)
    _loaded_rows: LoadedRows | None = field(default=None, repr=False)
    _loaded_rows_many: bool = field(default=False, repr=False)
    #: Each query parameter's validator alone, made when first needed (see :meth:`_non_finite_among_others`).
    _parameter_adapters: dict[str, TypeAdapter[t.Any]] = field(default_factory=dict, repr=False)
    #: The query parameters it reads, when it refuses others (``refuse_unknown_query``, or a query model of it that
    #: forbids extra keys: see :mod:`erlen_api.unknown_parameters`); ``None`` when others are ignored.
    _accepted_query: tuple[str, ...] | None = field(default=None, repr=False)

    @property
    def has_inputs(self) -> bool:
        """Whether a request brings it values: path or query parameters, or a body."""
        return bool(self.path or self.query or self.query_models or self.body)

    @property
    def accepted_query(self) -> tuple[str, ...] | None:
        """The query parameters it reads when it refuses others (perhaps none); ``None`` when it ignores others."""
        return self._accepted_query

    @property
    def status(self) -> int:
        """The status of a successful response."""
        if self.options.status is not None:
            return self.options.status
        return 204 if self.response is None else 200

    @property
    def response_adapter(self) -> TypeAdapter[t.Any] | None:
        """The adapter serialising the response body, or ``None`` when no type is declared (or no body)."""
        return self._response_adapter

    def loaded_values(self, value: t.Any) -> t.Any:
        """``value`` with its ORM instances replaced by their loaded values, when that validates the same.

        For a response of a model or a list of one, ``getattr`` on SQLAlchemy instances costs about as much as
        the rest of the validation; their ``__dict__`` gives the same values (see :mod:`erlen_api.loaded_rows`).

        :param value: what the view returned (without status and headers).
        :returns: the dicts, or ``value`` itself when it must be read from its attributes.
        """
        reader = self._loaded_rows
        if reader is None:
            return value
        if self._loaded_rows_many:
            if type(value) is list:
                dicts = reader.dicts_of(value)
                return value if dicts is None else dicts
            return value
        found = reader.dict_of(value)
        return value if found is None else found

    def prepare(self) -> None:
        """Build the pydantic validators of the declared types; :func:`compile_endpoint` calls it."""
        self._path_adapters = {
            name: (
                TypeAdapter(parameter.annotation),
                next((kind for kind in _UNCHANGED_WHEN_EXACT if parameter.annotation is kind), None),
            )
            for name, parameter in self.path.items()
            if parameter.annotation is not None
        }
        if self.query:
            fields: dict[str, t.Any] = {
                argument: (
                    parameter.annotation,
                    Field(... if parameter.required else parameter.default, alias=parameter.key),
                )
                for argument, parameter in self.query.items()
            }
            self._query_model = create_model("QueryParameters", **fields)
        self._query_model_adapters = {model.argument: TypeAdapter(model.annotation) for model in self.query_models}
        if self.options.refuse_unknown_query or any(forbids_extra(model.annotation) for model in self.query_models):
            self._accepted_query = (
                *(parameter.key for parameter in self.query.values()),
                *(parameter.key for model in self.query_models for parameter in model.parameters),
            )
        if self.body is not None:
            self._body_adapter = TypeAdapter(self.body.annotation)
            self._body_reads_numbers = _validates_numbers(self._body_adapter)
            self._body_has_unions = _validates_unions(self._body_adapter)
        if self.response is not UNSET and self.response is not None:
            self._response_adapter = TypeAdapter(self.response)
            model, many = _model_of(self.response)
            if model is not None:
                self._loaded_rows, self._loaded_rows_many = LoadedRows(model), many

    def parse(self, path_values: Mapping[str, t.Any], current: Request | None = None) -> dict[str, t.Any]:
        """The view's arguments from the current request.

        :param path_values: the values the URL rule matched, converted by its converters.
        :param current: the current request itself (not its proxy), when the caller has it at hand.
        :raises Problem: 422 with every invalid input (a query parameter the endpoint does not read among them,
            when it refuses them: ``refuse_unknown_query``, or a query model of it that forbids extra keys), 400
            for a body that is not JSON, 415 for one of another media type.
        """
        arguments = dict(path_values)
        accepted = self._accepted_query
        unknown: list[dict[str, t.Any]] = []
        if accepted is not None:
            unknown = unknown_parameter_errors((current if current is not None else request).args.keys(), accepted)
        # The unknown names first: a mistyped one is the likeliest cause of the other errors (a required one missing).
        errors: list[dict[str, t.Any]] = list(unknown)
        for name, (adapter, exact) in self._path_adapters.items():
            value = path_values[name]
            if type(value) is exact:
                # The converter made the declared plain type already (<int:id> for id: int): pydantic would
                # answer the value itself.
                continue
            try:
                arguments[name] = adapter.validate_python(value)
            except ValidationError as exc:
                errors.extend(_field_errors(exc.errors(include_url=False), "path", parameter=name))
            else:
                if _is_non_finite(arguments[name]):
                    errors.append(_finite_number_error("path", parameter=name))
        if self._query_model is not None:
            # Bound once: through the proxy, each use would look the request up again.
            args = (current if current is not None else request).args
            raw = _query_values(args, self.query.values(), errors)
            try:
                parsed = self._query_model.model_validate(raw)
            except ValidationError as exc:
                details = exc.errors(include_url=False)
                errors.extend(_field_errors(details, "query", by_parameter=True))
                errors.extend(self._non_finite_among_others(self.query.values(), raw, details))
            else:
                arguments.update({name: getattr(parsed, name) for name in self.query})
                # pydantic's lax mode reads "nan" and "inf" as numbers: refused as JSON's NaN is in a body.
                errors.extend(
                    _finite_number_error("query", parameter=parameter.key)
                    for name, parameter in self.query.items()
                    if parameter.key in raw and _is_non_finite(arguments[name])
                )
        for model in self.query_models:
            raw = _query_values(request.args, model.parameters, errors)
            try:
                arguments[model.argument] = self._query_model_adapters[model.argument].validate_python(raw)
            except ValidationError as exc:
                details = exc.errors(include_url=False)
                errors.extend(_field_errors(details, "query", by_parameter=True))
                errors.extend(self._non_finite_among_others(model.parameters, raw, details))
            else:
                errors.extend(
                    _finite_number_error("query", parameter=key)
                    for key in raw
                    if _is_non_finite(_value_at(arguments[model.argument], (key,)))
                )
        unlisted = 0
        if self.body is not None:
            body_errors, unlisted = self._parse_body(arguments)
            errors.extend(body_errors)
        if errors:
            total = len(errors) + unlisted
            detail = f"The request has {total} invalid input{'s' if total > 1 else ''}."
            if total > MAX_LISTED_ERRORS:
                detail += f" The first {MAX_LISTED_ERRORS} are listed: fix them, and send it again."
            # The accepted names in a member of their own too, for a client to check its names against.
            listing: dict[str, t.Any] = (
                {"accepted_parameters": list(accepted)} if accepted is not None and unknown else {}
            )
            raise Problem(
                422,
                detail,
                type=PROBLEM_TYPES["validation"],
                title="Invalid request",
                errors=errors[:MAX_LISTED_ERRORS],
                **listing,
            )
        return arguments

    def _non_finite_among_others(
        self, parameters: Iterable[QueryParameter], raw: Mapping[str, t.Any], details: list[ErrorDetails]
    ) -> list[dict[str, t.Any]]:
        """The ``finite_number`` errors of the query parameters valid but for that, when others are invalid.

        Their values are not at hand when the query's validation failed: each is validated alone (rare: a
        request with invalid parameters), so that the 422 lists every error at once.

        :param parameters: the query parameters validated together.
        :param raw: their values in the query string.
        :param details: pydantic's errors of the validation.
        """
        failed = {str(error["loc"][0]) for error in details if error["loc"]}
        found = []
        for parameter in parameters:
            if parameter.key not in raw or parameter.key in failed:
                continue
            adapter = self._parameter_adapters.get(parameter.key)
            if adapter is None:
                adapter = self._parameter_adapters[parameter.key] = TypeAdapter(parameter.annotation)
            try:
                value = adapter.validate_python(raw[parameter.key])
            except ValidationError:
                continue
            if _is_non_finite(value):
                found.append(_finite_number_error("query", parameter=parameter.key))
        return found

    def _non_finite_texts_among_others(
        self, document: t.Any, texts: Iterable[tuple[str | int, ...]], taken: set[str]
    ) -> list[dict[str, t.Any]]:
        """The ``finite_number`` errors of the body's strings a number field reads as NaN or infinite, when the
        body is invalid for other reasons (the validated value, which tells them apart, is then not at hand).

        Each such string (``"nan"``, ``"inf"``, ``"1e400"``) is replaced in ``document`` by text no number field
        reads, and the document validated again (not parsed: rare, a body with invalid fields): the places whose
        float or ``Decimal`` field now refuses the text are those that read the string as a number.

        :param document: the body, parsed once by :func:`_json_leaves`; its strings are replaced in place.
        :param texts: the places of its strings.
        :param taken: the JSON pointers of the places that have an error already.
        """
        suspects = {
            location: pointer
            for location in texts
            if location  # the root: invalid as a whole, its pointer taken
            and (pointer := json_pointer(location)) not in taken
            and _reads_as_non_finite(_leaf_at(document, location))
        }
        if not suspects:
            return []
        for location in suspects:
            _replace_leaf(document, location, _NOT_A_NUMBER)
        adapter = t.cast(TypeAdapter[t.Any], self._body_adapter)
        try:
            adapter.validate_python(document)
            return []  # the body's other errors are gone too (a validator of the app's): nothing to tell apart
        except ValidationError as exc:
            refused = exc.errors(include_url=False, include_input=False)
        except Exception:  # a validator of the app's that cannot take the stand-in text
            return []  # the body's other errors still answer the request; only the "nan" waits for the next one
        # The error's place in the JSON: a union's member follows it in pydantic's location (ratio.float).
        read_as_numbers = {
            _json_location(document, error["loc"], error["type"])
            for error in refused
            if error["type"] in _NUMBER_PARSING_ERRORS
        }
        return [
            _finite_number_error("body", pointer=pointer)
            for location, pointer in suspects.items()
            if location in read_as_numbers
        ]

    def _parse_body(self, arguments: dict[str, t.Any]) -> tuple[list[dict[str, t.Any]], int]:
        """Parse the JSON body into ``arguments``; the errors of its fields, and how many more it has.

        Past :data:`MAX_LISTED_ERRORS`, the errors are counted but not made (a JSON pointer each).

        :param arguments: the view's arguments so far.
        :raises Problem: 400 for a body that is not JSON, 415 for another media type.
        :raises werkzeug.exceptions.RequestEntityTooLarge: 413, for a body over ``API_MAX_BODY_SIZE``.
        """
        body = t.cast(BodyParameter, self.body)
        limit = current_app.config["API_MAX_BODY_SIZE"]
        accepted = request.max_content_length  # the app's own (MAX_CONTENT_LENGTH), or the API's when lower
        if limit is not None and (accepted is None or limit < accepted):
            accepted = limit
            # Flask's per-request limit: a larger Content-Length is a 413 before anything is read. A body without
            # one (chunked) is read up to the limit and silently cut off there: one byte more tells it apart.
            request.max_content_length = limit if request.content_length is not None else limit + 1
        try:
            data = request.get_data(cache=True)
        except RequestEntityTooLarge:
            raise _too_large(accepted) from None
        except Exception as exc:
            # What the server raises from the read of the body is the client's framing, not the app's error: gunicorn
            # raises InvalidChunkSize, ChunkMissingTerminator (its ParseExceptions) or NoMoreData (an OSError) for a
            # malformed or cut-short chunked body, which was a 500; Werkzeug's server ends the stream early
            # (ClientDisconnected, a 400 saying nothing of the body). Logged, should a server's own failure hide here.
            current_app.logger.info("The request's body could not be read: %r", exc)
            raise Problem(
                400,
                "The body could not be read: its chunked transfer coding is malformed, or the connection ended "
                "before the body did. Send the body again, whole (with Content-Length, or valid chunks).",
            ) from None
        if limit is not None and len(data) > limit:
            raise _too_large(limit)
        if not data:
            if body.required:
                return [
                    {
                        "detail": "A JSON body is required.",
                        "location": "body",
                        "pointer": "#",
                        "type": "missing",
                    }
                ], 0
            arguments[body.argument] = body.default
            return [], 0
        require_json_body()
        # Rare, and only then parsed a second time (once for both): the bytes alone cannot tell a string "e100"
        # from 1e100. The second hint matches common words ("info", "maintenance") and any escape: looked for only
        # when the body's type has a number field, which reads "nan" or "inf" from a string.
        numbers_hinted = _NON_FINITE_HINT.search(data) is not None
        texts_hinted = self._body_reads_numbers and _NON_FINITE_TEXT_HINT.search(data) is not None
        parsed = _json_leaves(data) if numbers_hinted or texts_hinted else None
        leaves = parsed.leaves if parsed is not None else []
        non_finite, unlisted = _non_finite_errors(leaves) if numbers_hinted else ([], 0)
        # The places of the body's strings, of which one may read as NaN or infinite.
        texts = [location for location, leaf in leaves if isinstance(leaf, str)] if texts_hinted else []
        adapter = t.cast(TypeAdapter[t.Any], self._body_adapter)
        try:
            value = adapter.validate_json(data)
        except ValidationError as exc:
            details = exc.errors(include_url=False)
            invalid = next((error for error in details if error["type"] == "json_invalid"), None)
            if invalid is not None:
                raise Problem(
                    400,
                    _byte_order_mark_detail(data)
                    or f"The body is not valid JSON: {invalid['msg'].removeprefix('Invalid JSON: ')}.",
                    type=PROBLEM_TYPES["invalid-json"],
                    title="Invalid JSON",
                ) from None
            _refuse_duplicate_keys(data)  # before the fields' errors: which value of the key they are about is moot
            # Every error: the fields' too, but one per place (an int field given NaN has an error of its own).
            places = {error["pointer"] for error in non_finite}
            if self._body_has_unions and parsed is None:
                parsed = _json_leaves(data)  # parsed again for the errors' places: a union's, in an invalid body
            document = parsed.document if self._body_has_unions and parsed is not None else _ABSENT
            # The first errors only (some of them may be at the places of non_finite): pointers cost.
            listed = details[: MAX_LISTED_ERRORS + len(places)]
            unlisted += len(details) - len(listed)
            others = [
                error for error in _field_errors(listed, "body", document=document) if error["pointer"] not in places
            ]
            if texts and parsed is not None:
                # The validated value is not at hand to tell which strings became NaN: asked of the document
                # parsed already, so that a "nan" is listed with the other errors, not after they are fixed.
                taken = places | {error["pointer"] for error in others}
                non_finite += self._non_finite_texts_among_others(parsed.document, texts, taken)
            return non_finite + others, unlisted
        _refuse_duplicate_keys(data)
        # A string that a number field read as NaN or infinite ("nan", "inf", "1e400"): refused as JSON's NaN is.
        for location in texts:
            if _is_non_finite(_value_at(value, location)):
                if len(non_finite) < MAX_LISTED_ERRORS:
                    non_finite.append(_finite_number_error("body", pointer=json_pointer(location)))
                else:
                    unlisted += 1
        if non_finite:
            return non_finite, unlisted
        arguments[body.argument] = value
        return [], 0


def _refuse_duplicate_keys(data: bytes) -> None:
    """Refuse a JSON body holding a key twice in one object, which pydantic reads as its last value.

    Called once pydantic has parsed the body: a body that is not JSON gets its own 400 first.

    :param data: the body.
    :raises Problem: 400 naming the key and its place.
    """
    location = duplicate_key(data)
    if location is None:
        return
    if isinstance(location, str):  # where, in jiter's words: the standard library could not read the body
        raise Problem(
            400,
            f"The body holds a key twice in one object: {location}. Send each key once.",
            type=PROBLEM_TYPES["invalid-json"],
            title="Invalid JSON",
        )
    raise Problem(
        400,
        f"The body has the key {json.dumps(location[-1], ensure_ascii=False)} twice in one object, at "
        f"{json_path(location)}: send each key once (which of the values was meant cannot be told).",
        type=PROBLEM_TYPES["invalid-json"],
        title="Invalid JSON",
        pointer=json_pointer(location),
    )


def _too_large(accepted: int | None) -> Problem:
    """The 413 of a body over the size the endpoint accepts, saying that size (Werkzeug's says none).

    :param accepted: the largest body accepted, in bytes.
    """
    return Problem(
        413,
        f"The body is larger than the {accepted} bytes this endpoint accepts: send less at a time.",
        title="Request Entity Too Large",
        max_size=accepted,
    )


#: The byte order marks a body may start with, and their encodings.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16's: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _byte_order_mark_detail(data: bytes) -> str | None:
    """What is wrong with a body starting with a byte order mark, which JSON must not (RFC 8259, 8.1); else ``None``.

    pydantic's own message, "expected value at line 1 column 1", points at a character the client never typed.

    :param data: a body that is not valid JSON.
    """
    encoding = next((name for mark, name in _BYTE_ORDER_MARKS if data.startswith(mark)), None)
    if encoding is None:
        return None
    return (
        f"The body is not valid JSON: it starts with a {encoding} byte order mark. Send it in UTF-8, without a byte "
        "order mark."
    )


def _query_values(
    args: MultiDict[str, str], parameters: Iterable[QueryParameter], errors: list[dict[str, t.Any]]
) -> dict[str, t.Any]:
    """The raw values of ``parameters`` in the query string ``args``: a list for a repeated parameter.

    A parameter of one value given several times (``?limit=1&limit=500``) has an error in ``errors``.

    A repeated parameter (a list filter, ``?status=a&status=b``) with more values than ``API_MAX_FILTER_VALUES``
    has an error in ``errors``, and only its first values are validated: tens of thousands of values would reach
    the database as bound parameters (past SQLite's limit, or an enormous statement on PostgreSQL).

    :param args: the query string's values.
    :param parameters: the parameters read.
    :param errors: the request's errors so far; the refused parameters' are added.
    """
    raw: dict[str, t.Any] = {}
    for parameter in parameters:
        key = parameter.key
        if key not in args:
            continue
        values = args.getlist(key)
        if not parameter.repeated:
            if len(values) > 1:
                # Which one counts is the parser's choice (Werkzeug's the first, others the last): a proxy reading
                # the other value would see another request, and the client's own mistake would go unseen.
                errors.append(
                    {
                        "detail": f"The parameter {key!r} takes one value; the request gives it {len(values)} times: "
                        "send it once.",
                        "location": "query",
                        "parameter": key,
                        "type": "repeated_parameter",
                    }
                )
            raw[key] = values[0]
            continue
        limit: int = current_app.config["API_MAX_FILTER_VALUES"]
        if len(values) > limit:
            errors.append(
                {
                    "detail": f"At most {limit} values of {key!r} are accepted; the request has {len(values)}.",
                    "location": "query",
                    "parameter": key,
                    "type": "too_many_values",
                }
            )
            # The first ones are still validated (their errors listed too); left out, the parameter would be
            # reported "missing" besides, though the request gave it.
            values = values[:limit]
        raw[key] = values
    return raw


@dataclass(frozen=True)
class _ParsedBody:
    """A JSON body parsed once, for the checks the validation cannot make.

    :param document: the body as Python values.
    :param leaves: its values that are neither objects nor arrays, each with its location.
    """

    document: t.Any
    leaves: list[tuple[tuple[str | int, ...], t.Any]]


def _json_leaves(data: bytes) -> _ParsedBody:
    """The JSON ``data`` parsed, with its values that are neither objects nor arrays, each with its location; none
    when it is not JSON (the validation says what is wrong with it).

    :param data: the request's body.
    """
    try:
        document = pydantic_core.from_json(data)
    except ValueError:
        return _ParsedBody(None, [])
    found: list[tuple[tuple[str | int, ...], t.Any]] = []

    def visit(value: t.Any, location: tuple[str | int, ...]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                visit(item, (*location, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, (*location, index))
        else:
            found.append((location, value))

    visit(document, ())
    return _ParsedBody(document, found)


#: Text that no float or ``Decimal`` field reads, and that any string field takes.
_NOT_A_NUMBER = "erlen: not a number"

#: pydantic's errors of a float or ``Decimal`` field given text it cannot read as a number.
_NUMBER_PARSING_ERRORS = frozenset({"float_parsing", "decimal_parsing"})


def _reads_as_non_finite(value: t.Any) -> bool:
    """Whether ``value`` is text that reads as a NaN or infinite float or ``Decimal`` (``"nan"``, ``"-inf"``,
    ``"1e400"``, ``"sNaN"``).

    :param value: a leaf of a JSON body.
    """
    if not isinstance(value, str):
        return False
    try:
        return not math.isfinite(float(value))
    except ValueError:
        pass
    try:
        return not decimal.Decimal(value.strip()).is_finite()
    except decimal.InvalidOperation:
        return False


def _leaf_at(document: t.Any, location: tuple[str | int, ...]) -> t.Any:
    """The value at ``location`` (a leaf's, from :func:`_json_leaves`) in the parsed ``document``.

    :param document: a parsed JSON body.
    :param location: the keys and indexes from its root.
    """
    for part in location:
        document = document[part]
    return document


def _replace_leaf(document: t.Any, location: tuple[str | int, ...], value: t.Any) -> None:
    """Put ``value`` at ``location`` (a leaf's, never the root) in the parsed ``document``.

    :param document: a parsed JSON body.
    :param location: the keys and indexes from its root.
    :param value: the new value.
    """
    _leaf_at(document, location[:-1])[location[-1]] = value


def _non_finite_errors(
    leaves: Iterable[tuple[tuple[str | int, ...], t.Any]],
) -> tuple[list[dict[str, t.Any]], int]:
    """The errors of the numbers among a JSON body's ``leaves`` that are NaN, infinite or beyond a float's range
    (the first :data:`MAX_LISTED_ERRORS`), and how many more there are.

    JSON numbers are finite (RFC 8259): a view given ``NaN`` or ``1e400`` for a ``float`` would answer it as
    ``null``, store it where the database takes it (PostgreSQL's ``NaN``), and fail the check of its answers.

    :param leaves: the body's values and their locations (:func:`_json_leaves`).
    """
    found: list[dict[str, t.Any]] = []
    unlisted = 0
    for location, value in leaves:
        if isinstance(value, float):
            refused = not math.isfinite(value)
        else:
            # An int is read exactly, but a float field would take one beyond a float's range as infinite.
            refused = isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max
        if refused:
            if len(found) < MAX_LISTED_ERRORS:
                found.append(_finite_number_error("body", pointer=json_pointer(location)))
            else:
                unlisted += 1
    return found, unlisted


def _finite_number_error(
    location: t.Literal["body", "query", "path"], *, pointer: str | None = None, parameter: str | None = None
) -> dict[str, t.Any]:
    """The error of an input that is NaN, infinite or beyond a float's range, as a number or as a string.

    :param location: ``body``, ``query`` or ``path``.
    :param pointer: for the body, the JSON pointer to the value.
    :param parameter: for a query or path parameter, its name.
    """
    error: dict[str, t.Any] = {"detail": "Input should be a finite number", "location": location}
    if location == "body":
        error["pointer"] = pointer
    else:
        error["parameter"] = parameter
    error["type"] = "finite_number"
    return error


def _is_non_finite(value: t.Any) -> bool:
    """Whether ``value`` is a NaN or infinite float or ``Decimal``, or a collection holding one.

    :param value: a validated input.
    """
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, decimal.Decimal):
        return not value.is_finite()
    if isinstance(value, list | tuple | set | frozenset):
        return any(_is_non_finite(item) for item in value)
    return False


def _validates_numbers(adapter: TypeAdapter[t.Any]) -> bool:
    """Whether ``adapter`` validates a float or a ``Decimal`` anywhere (which pydantic's lax mode reads from text).

    :param adapter: a body's validator.
    """
    return _schema_has(adapter, ("float", "decimal"))


def _validates_unions(adapter: TypeAdapter[t.Any]) -> bool:
    """Whether ``adapter`` validates a union anywhere (``float | int``, ``Cat | Dog``), whose errors pydantic
    locates with the member's name (``ratio.float``), a place the JSON does not have.

    :param adapter: a body's validator.
    """
    return _schema_has(adapter, ("union", "tagged-union"))


def _schema_has(adapter: TypeAdapter[t.Any], kinds: tuple[str, ...]) -> bool:
    """Whether the core schema of ``adapter`` has a schema of one of ``kinds`` anywhere; ``True`` when unknown.

    :param adapter: a body's validator.
    :param kinds: core schema types (``"float"``, ``"union"``).
    """
    try:
        schema: t.Any = adapter.core_schema
    except Exception:
        schema = None
    if not isinstance(schema, dict):  # not built yet (a forward reference): every body is looked at
        return True
    pending = [schema]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if item.get("type") in kinds:
                return True
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def _json_location(document: t.Any, loc: Sequence[str | int], error_type: str) -> tuple[str | int, ...]:
    """The place in the JSON ``document`` of a pydantic error at ``loc``, without the union members' names.

    pydantic puts the member a union tried in the location (``("ratio", "float")``, ``("pet", "Cat", "weight")``,
    ``("pet", "cat", "weight")`` for a tag): the client's document has no such place. A part the document does
    not have is such a name, unless it is the last of a ``missing`` error (the place the value should be).

    :param document: the body as parsed.
    :param loc: pydantic's location of the error.
    :param error_type: pydantic's type of the error.
    """
    node: t.Any = document
    found: list[str | int] = []
    for index, part in enumerate(loc):
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
            found.append(str(part))
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
            found.append(part)
        elif index == len(loc) - 1 and error_type == "missing" and isinstance(node, dict | list):
            found.append(part)
    return tuple(found)


def _value_at(value: t.Any, location: Iterable[str | int]) -> t.Any:
    """What the input at ``location`` (its keys in the JSON or the query string) became in the validated ``value``.

    :param value: a validated body or query model: models (by their fields' aliases), dataclasses, dicts, lists.
    :param location: the keys and indexes of the input.
    :returns: the value, or ``_ABSENT`` when the location leads nowhere (a key the model ignores).
    """
    for part in location:
        while isinstance(value, RootModel):
            value = value.root
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            name = next(
                (name for name, info in fields.items() if part in (name, info.alias, info.validation_alias)), None
            )
            value = getattr(value, name) if name is not None else _ABSENT
        elif isinstance(value, Mapping):
            value = value.get(part, _ABSENT)
        elif isinstance(value, list | tuple):
            value = value[part] if isinstance(part, int) and -len(value) <= part < len(value) else _ABSENT
        elif isinstance(value, set | frozenset):
            return value  # unordered: whichever item the input became
        elif dataclasses.is_dataclass(value) and isinstance(part, str):
            value = getattr(value, part, _ABSENT)
        else:
            return _ABSENT
        if value is _ABSENT:
            return _ABSENT
    return value


def json_pointer(location: Iterable[str | int]) -> str:
    """A JSON pointer (RFC 6901) in URI fragment form to the value at ``location``: ``#/tags/0``.

    :param location: the keys and indexes from the document's root.
    """
    from urllib.parse import quote

    parts = [quote(str(part).replace("~", "~0").replace("/", "~1"), safe="~!$&'()*+,;=:@") for part in location]
    return "#" + "".join("/" + part for part in parts)


def _field_errors(
    details: list[ErrorDetails],
    location: str,
    *,
    parameter: str | None = None,
    by_parameter: bool = False,
    document: t.Any = _ABSENT,
) -> list[dict[str, t.Any]]:
    """pydantic's errors as the ``errors`` of a validation problem.

    :param details: pydantic's errors.
    :param location: ``body``, ``query`` or ``path``.
    :param parameter: the parameter all the errors are about.
    :param by_parameter: the first item of each error's location is the parameter.
    :param document: the body as parsed, when its type has unions: the pointers are of its places.
    """
    found = []
    for error in details:
        item: dict[str, t.Any] = {"detail": detail_of(error), "location": location, "type": error["type"]}
        if location == "body":
            places = error["loc"] if document is _ABSENT else _json_location(document, error["loc"], error["type"])
            item["pointer"] = json_pointer(places)
        elif by_parameter:
            item["parameter"] = str(error["loc"][0]) if error["loc"] else None
        else:
            item["parameter"] = parameter
        found.append(item)
    return found


def _fields_of(annotation: t.Any) -> dict[str, tuple[t.Any, bool, t.Any]]:
    """The fields of a model, dataclass or ``TypedDict``: key to (type, required, default).

    A pydantic field's constraints (``Field(ge=1)``) stay on its type, in ``Annotated``, so that the OpenAPI
    document shows them.

    :param annotation: the model, dataclass or ``TypedDict``.
    """
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            (info.alias or name): (
                t.Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation,
                info.is_required(),
                info.default,
            )
            for name, info in annotation.model_fields.items()
        }
    hints = t.get_type_hints(annotation)
    if dataclasses.is_dataclass(annotation):
        found: dict[str, tuple[t.Any, bool, t.Any]] = {}
        for item in dataclasses.fields(annotation):
            required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
            found[item.name] = (hints[item.name], required, None if required else item.default)
        return found
    required_keys: frozenset[str] = getattr(annotation, "__required_keys__", frozenset())
    return {name: (hint, name in required_keys, None) for name, hint in hints.items()}


def _descriptions_of(annotation: t.Any) -> dict[str, str]:
    """The descriptions of a pydantic model's fields (``Field(description=...)``), by key.

    :param annotation: a model, dataclass or ``TypedDict``; only models have descriptions.
    """
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            (info.alias or name): info.description for name, info in annotation.model_fields.items() if info.description
        }
    return {}


def compile_endpoint(
    view: t.Callable[..., t.Any],
    *,
    method: str,
    rule_arguments: Iterable[str],
    options: EndpointOptions,
    api: Api,
    bound: bool = False,
) -> Endpoint:
    """Read the declaration of ``view`` for ``method`` from its signature and type hints.

    :param view: the view function, or the method of a class view.
    :param method: the HTTP method.
    :param rule_arguments: the names of the URL rule's variables.
    :param options: the endpoint's options.
    :param api: the API it belongs to.
    :param bound: ``view`` is a method of a class view: its first parameter (``self``) is not an input.
    :raises TypeError: the signature cannot be served: a variable of the rule the view does not take, two bodies,
        a parameter without a type, or a type hint that does not resolve.
    """
    name = getattr(view, "__qualname__", repr(view))
    try:
        hints = t.get_type_hints(view, include_extras=True)
    except NameError as exc:
        raise TypeError(f"The type hints of the view {name} do not resolve: {exc}.") from None
    signature = inspect.signature(view)
    parameters = list(signature.parameters.values())
    if bound and parameters:
        parameters = parameters[1:]
    rule_names = set(rule_arguments)
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    endpoint = Endpoint(method=method, view=view, options=options, api=api)
    for parameter in parameters:
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        has_default = parameter.default is not inspect.Parameter.empty
        default = parameter.default if has_default else None
        if parameter.name in rule_names:
            annotation, marker = split_annotation(hints.get(parameter.name))
            if marker is not None and not isinstance(marker, Path):
                raise TypeError(f"The view {name}: {parameter.name!r} is a variable of the URL rule, not {marker!r}.")
            endpoint.path[parameter.name] = PathParameter(
                parameter.name, annotation, marker.description if isinstance(marker, Path) else None
            )
            continue
        if parameter.name not in hints:
            raise TypeError(
                f"The view {name}: the parameter {parameter.name!r} has no type hint, and is not a variable of the "
                f"URL rule ({', '.join(sorted(rule_names)) or 'none'}). Give it a type: a model for the body, a "
                "scalar for a query parameter."
            )
        annotation, marker = split_annotation(hints[parameter.name])
        if isinstance(marker, Path):
            raise TypeError(
                f"The view {name}: {parameter.name!r} is marked Path() but the URL rule has no such variable."
            )
        if isinstance(marker, Query) or (marker is None and (is_scalar(annotation) or is_sequence(annotation))):
            query_marker = marker if isinstance(marker, Query) else Query()
            if is_structured(annotation):
                descriptions = _descriptions_of(annotation)
                model_parameters = tuple(
                    QueryParameter(key, hint, required, field_default, is_sequence(hint), descriptions.get(key))
                    for key, (hint, required, field_default) in _fields_of(annotation).items()
                )
                endpoint.query_models.append(QueryModel(parameter.name, annotation, model_parameters))
            else:
                endpoint.query[parameter.name] = QueryParameter(
                    query_marker.name or parameter.name,
                    annotation,
                    not has_default,
                    default,
                    is_sequence(annotation),
                    query_marker.description,
                )
            continue
        if endpoint.body is not None:
            raise TypeError(
                f"The view {name} has two bodies, {endpoint.body.argument!r} and {parameter.name!r}: a request has "
                "one JSON body. Mark query parameters with Annotated[..., Query()]."
            )
        endpoint.body = BodyParameter(
            parameter.name,
            annotation,
            not has_default,
            default,
            marker.description if isinstance(marker, Body) else None,
        )
    missing = rule_names - set(endpoint.path)
    if missing and not takes_kwargs:
        raise TypeError(f"The view {name} does not take the URL rule's variables: {', '.join(sorted(missing))}.")
    if options.response is not UNSET:
        endpoint.response = options.response
    elif "return" in hints:
        endpoint.response = _response_from_hint(hints["return"])
    endpoint.prepare()
    return endpoint


def _model_of(response: t.Any) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model a response type is, or is a list of; and whether it is a list.

    :param response: the declared response type.
    """
    if isinstance(response, type) and issubclass(response, BaseModel):
        return response, False
    arguments = t.get_args(response)
    if (
        t.get_origin(response) in (list, Sequence)
        and len(arguments) == 1
        and isinstance(arguments[0], type)
        and issubclass(arguments[0], BaseModel)
    ):
        return arguments[0], True
    return None, False


def _response_from_hint(hint: t.Any) -> t.Any:
    """The response type a return annotation declares: :data:`UNSET` for a Flask response (anything goes).

    :param hint: the resolved return annotation.
    """
    from werkzeug.wrappers import Response as WerkzeugResponse

    if hint is type(None):
        return None
    if isinstance(hint, type) and issubclass(hint, WerkzeugResponse):
        return UNSET
    if hint is t.Any:
        return UNSET
    return hint

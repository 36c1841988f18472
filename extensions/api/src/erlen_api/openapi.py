"""The OpenAPI 3.1 document of an app's APIs, generated from the endpoints' declarations.

Paths come from the app's URL map (so each :class:`~erlen_api.Api` appears
under the prefix it is registered at); parameters, request bodies and
responses from the endpoints' types, whose JSON Schemas pydantic makes and
which land in ``components/schemas``, referred to with ``$ref``. Each
operation lists the problem-details errors it can answer, and its security
requirements (bearer tokens, the session cookie).
"""

from __future__ import annotations

import inspect
import re
import typing as t
from collections.abc import Iterator

from flask import Flask
from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Rule

from . import conditional, negotiation, ratelimits
from .endpoint import ENDPOINTS_ATTRIBUTE, UNSET, Endpoint
from .problems import PROBLEM_MEDIA_TYPE, ProblemDetails, ValidationProblemDetails
from .responses import JSON_MEDIA_TYPE

#: The OpenAPI version of the documents.
OPENAPI_VERSION = "3.1.0"

_REF_TEMPLATE = "#/components/schemas/{model}"
_RULE_VARIABLE = re.compile(r"<(?:([^:<>()]+)(?:\([^<>]*\))?:)?([^<>]+)>")

#: The JSON Schema of the values of Werkzeug's converters, for path parameters without a type hint.
_CONVERTER_SCHEMAS: dict[str, dict[str, t.Any]] = {
    "default": {"type": "string"},
    "string": {"type": "string"},
    "path": {"type": "string"},
    "any": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}

#: The security schemes of every document.
SECURITY_SCHEMES: dict[str, dict[str, t.Any]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal access token: Authorization: Bearer <token>.",
    },
}


def _cookie_scheme(app: Flask) -> dict[str, t.Any]:
    """The security scheme of the session cookie, named as the app names it.

    :param app: the app.
    """
    return {
        "type": "apiKey",
        "in": "cookie",
        "name": str(app.config.get("SESSION_COOKIE_NAME") or "session"),
        "description": "The session cookie of a logged-in user; state-changing requests also send the CSRF token "
        "in the header " + str((app.config.get("FORMS_CSRF_HEADERS") or ["X-CSRF-Token"])[0]) + ".",
    }


def openapi_path(rule: str) -> str:
    """The OpenAPI path of a Flask URL rule: ``/notes/{id}`` for ``/notes/<int:id>``.

    :param rule: the rule.
    """
    return _RULE_VARIABLE.sub(lambda match: "{" + match.group(2) + "}", rule)


def _converters(rule: str) -> dict[str, str]:
    """The converter of each variable of a URL rule: ``{"id": "int"}`` for ``/notes/<int:id>``.

    :param rule: the rule.
    """
    return {match.group(2): match.group(1) or "default" for match in _RULE_VARIABLE.finditer(rule)}


def _api_rules(app: Flask) -> Iterator[tuple[Rule, dict[str, Endpoint]]]:
    """The app's URL rules whose views are API endpoints, with their endpoints by method, sorted by path.

    :param app: the app.
    """
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint)):
        view = app.view_functions.get(rule.endpoint)
        endpoints = getattr(view, ENDPOINTS_ATTRIBUTE, None)
        if endpoints:
            yield rule, endpoints


class _Schemas:
    """Collects the types to describe, then asks pydantic for all their schemas at once (shared ``$defs``)."""

    def __init__(self) -> None:
        self.inputs: list[tuple[tuple[int, JsonSchemaMode], JsonSchemaMode, TypeAdapter[t.Any]]] = []
        self.results: dict[tuple[int, JsonSchemaMode], dict[str, t.Any]] = {}
        self.adapters: dict[tuple[int, JsonSchemaMode], TypeAdapter[t.Any]] = {}

    def ask(self, annotation: t.Any, mode: JsonSchemaMode) -> tuple[int, JsonSchemaMode]:
        """Note that the schema of ``annotation`` is needed; its key in :attr:`results` once resolved.

        :param annotation: a type.
        :param mode: ``validation`` for inputs, ``serialization`` for responses.
        """
        key = (id(annotation), mode)
        if key not in self.adapters:
            adapter: TypeAdapter[t.Any] = TypeAdapter(annotation)
            self.adapters[key] = adapter
            self.inputs.append((key, mode, adapter))
        return key

    def resolve(self) -> dict[str, t.Any]:
        """Make every schema asked for; fill :attr:`results` and return the shared definitions (components)."""
        if not self.inputs:
            return {}
        mapping, definitions = TypeAdapter.json_schemas(self.inputs, ref_template=_REF_TEMPLATE)
        self.results = {key: schema for (key, _mode), schema in mapping.items()}
        return dict(definitions.get("$defs", {}))


def _docstring(endpoint: Endpoint) -> tuple[str | None, str | None]:
    """The summary (first paragraph) and description (the rest) of the view's docstring.

    :param endpoint: the endpoint.
    """
    doc = inspect.getdoc(endpoint.view)
    if not doc:
        return None, None
    summary, _, rest = doc.partition("\n\n")
    return " ".join(summary.split()), rest.strip() or None


def _problem_response(description: str, schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """A response object of problem documents.

    :param description: when it is answered.
    :param schema: the schema (a ``$ref``) of the problem document.
    """
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": dict(schema)}}}


def generate(app: Flask) -> dict[str, t.Any]:
    """The OpenAPI 3.1 document of every :class:`~erlen_api.Api` registered on ``app``.

    :param app: the app.
    """
    schemas = _Schemas()
    problem_key = schemas.ask(ProblemDetails, "serialization")
    validation_key = schemas.ask(ValidationProblemDetails, "serialization")
    pending: list[tuple[str, str, Endpoint, dict[str, t.Any], dict[str, t.Any]]] = []
    tags: dict[str, str | None] = {}
    for rule, endpoints in _api_rules(app):
        path = openapi_path(rule.rule)
        converters = _converters(rule.rule)
        for method in sorted(rule.methods or ()):
            if method in ("HEAD", "OPTIONS") or method not in endpoints:
                continue
            endpoint = endpoints[method]
            keys: dict[str, t.Any] = {}
            for name, parameter in endpoint.path.items():
                if parameter.annotation is not None:
                    keys[f"path:{name}"] = schemas.ask(parameter.annotation, "validation")
            for name, query in endpoint.query.items():
                keys[f"query:{name}"] = schemas.ask(query.annotation, "validation")
            for model in endpoint.query_models:
                for query in model.parameters:
                    keys[f"query-model:{model.argument}:{query.key}"] = schemas.ask(query.annotation, "validation")
            if endpoint.body is not None:
                keys["body"] = schemas.ask(endpoint.body.annotation, "validation")
            if endpoint.response is not UNSET and endpoint.response is not None:
                keys["response"] = schemas.ask(endpoint.response, "serialization")
            api = endpoint.api
            tag_names = list(endpoint.options.tags) or [api.name]
            for tag in tag_names:
                tags.setdefault(tag, api.description if tag == api.name else None)
            pending.append((path, method, endpoint, keys, {"rule": rule, "converters": converters}))
    components = schemas.resolve()
    problems = {"problem": schemas.results[problem_key], "validation": schemas.results[validation_key]}
    paths: dict[str, dict[str, t.Any]] = {}
    used_ids: set[str] = set()
    max_values = int(app.config.get("API_MAX_FILTER_VALUES", 100))
    for path, method, endpoint, keys, context in pending:
        operation = _operation(
            method, endpoint, keys, schemas, context["rule"], context["converters"], used_ids, problems, max_values
        )
        describe_http(operation, endpoint, app, has_response="response" in keys or endpoint.response is UNSET)
        paths.setdefault(path, {})[method.lower()] = operation
    document: dict[str, t.Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": str(app.config.get("API_TITLE") or "API"),
            "version": str(app.config.get("API_VERSION") or "1.0.0"),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {**SECURITY_SCHEMES, "cookieAuth": _cookie_scheme(app)},
            "headers": {**conditional.HEADERS, **ratelimits.HEADERS},
        },
    }
    if app.config.get("API_DESCRIPTION"):
        document["info"]["description"] = str(app.config["API_DESCRIPTION"])
    if tags:
        document["tags"] = [
            {"name": name, **({"description": description} if description else {})}
            for name, description in sorted(tags.items())
        ]
    return document


def _schema(schemas: _Schemas, key: t.Any) -> dict[str, t.Any]:
    """A copy of a resolved schema.

    :param schemas: the resolved schemas.
    :param key: the key :meth:`_Schemas.ask` gave.
    """
    return dict(schemas.results[key])


def _operation(
    method: str,
    endpoint: Endpoint,
    keys: dict[str, t.Any],
    schemas: _Schemas,
    rule: Rule,
    converters: dict[str, str],
    used_ids: set[str],
    problems: dict[str, dict[str, t.Any]],
    max_values: int,
) -> dict[str, t.Any]:
    """The operation object of ``endpoint``.

    :param method: the HTTP method.
    :param endpoint: the endpoint.
    :param keys: the keys of its schemas in ``schemas``: ``path:NAME``, ``query:NAME``, ``body``, ``response``...
    :param schemas: the resolved schemas.
    :param rule: its URL rule.
    :param converters: the converter of each variable of the rule.
    :param used_ids: the operation ids taken so far; this one is added.
    :param problems: the schemas (``$ref``) of the problem documents: ``problem`` and ``validation``.
    :param max_values: the most values a repeated query parameter takes (``API_MAX_FILTER_VALUES``).
    """
    options = endpoint.options
    problem = problems["problem"]
    summary, description = _docstring(endpoint)
    operation_id = options.operation_id or rule.endpoint.replace(".", "_")
    if len(set(rule.methods or ()) - {"HEAD", "OPTIONS"}) > 1 and not options.operation_id:
        operation_id = f"{operation_id}_{method.lower()}"
    while operation_id in used_ids:
        operation_id += "_"
    used_ids.add(operation_id)
    operation: dict[str, t.Any] = {
        "operationId": operation_id,
        "tags": list(options.tags) or [endpoint.api.name],
    }
    if options.summary or summary:
        operation["summary"] = options.summary or summary
    if options.description or description:
        operation["description"] = options.description or description
    parameters: list[dict[str, t.Any]] = []
    for name in converters:
        path_parameter = endpoint.path.get(name)
        if f"path:{name}" in keys:
            schema = _schema(schemas, keys[f"path:{name}"])
        else:
            schema = dict(_CONVERTER_SCHEMAS.get(converters[name], {"type": "string"}))
        item: dict[str, t.Any] = {"name": name, "in": "path", "required": True, "schema": schema}
        if path_parameter is not None and path_parameter.description:
            item["description"] = path_parameter.description
        parameters.append(item)
    for name, query in endpoint.query.items():
        item = {
            "name": query.key,
            "in": "query",
            "required": query.required,
            "schema": _schema(schemas, keys[f"query:{name}"]),
        }
        if query.description:
            item["description"] = query.description
        if query.repeated:
            item["style"], item["explode"] = "form", True
            item["schema"]["maxItems"] = max_values
        parameters.append(item)
    for model in endpoint.query_models:
        for query in model.parameters:
            item = {
                "name": query.key,
                "in": "query",
                "required": query.required,
                "schema": _schema(schemas, keys[f"query-model:{model.argument}:{query.key}"]),
            }
            if query.description:
                item["description"] = query.description
            if query.repeated:
                item["style"], item["explode"] = "form", True
                item["schema"]["maxItems"] = max_values
            parameters.append(item)
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        body: dict[str, t.Any] = {
            "required": endpoint.body.required,
            "content": {JSON_MEDIA_TYPE: {"schema": _schema(schemas, keys["body"])}},
        }
        if endpoint.body.description:
            body["description"] = endpoint.body.description
        operation["requestBody"] = body
    responses: dict[str, t.Any] = {}
    status = endpoint.status
    success: dict[str, t.Any] = {"description": HTTP_STATUS_CODES.get(status, "Success")}
    if "response" in keys and status not in (204, 304):
        success["content"] = {JSON_MEDIA_TYPE: {"schema": _schema(schemas, keys["response"])}}
    elif endpoint.response is UNSET and status not in (204, 304):
        success["content"] = {JSON_MEDIA_TYPE: {"schema": {}}}
    if options.headers:
        success["headers"] = {
            name: {"description": description, "schema": {"type": "string"}}
            for name, description in options.headers.items()
        }
    responses[str(status)] = success
    if endpoint.body is not None:
        responses["400"] = _problem_response("The body is not valid JSON, or holds a key twice in one object.", problem)
        responses["413"] = _problem_response("The body is too large.", problem)
        responses["415"] = _problem_response("The body is not JSON.", problem)
    if options.needs_login:
        responses["401"] = _problem_response("Authentication is required (WWW-Authenticate says how).", problem)
    if options.needs_login or (method not in ("GET", "HEAD", "OPTIONS", "TRACE")):
        responses["403"] = _problem_response(
            "Forbidden: the user lacks the permission, or a request with the session cookie lacks the CSRF token.",
            problem,
        )
    if endpoint.has_inputs or endpoint.accepted_query is not None:
        invalid = "The request's inputs are invalid: every error, with its place."
        if endpoint.accepted_query is not None:
            invalid += (
                " A query parameter the operation does not list is one (type extra_forbidden; the problem's "
                "accepted_parameters lists those it takes)."
            )
        responses["422"] = _problem_response(invalid, problems["validation"])
    for extra_status, extra_description in sorted(options.responses.items()):
        responses.setdefault(str(extra_status), _problem_response(extra_description, problem))
    responses["default"] = _problem_response("An error, as RFC 9457 problem details.", problem)
    operation["responses"] = responses
    if options.needs_login:
        requirements: list[dict[str, list[str]]] = [{"cookieAuth": []}]
        if options.tokens:
            requirements.insert(0, {"bearerAuth": []})
        operation["security"] = requirements
    if options.deprecated or endpoint.api.lifecycle.is_deprecated:
        operation["deprecated"] = True
    return operation


def describe_http(operation: dict[str, t.Any], endpoint: Endpoint, app: Flask, *, has_response: bool) -> None:
    """Add what the HTTP layer answers to an operation: conditional requests, negotiation, rate limits.

    :param operation: the operation object, changed in place.
    :param endpoint: its endpoint.
    :param app: the app whose document it is.
    :param has_response: whether the operation answers a body.
    """
    negotiation.describe(operation, endpoint.body is not None, has_response and endpoint.status not in (204, 304))
    conditional.describe(operation, endpoint, app)
    ratelimits.describe(operation, endpoint, app)


def spec_of(app: Flask) -> dict[str, t.Any]:
    """The OpenAPI document of ``app``, generated once and kept until another API is registered.

    :param app: the app, which enables the ``api`` plugin.
    """
    from .state import state_of

    state = state_of(app)
    if state.spec is None:
        state.spec = generate(app)
    return state.spec

"""The pytest kit of erlen-api: an API test client, and a check of responses against the OpenAPI document.

Installed as a pytest plugin with erlen-api, it adds the fixtures:

``api_client``
    An :class:`ApiClient` of the ``app`` fixture: JSON in and out, the
    session's CSRF token in the header of state-changing requests (with
    erlen-forms), and every response checked against the OpenAPI document.
``make_api_client``
    A factory of such clients: ``make_api_client(token="...")`` sends
    ``Authorization: Bearer <token>`` with every request.

:func:`assert_matches_spec` checks one response: its status is documented for
its operation (or by ``default``), its media type is one the operation
declares, and its body is valid against the declared JSON Schema. It needs
``jsonschema`` (``erlen-api[testing]``).
"""

from __future__ import annotations

import json
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

from .openapi import openapi_path, spec_of

#: The methods whose requests carry the CSRF token.
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SpecMismatchError(AssertionError):
    """A response that the OpenAPI document does not describe."""


def _operation(app: Flask, method: str, path: str) -> tuple[str, dict[str, t.Any]]:
    """The OpenAPI path and operation that a request of ``method`` to ``path`` reaches.

    :param app: the app.
    :param method: the HTTP method.
    :param path: the request path.
    :raises SpecMismatchError: no route or no documented operation.
    """
    adapter = app.url_map.bind("localhost")
    try:
        rule, _ = adapter.match(path, method, return_rule=True)
    except HTTPException as exc:
        raise SpecMismatchError(f"{method} {path} matches no route of the app ({exc.code}).") from None
    documented = spec_of(app)["paths"].get(openapi_path(rule.rule), {})
    operation = documented.get(method.lower()) or (documented.get("get") if method == "HEAD" else None)
    if operation is None:
        raise SpecMismatchError(f"The OpenAPI document has no operation {method} {openapi_path(rule.rule)}.")
    return openapi_path(rule.rule), operation


def assert_matches_spec(response: TestResponse, app: Flask | None = None) -> None:
    """Fail unless the OpenAPI document describes ``response``: status, media type and body.

    Responses outside the app's APIs (no operation in the document) fail too.

    :param response: a response of the test client.
    :param app: the app; the test client's app by default.
    :raises SpecMismatchError: naming the operation and what does not match.
    """
    from jsonschema import Draft202012Validator

    request = response.request
    flask_app = app if app is not None else t.cast(Flask, getattr(response, "_erlen_app", None))
    if flask_app is None:
        raise TypeError("assert_matches_spec needs the app: pass app=, or use a client of make_api_client.")
    path, operation = _operation(flask_app, request.method, request.path)
    where = f"{request.method} {path} answered {response.status_code}"
    responses = operation.get("responses", {})
    documented = responses.get(str(response.status_code)) or responses.get("default")
    if documented is None:
        raise SpecMismatchError(f"{where}, a status the OpenAPI document does not list ({', '.join(responses)}).")
    content = documented.get("content")
    if not content:
        if response.data:
            raise SpecMismatchError(f"{where} with a body, but the document declares none.")
        return
    media = content.get(response.mimetype)
    if media is None:
        raise SpecMismatchError(f"{where} with {response.mimetype!r}; the document declares {', '.join(content)}.")
    if "schema" not in media or request.method == "HEAD":
        return
    try:
        body = json.loads(response.data)
    except ValueError:
        raise SpecMismatchError(f"{where} with a body that is not JSON.") from None
    document = spec_of(flask_app)
    validator = Draft202012Validator({**media["schema"], "components": document.get("components", {})})
    errors = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
    if errors:
        listed = "\n".join(
            f"  at #/{'/'.join(str(part) for part in error.absolute_path)}: {error.message}" for error in errors
        )
        raise SpecMismatchError(f"{where} with a body its schema does not describe:\n{listed}")


class ApiClient(FlaskClient):
    """A test client for APIs: a bearer token, the CSRF header, and responses checked against the document.

    Create it with :func:`api_client_for` (or the fixtures).
    """

    token: str | None = None
    check_spec: bool = True

    def open(self, *args: t.Any, **kwargs: t.Any) -> TestResponse:
        """Send a request as :meth:`flask.testing.FlaskClient.open`, with the token or the CSRF header.

        :param args: as for Flask's client.
        :param kwargs: as for Flask's client.
        """
        app = self.application
        headers = dict(kwargs.pop("headers", None) or {})
        method = str(kwargs.get("method", "GET")).upper()
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        elif method in _UNSAFE and _csrf_enabled(app):
            from erlen_forms.testing import csrf_token_for

            header = (app.config.get("FORMS_CSRF_HEADERS") or ["X-CSRF-Token"])[0]
            headers.setdefault(header, csrf_token_for(self))
        kwargs["headers"] = headers
        response = super().open(*args, **kwargs)
        response._erlen_app = app  # type: ignore[attr-defined]
        if self.check_spec and response.request.path.startswith(str(app.config.get("API_URL_PREFIX", "/api"))):
            documented_paths = spec_of(app)["paths"]
            if documented_paths and _is_documented(app, response):
                assert_matches_spec(response, app)
        return response


def _is_documented(app: Flask, response: TestResponse) -> bool:
    """Whether the document has an operation for the request of ``response``.

    :param app: the app.
    :param response: a test response.
    """
    try:
        _operation(app, response.request.method, response.request.path)
    except SpecMismatchError:
        return False
    return True


def _csrf_enabled(app: Flask) -> bool:
    """Whether erlen-forms checks CSRF tokens on ``app``.

    :param app: the app.
    """
    import erlen

    return "forms" in erlen.plugins_of(app) and bool(app.config.get("FORMS_CSRF_ENABLED", True))


def api_client_for(app: Flask, *, token: str | None = None, check_spec: bool = True) -> ApiClient:
    """An :class:`ApiClient` of ``app``.

    :param app: the app.
    :param token: a bearer token to send with every request; without one, the session cookie (and the CSRF
        header) authenticate, as in a browser.
    :param check_spec: check every response of a documented operation against the OpenAPI document.
    """
    client = ApiClient(app, app.response_class, use_cookies=True)
    client.token = token
    client.check_spec = check_spec
    return client


@pytest.fixture
def api_client(app: Flask) -> ApiClient:
    """An :class:`ApiClient` of the ``app`` fixture, checking responses against the OpenAPI document."""
    return api_client_for(app)


@pytest.fixture
def make_api_client(app: Flask) -> t.Callable[..., ApiClient]:
    """A factory of :class:`ApiClient`: ``make_api_client(token="...", check_spec=True)``."""

    def make(*, token: str | None = None, check_spec: bool = True) -> ApiClient:
        return api_client_for(app, token=token, check_spec=check_spec)

    return make


__all__ = ["ApiClient", "SpecMismatchError", "api_client", "api_client_for", "assert_matches_spec", "make_api_client"]

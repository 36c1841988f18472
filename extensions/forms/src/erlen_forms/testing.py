"""The testing kit of erlen-forms, a pytest plugin loaded once erlen-forms is installed.

CSRF protection stays on in tests: tests send tokens as browsers do.

Fixtures:

``csrf_client``
    A test client of the ``app`` fixture that adds a valid CSRF token (the
    header ``X-CSRF-Token``) to every ``POST``, ``PUT``, ``PATCH`` and
    ``DELETE``.

Functions:

:func:`csrf_token_for`
    A valid token for a test client's session, to put in form data.
:func:`csrf_client_for`
    Turn any test client into one that sends tokens.
:func:`unprotected_routes`, :func:`assert_csrf_protected`
    Walk every route of an app and send each state-changing method it
    accepts without a token: every one must be refused unless exempt.
"""

from __future__ import annotations

import typing as t
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, FloatConverter, IntegerConverter, PathConverter, UUIDConverter

from .csrf import SAFE_METHODS, exemption_for, generate_token, session_secret


def csrf_token_for(client: FlaskClient) -> str:
    """A valid CSRF token for ``client``'s session, creating the session's secret if needed.

    Put it in form data as ``csrf_token`` or in the header ``X-CSRF-Token``::

        client.post("/contact", data={"email": "a@b.c", "csrf_token": csrf_token_for(client)})

    :param client: a test client whose app enables the forms plugin.
    """
    with client.session_transaction() as session:
        secret = t.cast(str, session_secret(session, create=True))
    return generate_token(client.application, secret)


class CSRFClient(FlaskClient):
    """A test client that adds a valid CSRF token header to state-changing requests.

    Every method the forms plugin checks (any but ``GET``, ``HEAD``,
    ``OPTIONS`` and ``TRACE``) gets the header. Requests that set the header
    themselves (or ``csrf=False``) are sent as they are.
    """

    def open(self, *args: t.Any, csrf: bool = True, **kwargs: t.Any) -> t.Any:
        method = str(kwargs.get("method", "GET")).upper()
        if csrf and method not in SAFE_METHODS and (not args or isinstance(args[0], str)):
            header = (self.application.config.get("FORMS_CSRF_HEADERS") or ["X-CSRF-Token"])[0]
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault(header, csrf_token_for(self))
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


def csrf_client_for(app: Flask) -> CSRFClient:
    """A test client of ``app`` that sends CSRF tokens; see :class:`CSRFClient`."""
    previous = app.test_client_class
    app.test_client_class = CSRFClient
    try:
        return t.cast(CSRFClient, app.test_client())
    finally:
        app.test_client_class = previous


@pytest.fixture
def csrf_client(app: Flask) -> CSRFClient:
    """A test client of ``app`` that adds a valid CSRF token to every state-changing request."""
    return csrf_client_for(app)


# -- walking routes ----------------------------------------------------------------------------------------------


def _dummy_value(rule: Rule, name: str) -> object:
    converter = rule._converters.get(name)
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, FloatConverter):
        return 1.5
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=1)
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, PathConverter):
        return "some/path"
    return "x"


def build_path(rule: Rule, values: Mapping[str, object] | None = None) -> str:
    """A path that ``rule`` matches, with dummy values for its arguments.

    :param rule: a rule of the app's URL map.
    :param values: values to use instead of the dummies, by argument name.
    """
    arguments = {name: _dummy_value(rule, name) for name in rule.arguments}
    arguments.update(values or {})
    built = rule.build(arguments, append_unknown=False)
    if built is None:
        raise ValueError(f"Cannot build a URL for the rule {rule.rule!r} with {arguments!r}.")
    return built[1]


@dataclass(frozen=True)
class RouteResult:
    """One state-changing request sent without a token.

    :param rule: the URL rule.
    :param endpoint: its endpoint.
    :param method: the method sent.
    :param path: the path requested.
    :param status: the response's status code.
    :param refused: whether it was the forms plugin's CSRF refusal.
    :param exempt: the endpoint's exemption reason, if it is exempt.
    """

    rule: str
    endpoint: str
    method: str
    path: str
    status: int
    refused: bool
    exempt: str | None

    def __str__(self) -> str:
        return f"{self.method} {self.path} (rule {self.rule}, endpoint {self.endpoint}) -> {self.status}"


def walk_routes(app: Flask, *, methods: Iterable[str] | None = None) -> list[RouteResult]:
    """Send every state-changing method of every route of ``app`` without a CSRF token.

    The client has a session (with a CSRF secret), as a victim's browser
    would, and asks for JSON so the refusal can be told from other 400s.

    :param app: the app to walk.
    :param methods: the methods to try, of those each rule accepts; by
        default every method but ``GET``, ``HEAD``, ``OPTIONS`` and ``TRACE``.
    """
    client = app.test_client()
    csrf_token_for(client)
    results: list[RouteResult] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        accepted = set(rule.methods or ()) - SAFE_METHODS
        for method in sorted(accepted if methods is None else accepted & set(methods)):
            path = build_path(rule)
            response = client.open(path, method=method, data={"field": "value"}, headers={"Accept": "application/json"})
            body = response.get_json(silent=True)
            refused = response.status_code == 400 and isinstance(body, dict) and body.get("error") == "csrf"
            exemption = exemption_for(app, rule.endpoint)
            results.append(
                RouteResult(
                    rule=rule.rule,
                    endpoint=rule.endpoint,
                    method=method,
                    path=path,
                    status=response.status_code,
                    refused=refused,
                    # An exemption for some requests only (csrf_exempt(when=...)) does not cover these,
                    # which carry no credential but the session cookie: they must be refused.
                    exempt=exemption.reason if exemption and exemption.when is None else None,
                )
            )
    return results


def _unprotected(results: Iterable[RouteResult]) -> list[RouteResult]:
    return [result for result in results if not result.refused and result.exempt is None]


def unprotected_routes(app: Flask) -> list[RouteResult]:
    """The state-changing requests without a token that ``app`` did not refuse, though not exempt."""
    return _unprotected(walk_routes(app))


def assert_csrf_protected(app: Flask) -> list[RouteResult]:
    """Fail unless every state-changing method of every route not exempt refuses requests without a token.

    :returns: every request sent, for further assertions.
    """
    results = walk_routes(app)
    unprotected = _unprotected(results)
    assert not unprotected, "Requests without a CSRF token that were not refused:\n" + "\n".join(
        f"  {result}" for result in unprotected
    )
    return results


__all__ = [
    "CSRFClient",
    "RouteResult",
    "assert_csrf_protected",
    "build_path",
    "csrf_client_for",
    "csrf_token_for",
    "unprotected_routes",
    "walk_routes",
]

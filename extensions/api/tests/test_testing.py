"""The pytest kit: the API client and the check of responses against the OpenAPI document."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from erlen_api import Api
from erlen_api.testing import SpecMismatchError, api_client_for, assert_matches_spec

loose = Api("loose", version="v7")


@loose.get("/anything")
def anything():  # type: ignore[no-untyped-def]
    """No declared type: any JSON."""
    return {"free": "form"}


@loose.get("/mislabelled", responses={418: "A teapot"})
def mislabelled() -> t.Any:
    from flask import Response

    return Response("<p>html</p>", mimetype="text/html")


@loose.get("/undocumented")
def undocumented() -> t.Any:
    from flask import Response

    return Response('{"a": 1}', status=299, mimetype="application/json")


@pytest.fixture
def app(make_app: t.Any) -> Flask:
    from api_sample.shapes import api

    made = t.cast(Flask, make_app(["api"]))
    made.register_blueprint(api)
    made.register_blueprint(loose)
    return made


def test_the_api_client_checks_every_documented_response(api_client: t.Any) -> None:
    assert api_client.post("/api/v1/items", json={"name": "pen", "quantity": 1}).status_code == 201
    assert api_client.post("/api/v1/items", json={"name": ""}).status_code == 422
    assert api_client.get("/api/v1/items/9").status_code == 404
    assert api_client.delete("/api/v1/things/1").status_code == 204
    assert api_client.get("/api/v7/anything").json == {"free": "form"}
    assert api_client.get("/api/v1/nowhere").status_code == 404  # no operation: nothing to check


def test_mismatches_are_reported(app: Flask, api_client: t.Any) -> None:
    with pytest.raises(SpecMismatchError, match="with 'text/html'; the document declares application/json"):
        api_client.get("/api/v7/mislabelled")
    # An unlisted status falls under "default", the problem document.
    with pytest.raises(SpecMismatchError, match="answered 299 with 'application/json'; the document declares applic"):
        api_client.get("/api/v7/undocumented")
    unchecked = api_client_for(app, check_spec=False).get("/api/v1/items/1")
    spec = app.extensions["api"].spec
    item = spec["components"]["schemas"]["ItemOut"]
    item["properties"]["name"] = {"type": "integer"}  # make the document disagree with the response
    with pytest.raises(SpecMismatchError, match=r"at #/name: 'pen' is not of type 'integer'"):
        assert_matches_spec(unchecked, app)


def test_a_response_outside_the_apis(app: Flask) -> None:
    app.add_url_rule("/plain", "plain", lambda: "plain")
    response = app.test_client().get("/plain")
    with pytest.raises(SpecMismatchError, match="has no operation GET /plain"):
        assert_matches_spec(response, app)


def test_a_token_client_sends_the_bearer_token(make_api_client: t.Any) -> None:
    client = make_api_client(token="secret")
    response = client.get("/api/v1/items/1")
    assert response.request.headers["Authorization"] == "Bearer secret"


def test_the_csrf_header_with_the_session_cookie(make_app: t.Any) -> None:
    pytest.importorskip("erlen_forms", reason="erlen-forms is not installed")
    from api_sample.shapes import api

    app = make_app(["forms", "api"])
    app.register_blueprint(api)
    client = api_client_for(app)
    response = client.post("/api/v1/items", json={"name": "pen", "quantity": 1})
    assert response.status_code == 201
    assert response.request.headers["X-CSRF-Token"]

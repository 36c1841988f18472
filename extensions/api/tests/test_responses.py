"""Responses: serialised straight to JSON bytes, and checked against their declared type in debug and tests."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from erlen_api import ResponseValidationError


def test_objects_with_attributes_are_validated_into_the_response_type(client: t.Any) -> None:
    response = client.get("/api/v1/items/1")
    assert response.status_code == 200
    assert response.data == b'{"id":1,"name":"pen","quantity":3}'


def test_a_value_its_type_does_not_describe_fails_in_tests(client: t.Any) -> None:
    with pytest.raises(ResponseValidationError, match=r"shapes.wrong|wrong \(GET\) returned a value"):
        client.get("/api/v1/wrong")


def test_a_model_built_without_validation_is_caught_when_checking(client: t.Any) -> None:
    with pytest.raises(ResponseValidationError, match="ItemOut"):
        client.get("/api/v1/constructed")


def test_in_production_a_mismatch_is_a_500_problem_without_details(make_app: t.Any) -> None:
    from api_sample.shapes import api

    app = make_app(["api"], {"TESTING": False, "API_CHECK_RESPONSES": None})
    app.register_blueprint(api)
    response = app.test_client().get("/api/v1/wrong")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server met an unexpected error.",
        "instance": "/api/v1/wrong",
    }
    # Unchecked, a model instance is dumped as it is: no validation cost in production.
    assert app.test_client().get("/api/v1/constructed").status_code == 200


def test_checking_can_be_forced_on(make_app: t.Any) -> None:
    from api_sample.shapes import api

    app = make_app(["api"], {"TESTING": False, "API_CHECK_RESPONSES": True})
    app.register_blueprint(api)
    assert app.test_client().get("/api/v1/constructed").status_code == 500


def test_no_body_status_and_headers(client: t.Any) -> None:
    deleted = client.delete("/api/v1/items/1")
    assert (deleted.status_code, deleted.data, deleted.content_type) == (204, b"", None)
    untyped = client.get("/api/v1/untyped")
    assert (untyped.status_code, untyped.json, untyped.headers["X-Extra"]) == (202, {"ok": True}, "yes")


def test_flask_responses_pass_through(client: t.Any) -> None:
    assert client.get("/api/v1/flask-response").json == {"raw": True}


def test_response_types_of_dataclasses_and_typeddicts(app: Flask, client: t.Any) -> None:
    assert client.post("/api/v1/points", json={"x": 0, "y": 0}).data == b'{"x":1.0,"y":1.0}'

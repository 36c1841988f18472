"""Responses: serialised straight to JSON bytes, and checked against their declared type in debug and tests."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from pydantic import BaseModel, ConfigDict, Field

from erlen_api import Api, ResponseValidationError, etag_of


def test_objects_with_attributes_are_validated_into_the_response_type(client: t.Any) -> None:
    response = client.get("/api/v1/items/1")
    assert response.status_code == 200
    assert response.data == b'{"id":1,"name":"pen","quantity":3}'


def test_a_value_its_type_does_not_describe_fails_in_tests(client: t.Any) -> None:
    with pytest.raises(ResponseValidationError, match=r"shapes.wrong|wrong \(GET\) returned a value"):
        client.get("/api/v1/wrong")


def test_the_error_names_each_mismatch_but_never_its_value(make_app: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    # In production the message goes to the log: a returned row's data (an address, a token) must not.
    from api_sample.shapes import api

    app = make_app(["api"], {"TESTING": False, "API_CHECK_RESPONSES": True})
    app.register_blueprint(api)
    with caplog.at_level("ERROR"):
        assert app.test_client().get("/api/v1/wrong").status_code == 500
    logged = "\n".join(record.getMessage() + str(record.exc_info and record.exc_info[1]) for record in caplog.records)
    assert "id\n  Input should be a valid integer, unable to parse string as an integer [type=int_parsing]" in logged
    assert "not a number" not in logged and "input_value" not in logged


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


class Person(BaseModel):
    """A response model whose field is known to clients by its alias only."""

    model_config = ConfigDict(populate_by_name=False)

    full_name: str = Field(alias="fullName")


aliases = Api("aliases", __name__, version="v1")


@aliases.get("/person")
def person() -> Person:
    return Person.model_validate({"fullName": "Ada Lovelace"})


@aliases.get("/person-from-dict")
def person_from_dict() -> Person:
    return t.cast(Person, {"fullName": "Grace Hopper"})


def test_aliased_fields_are_written_by_their_alias_as_the_openapi_document_says(make_app: t.Any) -> None:
    app = make_app(["api"], {"API_CHECK_RESPONSES": True})
    app.register_blueprint(aliases)
    client = app.test_client()
    # Checked responses: the JSON is read back by the same model, which knows the field by its alias only.
    answer = client.get("/api/v1/person")
    assert answer.json == {"fullName": "Ada Lovelace"}
    # A view's own ETag for the value is the one its GET answers: both are computed over the same bytes.
    assert answer.headers["ETag"] == etag_of(Person.model_validate({"fullName": "Ada Lovelace"}))
    assert client.get("/api/v1/person-from-dict").json == {"fullName": "Grace Hopper"}
    schema = client.get("/api/openapi.json").json["components"]["schemas"]["Person"]
    assert list(schema["properties"]) == ["fullName"]

"""The OpenAPI 3.1 document: generated from the declarations, valid against the specification."""

from __future__ import annotations

import typing as t

from flask import Flask
from openapi_spec_validator import validate

from erlen_api import spec_of
from erlen_api.openapi import openapi_path


def test_the_document_is_valid_openapi_3_1(client: t.Any) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_paths_parameters_and_operations(app: Flask) -> None:
    document = spec_of(app)
    paths = document["paths"]
    assert "/api/v1/items/{id}" in paths and "/api/v1/things/{id}" in paths
    read = paths["/api/v1/items/{id}"]["get"]
    assert read["operationId"] == "shapes_read_item"
    assert read["summary"] == "Read an item (an object with attributes, validated into the response type)."
    assert read["tags"] == ["shapes"]
    assert read["parameters"][0] == {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    assert [(p["name"], p["in"]) for p in read["parameters"][1:]] == [("If-None-Match", "header")]
    assert read["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ItemOut"}
    assert (
        read["responses"]["404"]["content"]["application/problem+json"]["schema"]["$ref"]
        == "#/components/schemas/ProblemDetails"
    )
    assert read["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"] == (
        "#/components/schemas/ValidationProblemDetails"
    )
    search = paths["/api/v1/search"]["get"]
    assert [(p["name"], p["required"]) for p in search["parameters"] if p["in"] == "query"] == [
        ("q", True),
        ("when", False),
        ("max-results", False),
    ]
    listing = paths["/api/v1/items"]["get"]
    tag = next(p for p in listing["parameters"] if p["name"] == "tag")
    assert tag["schema"]["type"] == "array" and tag["explode"] is True
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ItemOut"},
    }


def test_request_bodies_and_component_schemas(app: Flask) -> None:
    document = spec_of(app)
    create = document["paths"]["/api/v1/items"]["post"]
    assert create["description"] == "Takes an item, answers it with an id."
    assert create["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
    }
    assert set(create["responses"]) >= {"201", "400", "413", "415", "422", "default"}
    schemas = document["components"]["schemas"]
    assert schemas["Item"]["properties"]["name"] == {"maxLength": 20, "minLength": 1, "title": "Name", "type": "string"}
    assert {"Point", "Greeting", "ProblemDetails", "ValidationProblemDetails", "FieldError", "Colour"} <= set(schemas)
    numbers = document["paths"]["/api/v1/numbers"]["post"]["requestBody"]
    assert numbers["description"] == "Numbers to add."


def test_class_views_and_no_content(app: Flask) -> None:
    things = spec_of(app)["paths"]["/api/v1/things/{id}"]
    assert set(things) == {"get", "put", "delete"}
    assert things["put"]["summary"] == "Replace a thing"
    assert things["get"]["operationId"] == "shapes_thingview_get"
    assert things["delete"]["responses"]["204"] == {"description": "No Content"}


def test_security_schemes(app: Flask) -> None:
    schemes = spec_of(app)["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["cookieAuth"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": schemes["cookieAuth"]["description"],
    }


def test_info_from_settings(make_app: t.Any) -> None:
    app = make_app(["api"], {"API_TITLE": "Notes", "API_VERSION": "2.1", "API_DESCRIPTION": "Team notes."})
    info = spec_of(app)["info"]
    assert info == {"title": "Notes", "version": "2.1", "description": "Team notes."}
    validate(spec_of(app))


def test_the_document_follows_later_registrations(app: Flask) -> None:
    from erlen_api import Api

    before = spec_of(app)
    extra = Api("extra", __name__, version="v9")

    @extra.get("/ping")
    def ping() -> str:
        return "pong"

    app.register_blueprint(extra)
    after = spec_of(app)
    assert "/api/v9/ping" not in before["paths"] and "/api/v9/ping" in after["paths"]


def test_openapi_paths() -> None:
    assert openapi_path("/a/<int:id>/b/<path:rest>/<name>") == "/a/{id}/b/{rest}/{name}"
    assert openapi_path("/x/<any(a, b):kind>") == "/x/{kind}"

"""The OpenAPI 3.1 document: generated from the declarations, valid against the specification."""

from __future__ import annotations

import typing as t

import pytest
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


def _resource_app(make_app: t.Any, tmp_path: t.Any) -> Flask:
    """An app serving the sample library's resources (needs erlen-db, erlen-forms and erlen-auth)."""
    for name in ("erlen_db", "erlen_forms", "erlen_auth"):
        pytest.importorskip(name, reason=f"{name} is not installed: these tests run in nox's integration session")
    return t.cast(
        Flask,
        make_app(
            ["db", "forms", "auth", "api", "api_sample.tokens", "api_sample.library"],
            {"DB_URL": f"sqlite:///{tmp_path / 'doc.sqlite3'}"},
        ),
    )


def test_resources_are_documented(make_app: t.Any, tmp_path: t.Any) -> None:
    document = spec_of(_resource_app(make_app, tmp_path))
    validate(document)
    paths = document["paths"]
    assert set(paths["/api/v1/books"]) == {"get", "post"}
    assert set(paths["/api/v1/books/{id}"]) == {"get", "patch", "delete"}
    listing = paths["/api/v1/books"]["get"]
    assert listing["operationId"] == "books_list" and listing["tags"] == ["books"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    # If-None-Match: every GET of the API answers 304 to a matching tag (erlen_api.conditional).
    assert list(parameters) == ["cursor", "limit", "sort", "status", "shelf_id", "If-None-Match"]
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 50}
    assert parameters["sort"]["schema"]["anyOf"][0]["enum"] == ["id", "-id", "title", "-title"]
    assert parameters["status"]["explode"] is True
    ok = listing["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BookPage"}
    assert "Link" in ok["headers"]
    assert listing["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    create = paths["/api/v1/books"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BookCreate"}
    assert set(create["responses"]["201"]["headers"]) == {"Location", "ETag"}
    assert {"401", "403", "409", "422"} <= set(create["responses"])
    change = paths["/api/v1/books/{id}"]["patch"]
    assert {"404", "409", "412"} <= set(change["responses"]) and "ETag" in change["responses"]["200"]["headers"]
    assert set(paths["/api/v1/books/{id}"]["delete"]["responses"]) >= {"204", "404", "409", "412"}
    # Anyone may read shelves; writing needs a user.
    assert "security" not in paths["/api/v1/shelves"]["get"]
    assert "security" in paths["/api/v1/shelves"]["post"]


def test_resource_schemas_follow_the_model(make_app: t.Any, tmp_path: t.Any) -> None:
    schemas = spec_of(_resource_app(make_app, tmp_path))["components"]["schemas"]
    book = schemas["Book"]
    assert list(book["properties"]) == ["id", "title", "isbn", "status", "price", "shelf_id", "owner_id", "created_at"]
    assert "access_token" not in book["properties"]  # a secret, by is_sensitive
    assert book["required"] == list(book["properties"])
    assert book["properties"]["title"]["maxLength"] == 80
    assert book["properties"]["isbn"]["anyOf"][1] == {"type": "null"}  # nullable
    assert book["properties"]["status"] == {"$ref": "#/components/schemas/Status"}
    assert schemas["Status"]["enum"] == ["draft", "published"]
    assert book["properties"]["created_at"]["format"] == "date-time"
    create = schemas["BookCreate"]
    # The autoincremented key, the server default and the read-only owner are the server's.
    assert list(create["properties"]) == ["title", "isbn", "status", "price", "shelf_id"]
    assert create["required"] == ["title"] and create["additionalProperties"] is False
    assert "default" not in create["properties"]["status"]
    update = schemas["BookUpdate"]
    assert list(update["properties"]) == ["title", "isbn", "status", "price", "shelf_id"]
    assert "required" not in update and update["properties"]["title"]["type"] == "string"
    assert "default" not in update["properties"]["title"]
    page = schemas["BookPage"]
    assert page["required"] == ["items", "next_cursor", "prev_cursor", "estimated_total"]
    assert page["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Book"}

"""Content negotiation: 406 for a request refusing JSON, 415 for a body that is not plain JSON."""

from __future__ import annotations

import gzip
import json
import typing as t

import pytest
from flask import Flask
from openapi_spec_validator import validate

from erlen_api import spec_of
from erlen_api.negotiation import accepts_json


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, True),
        ("", True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/*", True),
        ("*/*", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("text/html;q=1, application/json;q=0.1", True),
        ("application/json;q=0", False),
        ("application/json;q=0, */*", False),
        ("*/*, application/*;q=0", False),
        ("application/json;q=0.5, */*;q=0", True),
        ("*/*;q=0", False),
        ("text/*", False),
        ("application/problem+json", False),
        ("application/xml", False),
        ("garbage", True),  # no valid media range: as if there were no Accept
        ("application/json;q=x", True),
    ],
)
def test_accepts_json(accept: str | None, expected: bool) -> None:
    assert accepts_json(accept) is expected


@pytest.mark.parametrize("accept", ["application/json;q=0, */*", "application/problem+json", "text/*"])
def test_a_request_refusing_json_gets_406(client: t.Any, accept: str) -> None:
    response = client.get("/api/v1/items/1", headers={"Accept": accept})
    assert response.status_code == 406
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 406


def test_a_media_range_with_parameters_accepts_json(client: t.Any) -> None:
    response = client.get("/api/v1/items/1", headers={"Accept": "application/json; charset=utf-8"})
    assert response.status_code == 200
    assert response.json["id"] == 1


def test_a_compressed_body_gets_415_naming_the_accepted_coding(client: t.Any) -> None:
    body = gzip.compress(json.dumps({"name": "pen", "quantity": 1}).encode())
    response = client.post(
        "/api/v1/items", data=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert response.status_code == 415
    assert response.headers["Accept-Encoding"] == "identity"
    assert "gzip" in response.json["detail"]


def test_an_identity_coded_body_is_read(client: t.Any) -> None:
    response = client.post(
        "/api/v1/items", json={"name": "pen", "quantity": 1}, headers={"Content-Encoding": "identity"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize("charset", ["latin-1", "ISO-8859-1", "utf-16", "windows-1252", "utf-80"])
def test_a_body_declaring_another_charset_than_utf8_gets_415_naming_it(client: t.Any, charset: str) -> None:
    """JSON is UTF-8 (RFC 8259): a body declaring Latin-1 was read as UTF-8 anyway, answered 400 "invalid unicode
    code point" for an "é", or created with other characters than the client sent."""
    body = json.dumps({"name": "café", "quantity": 1}, ensure_ascii=False).encode("latin-1")
    response = client.post("/api/v1/items", data=body, content_type=f"application/json; charset={charset}")
    assert (response.status_code, response.mimetype) == (415, "application/problem+json"), response.data
    assert f"charset={charset}" in response.json["detail"] and "UTF-8" in response.json["detail"]
    assert response.headers["Accept-Post"] == "application/json"


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8", '"utf-8"', "us-ascii"])
def test_a_body_declaring_utf8_is_read(client: t.Any, charset: str) -> None:
    body = json.dumps({"name": "café", "quantity": 1}, ensure_ascii=False).encode()
    response = client.post("/api/v1/items", data=body, content_type=f"application/json; charset={charset}")
    assert (response.status_code, response.json["name"]) == (201, "café")


def test_a_form_posted_gets_415_with_accept_post(client: t.Any) -> None:
    response = client.post("/api/v1/items", data={"name": "pen"})
    assert response.status_code == 415
    assert response.headers["Accept-Post"] == "application/json"
    assert "Accept-Patch" not in response.headers


def test_the_document_lists_406(app: Flask) -> None:
    document = spec_of(app)
    validate(document)
    read = document["paths"]["/api/v1/items/{id}"]["get"]
    assert read["responses"]["406"]["content"]["application/problem+json"]
    create = document["paths"]["/api/v1/items"]["post"]
    assert "Content-Encoding" in create["responses"]["415"]["description"]

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

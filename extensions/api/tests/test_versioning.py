"""Several versions side by side, and the headers of a deprecated one."""

from __future__ import annotations

import datetime
import typing as t

import pytest
from flask import Flask
from pydantic import BaseModel

from erlen_api import Api, spec_of
from erlen_api.versioning import Lifecycle

UTC = datetime.UTC


class OldNote(BaseModel):
    text: str


class NewNote(BaseModel):
    title: str
    body: str


old = Api(
    "notes_v1",
    __name__,
    version="v1",
    deprecated=datetime.datetime(2026, 6, 1, tzinfo=UTC),
    sunset=datetime.datetime(2027, 1, 1, tzinfo=UTC),
    successor="/api/v2/docs",
)
new = Api("notes_v2", __name__, version="v2")


@old.get("/notes/<int:id>")
def read_old(id: int) -> OldNote:
    return OldNote(text="hello")


@new.get("/notes/<int:id>")
def read_new(id: int) -> NewNote:
    return NewNote(title="hello", body="")


@pytest.fixture
def app(make_app: t.Any) -> Flask:
    made = t.cast(Flask, make_app(["api"]))
    made.register_blueprint(old)
    made.register_blueprint(new)
    return made


def test_versions_side_by_side(client: t.Any) -> None:
    assert client.get("/api/v1/notes/1").json == {"text": "hello"}
    assert client.get("/api/v2/notes/1").json == {"title": "hello", "body": ""}


def test_a_deprecated_version_says_so_on_every_response(client: t.Any) -> None:
    for response in (client.get("/api/v1/notes/1"), client.get("/api/v1/notes/abc")):
        assert response.headers["Deprecation"] == f"@{int(datetime.datetime(2026, 6, 1, tzinfo=UTC).timestamp())}"
        assert response.headers["Sunset"] == "Fri, 01 Jan 2027 00:00:00 GMT"
        assert response.headers["Link"] == '</api/v2/docs>; rel="successor-version"'
    current = client.get("/api/v2/notes/1")
    assert "Deprecation" not in current.headers and "Sunset" not in current.headers


def test_deprecated_operations_in_the_document(app: Flask) -> None:
    paths = spec_of(app)["paths"]
    assert paths["/api/v1/notes/{id}"]["get"]["deprecated"] is True
    assert "deprecated" not in paths["/api/v2/notes/{id}"]["get"]


def test_a_custom_prefix_and_bad_declarations(make_app: t.Any) -> None:
    internal = Api("internal", __name__, url_prefix="/internal/api")

    @internal.get("/ping")
    def ping() -> str:
        return "pong"

    app = make_app(["api"])
    app.register_blueprint(internal)
    assert app.test_client().get("/internal/api/ping").json == "pong"
    assert app.test_client().get("/internal/api/nothing").mimetype == "application/problem+json"
    with pytest.raises(ValueError, match="URL segment"):
        Api("bad", __name__, version="v 1")
    with pytest.raises(ValueError, match="time zone"):
        Lifecycle(deprecated=datetime.datetime(2026, 1, 1))


def test_the_prefix_follows_the_setting(make_app: t.Any) -> None:
    app = make_app(["api"], {"API_URL_PREFIX": "/rest"})
    app.register_blueprint(new)
    client = app.test_client()
    assert client.get("/rest/v2/notes/1").status_code == 200
    assert client.get("/rest/openapi.json").json["paths"].keys() == {"/rest/v2/notes/{id}"}

"""ETag and If-None-Match (304) on reads; If-Match (412, 428) on writes through erlen_api.check_if_match."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from openapi_spec_validator import validate
from pydantic import BaseModel

import erlen_api
from erlen_api import Api, spec_of
from erlen_api.etags import entity_tag


class Note(BaseModel):
    id: int
    title: str


class NoteChanges(BaseModel):
    title: str


class Row:
    """An object with attributes, as an ORM row is."""

    def __init__(self, id: int, title: str) -> None:
        self.id, self.title = id, title


api = Api("conditional", __name__, version="v1")
NOTES: dict[int, Note] = {}


@api.get("/notes/<int:id>")
def read_note(id: int) -> Note:
    return NOTES.get(id) or erlen_api.abort(404, f"No note {id}.")


@api.patch("/notes/<int:id>", responses={412: "The note changed since it was read."})
def update_note(id: int, changes: NoteChanges) -> Note:
    note = read_note(id)
    erlen_api.check_if_match(note)
    NOTES[id] = note.model_copy(update={"title": changes.title})
    return NOTES[id]


@api.delete("/notes/<int:id>", responses={412: "The note changed since it was read."})
def delete_note(id: int) -> None:
    note = read_note(id)
    # As a view reading an ORM row would: the GET endpoint's type makes the representation.
    erlen_api.check_if_match(Row(note.id, note.title), Note)
    del NOTES[id]


@api.post("/notes", status=201)
def create_note(changes: NoteChanges) -> Note:
    note = Note(id=max(NOTES, default=0) + 1, title=changes.title)
    NOTES[note.id] = note
    return note


@pytest.fixture(autouse=True)
def notes() -> t.Iterator[None]:
    NOTES.clear()
    NOTES[1] = Note(id=1, title="Groceries")
    yield
    NOTES.clear()


@pytest.fixture
def erlen_config() -> dict[str, t.Any]:
    return {}


@pytest.fixture
def app(make_app: t.Any, erlen_config: dict[str, t.Any]) -> Flask:
    made = t.cast(Flask, make_app(["api"], erlen_config))
    made.register_blueprint(api)
    return made


def test_a_read_has_the_etag_of_its_body(client: t.Any) -> None:
    response = client.get("/api/v1/notes/1")
    assert response.status_code == 200
    assert response.headers["ETag"] == entity_tag(response.data)
    assert client.head("/api/v1/notes/1").headers["ETag"] == response.headers["ETag"]


def test_if_none_match_answers_304_without_a_body(client: t.Any) -> None:
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        response = client.get("/api/v1/notes/1", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.data == b""
        assert response.headers["ETag"] == tag
        assert "Content-Type" not in response.headers


def test_a_changed_resource_is_sent_again(client: t.Any) -> None:
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    NOTES[1] = Note(id=1, title="Call Ada")
    response = client.get("/api/v1/notes/1", headers={"If-None-Match": tag})
    assert response.status_code == 200
    assert response.json["title"] == "Call Ada"
    assert response.headers["ETag"] != tag


#: Headers that are neither * nor a list of entity tags (RFC 9110, 8.8.3 and 13.1.1): unterminated, unquoted
#: (werkzeug read the bare text as a tag), a lower-case weak prefix, * among tags, a space or a quote inside.
MALFORMED = ['W/, ,"unterminated', "abc", 'w/"abc"', '*, "abc"', '"a" "b"', '"a b"', '"a"b"', "**", 'W/ "a"']


@pytest.mark.parametrize("header", MALFORMED)
def test_a_malformed_if_none_match_is_a_400_naming_the_header(app: Flask, header: str) -> None:
    from erlen_api.testing import api_client_for

    client = api_client_for(app)  # the 400 is checked against the OpenAPI document
    response = client.get("/api/v1/notes/1", headers={"If-None-Match": header})
    assert (response.status_code, response.mimetype) == (400, "application/problem+json"), response.data
    assert response.json["detail"].startswith("The If-None-Match header is not a list of entity tags")
    assert response.json["header"] == "If-None-Match"
    assert response.json["instance"] == "/api/v1/notes/1"
    assert "ETag" not in response.headers


@pytest.mark.parametrize("header", MALFORMED)
def test_a_malformed_if_match_is_a_400_not_a_412_and_changes_nothing(app: Flask, header: str) -> None:
    """A 412 says the precondition is false (the client re-reads and tries again, with the same header); the
    server could not read it: a 400 naming the header and the form it takes."""
    from erlen_api.testing import api_client_for

    client = api_client_for(app)
    for response in (
        client.patch("/api/v1/notes/1", json={"title": "Call Ada"}, headers={"If-Match": header}),
        client.delete("/api/v1/notes/1", headers={"If-Match": header}),
    ):
        assert (response.status_code, response.mimetype) == (400, "application/problem+json"), response.data
        assert response.json["detail"].startswith("The If-Match header is not a list of entity tags")
        assert response.json["header"] == "If-Match"
    assert NOTES[1].title == "Groceries"


def test_valid_lists_of_tags_are_compared_as_before(client: t.Any) -> None:
    """Weak comparison for If-None-Match (a weak tag of the same opaque text matches), strong for If-Match (a weak
    tag never does); empty list elements are allowed (RFC 9110, 5.6.1), and a comma may be inside a tag."""
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    for header in (f" W/{tag} ", f'"a,b", ,{tag}', f"\t{tag},"):
        assert client.get("/api/v1/notes/1", headers={"If-None-Match": header}).status_code == 304, header
    assert client.get("/api/v1/notes/1", headers={"If-None-Match": '"a,b", ""'}).status_code == 200
    assert (
        client.patch("/api/v1/notes/1", json={"title": "x"}, headers={"If-Match": f'W/{tag}, "a"'}).status_code == 412
    )
    assert client.patch("/api/v1/notes/1", json={"title": "x"}, headers={"If-Match": f'"a", {tag}'}).status_code == 200


def test_only_successful_reads_are_tagged(client: t.Any) -> None:
    assert "ETag" not in client.get("/api/v1/notes/9").headers  # a 404 problem
    assert "ETag" not in client.post("/api/v1/notes", json={"title": "Call Ada"}).headers


def test_the_openapi_document_is_tagged_too(client: t.Any) -> None:
    response = client.get("/api/openapi.json")
    assert response.headers["ETag"] == entity_tag(response.data)
    assert client.get("/api/openapi.json", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_plain_views_under_the_prefix_are_tagged_by_their_whole_body(app: Flask, client: t.Any) -> None:
    from flask import Response, stream_with_context

    chunks = [b'{"a":', b"1}"]
    app.add_url_rule("/api/chunks", "chunks", lambda: Response(list(chunks), content_type="application/json"))
    app.add_url_rule(
        "/api/text", "text", lambda: Response('{"b":"\u00e9"}', content_type="application/json; charset=utf-8")
    )
    app.add_url_rule(
        "/api/stream",
        "stream",
        lambda: Response(stream_with_context(iter(chunks)), content_type="application/json"),
    )
    app.add_url_rule("/elsewhere", "elsewhere", lambda: Response(b"{}", content_type="application/json"))
    assert client.get("/api/chunks").headers["ETag"] == entity_tag(b'{"a":1}')
    assert client.get("/api/text").headers["ETag"] == entity_tag('{"b":"\u00e9"}'.encode())
    assert "ETag" not in client.get("/api/stream").headers  # a streamed body is not read to tag it
    assert "ETag" not in client.get("/elsewhere").headers  # not under an API's prefix
    tag = entity_tag(b'{"a":1}')
    assert client.get("/api/chunks", headers={"If-None-Match": tag}).status_code == 304


def test_a_view_s_own_etag_is_kept_and_compared_whatever_its_case(app: Flask, client: t.Any) -> None:
    from flask import Response

    app.add_url_rule(
        "/api/own-tag",
        "own_tag",
        lambda: Response(b'{"a":1}', content_type="application/json", headers=[("etag", '"v7"')]),
    )
    app.add_url_rule(
        "/api/two-types",
        "two_types",
        lambda: Response(b"{}", headers=[("Content-Type", "application/json"), ("content-type", "text/plain")]),
    )
    response = client.get("/api/own-tag")
    assert response.headers.getlist("ETag") == ['"v7"']  # kept, not replaced nor joined by a second one
    assert client.get("/api/own-tag", headers={"If-None-Match": '"v7"'}).status_code == 304
    assert client.get("/api/own-tag", headers={"If-None-Match": entity_tag(b'{"a":1}')}).status_code == 200
    # The first Content-Type decides, as Headers.get reads it.
    assert client.get("/api/two-types").headers["ETag"] == entity_tag(b"{}")


def test_a_view_s_own_weak_etag_is_compared_weakly(app: Flask, client: t.Any) -> None:
    """RFC 9110 13.1.2: If-None-Match compares weakly, so W/"v7" matches W/"v7" and "v7". The W/ prefix was kept
    in the tag compared (W/"v7 once its quotes were stripped): a weak ETag never matched, and never got its 304."""
    from flask import Response

    app.add_url_rule(
        "/api/weak-tag",
        "weak_tag",
        lambda: Response(b'{"a":1}', content_type="application/json", headers={"ETag": 'W/"v7"'}),
    )
    for header in ('W/"v7"', '"v7"', '"other", W/"v7"'):
        assert client.get("/api/weak-tag", headers={"If-None-Match": header}).status_code == 304, header
    assert client.get("/api/weak-tag", headers={"If-None-Match": '"v8"'}).status_code == 200


def test_a_304_keeps_the_rate_limit_headers(make_app: t.Any) -> None:
    limited = t.cast(Flask, make_app(["api"], {"API_RATELIMIT_ADDRESS": "100/minute"}))
    limited.register_blueprint(api)
    client = limited.test_client()
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    response = client.get("/api/v1/notes/1", headers={"If-None-Match": tag})
    assert response.status_code == 304
    assert response.headers["ETag"] == tag
    assert response.headers["RateLimit-Policy"] == '"address-60s";q=100;w=60'
    assert response.headers["RateLimit"].startswith('"address-60s";r=98;')


def test_if_match_with_the_current_tag_lets_the_change_through(client: t.Any) -> None:
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    response = client.patch("/api/v1/notes/1", json={"title": "Call Ada"}, headers={"If-Match": tag})
    assert response.status_code == 200
    assert NOTES[1].title == "Call Ada"


def test_a_stale_if_match_gets_a_412_and_changes_nothing(client: t.Any) -> None:
    stale = client.get("/api/v1/notes/1").headers["ETag"]
    assert client.patch("/api/v1/notes/1", json={"title": "First"}, headers={"If-Match": stale}).status_code == 200
    response = client.patch("/api/v1/notes/1", json={"title": "Second"}, headers={"If-Match": stale})
    assert response.status_code == 412
    assert response.mimetype == "application/problem+json"
    assert response.json["title"] == "Precondition Failed"
    assert NOTES[1].title == "First"
    assert response.headers["ETag"] == client.get("/api/v1/notes/1").headers["ETag"]


def test_if_match_compares_strongly(client: t.Any) -> None:
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    response = client.patch("/api/v1/notes/1", json={"title": "Call Ada"}, headers={"If-Match": f"W/{tag}"})
    assert response.status_code == 412


def test_if_match_with_a_type_and_an_object_with_attributes(client: t.Any) -> None:
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    assert client.delete("/api/v1/notes/1", headers={"If-Match": '"stale"'}).status_code == 412
    assert client.delete("/api/v1/notes/1", headers={"If-Match": tag}).status_code == 204
    assert 1 not in NOTES


def test_without_if_match_the_change_goes_through_by_default(client: t.Any) -> None:
    assert client.patch("/api/v1/notes/1", json={"title": "Call Ada"}).status_code == 200


@pytest.mark.parametrize("erlen_config", [{"API_REQUIRE_IF_MATCH": True}])
def test_a_missing_if_match_gets_a_428_when_required(client: t.Any) -> None:
    response = client.patch("/api/v1/notes/1", json={"title": "Call Ada"})
    assert response.status_code == 428
    assert "If-Match" in response.json["detail"]
    assert NOTES[1].title == "Groceries"
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    assert client.patch("/api/v1/notes/1", json={"title": "Call Ada"}, headers={"If-Match": tag}).status_code == 200


def test_etag_of_is_the_tag_of_a_read(app: Flask, client: t.Any) -> None:
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    assert erlen_api.etag_of(NOTES[1]) == tag
    assert erlen_api.etag_of(Row(1, "Groceries"), Note) == tag
    assert erlen_api.etag_of({"id": 1, "title": "Groceries"}, Note) == tag


def test_the_document_describes_conditional_requests(app: Flask) -> None:
    document = spec_of(app)
    validate(document)
    read = document["paths"]["/api/v1/notes/{id}"]["get"]
    assert read["responses"]["200"]["headers"]["ETag"] == {"$ref": "#/components/headers/ETag"}
    assert "content" not in read["responses"]["304"]
    assert {"name": "If-None-Match", "in": "header"}.items() <= read["parameters"][1].items()
    update = document["paths"]["/api/v1/notes/{id}"]["patch"]
    assert [p["name"] for p in update["parameters"] if p["in"] == "header"] == ["If-Match"]
    assert "412" in update["responses"] and "428" not in update["responses"]
    assert "304" not in update["responses"]
    # The 400 of a malformed If-Match and If-None-Match.
    assert "If-Match" in update["responses"]["400"]["description"]
    assert "If-None-Match" in read["responses"]["400"]["description"]
    delete = document["paths"]["/api/v1/notes/{id}"]["delete"]
    assert delete["responses"]["400"]["description"] == "Bad Request: If-Match is not * nor a list of entity tags."
    assert "ETag" in document["components"]["headers"]


@pytest.mark.parametrize("erlen_config", [{"API_REQUIRE_IF_MATCH": True}])
def test_the_document_says_if_match_is_required(app: Flask) -> None:
    document = spec_of(app)
    validate(document)
    update = document["paths"]["/api/v1/notes/{id}"]["patch"]
    assert next(p for p in update["parameters"] if p["name"] == "If-Match")["required"] is True
    assert "428" in update["responses"]


def test_the_api_client_checks_304_and_412_against_the_document(app: Flask) -> None:
    from erlen_api.testing import api_client_for

    client = api_client_for(app)
    tag = client.get("/api/v1/notes/1").headers["ETag"]
    assert client.get("/api/v1/notes/1", headers={"If-None-Match": tag}).status_code == 304
    assert client.patch("/api/v1/notes/1", json={"title": "x"}, headers={"If-Match": '"old"'}).status_code == 412

"""Resources from models: create, read, change, delete; ETag and If-Match; 409 conflicts; scope; permissions.

On SQLite and PostgreSQL (``make_db_app`` runs each test on both).
"""

from __future__ import annotations

import logging
import re
import typing as t
from pathlib import Path

import pytest
from flask import Flask

import erlen

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

import sqlalchemy as sa  # noqa: E402
from api_sample.library import Book, Shelf  # noqa: E402

from erlen_api import ApiDeclarationError, Resource  # noqa: E402
from erlen_api.etags import entity_tag  # noqa: E402
from erlen_api.testing import ApiClient, api_client_for  # noqa: E402
from erlen_auth import Role, grant  # noqa: E402
from erlen_auth.testing import login_as, make_user  # noqa: E402
from erlen_db import database_of  # noqa: E402

PLUGINS = ["forms", "auth", "api", "api_sample.tokens", "api_sample.library"]


@pytest.fixture
def app(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> Flask:
    return t.cast(Flask, make_db_app(PLUGINS, auth_config, create_all=True))


def _editor(app: Flask, email: str) -> t.Any:
    user = make_user(app, email, roles=["librarian"])
    db = database_of(app).new_session()
    try:
        role = db.scalars(sa.select(Role).where(Role.name == "librarian")).one()
        grant(role, "books.edit", app=app)
        db.commit()
    finally:
        db.close()
    return user


@pytest.fixture
def ada(app: Flask) -> ApiClient:
    """A client with a token of a librarian (who has books.edit)."""
    return api_client_for(app, token=f"user-{_editor(app, 'ada@example.com').id}")


@pytest.fixture
def bob(app: Flask) -> ApiClient:
    """A client with a token of another librarian."""
    return api_client_for(app, token=f"user-{_editor(app, 'bob@example.com').id}")


def _problem(response: t.Any, status: int) -> dict[str, t.Any]:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    return t.cast(dict[str, t.Any], response.json)


def test_create_read_change_delete(ada: ApiClient) -> None:
    created = ada.post("/api/v1/books", json={"title": "Dune", "isbn": "9780441013593", "price": "9.99"})
    assert created.status_code == 201, created.data
    book = created.json
    assert created.headers["Location"] == f"/api/v1/books/{book['id']}"
    assert created.headers["ETag"] == entity_tag(created.data)
    assert set(book) == {"id", "title", "isbn", "status", "price", "shelf_id", "owner_id", "created_at"}
    assert book["status"] == "draft" and book["price"] == "9.99" and book["shelf_id"] is None
    assert book["created_at"] is not None and book["owner_id"] is not None

    read = ada.get(created.headers["Location"])
    assert read.status_code == 200
    assert read.data == created.data
    assert read.headers["ETag"] == created.headers["ETag"]

    changed = ada.patch(
        f"/api/v1/books/{book['id']}",
        json={"status": "published", "price": None},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.data
    assert changed.json == {**book, "status": "published", "price": None}
    assert changed.headers["ETag"] == entity_tag(changed.data) != read.headers["ETag"]
    assert ada.get(f"/api/v1/books/{book['id']}").data == changed.data

    assert ada.delete(f"/api/v1/books/{book['id']}", headers={"If-Match": changed.headers["ETag"]}).status_code == 204
    _problem(ada.get(f"/api/v1/books/{book['id']}"), 404)


def test_keys_beyond_the_column_are_404s_not_500s(ada: ApiClient) -> None:
    huge = "9" * 30
    for response in (
        ada.get(f"/api/v1/books/{huge}"),
        ada.patch(f"/api/v1/books/{huge}", json={}),
        ada.delete(f"/api/v1/books/{huge}"),
    ):
        _problem(response, 404)


def test_a_stale_if_match_is_refused_with_412_and_changes_nothing(ada: ApiClient) -> None:
    book = ada.post("/api/v1/books", json={"title": "Emma"})
    first_tag = book.headers["ETag"]
    url = book.headers["Location"]
    # Someone else changes it meanwhile (no If-Match: last write wins, as without the header).
    assert ada.patch(url, json={"title": "Emma (2nd ed.)"}).status_code == 200
    stale = _problem(ada.patch(url, json={"title": "Mine"}, headers={"If-Match": first_tag}), 412)
    assert "changed since" in stale["detail"]
    _problem(ada.delete(url, headers={"If-Match": first_tag}), 412)
    assert ada.get(url).json["title"] == "Emma (2nd ed.)"
    # A weak tag never matches If-Match (strong comparison); "*" matches any version.
    current = ada.get(url).headers["ETag"]
    _problem(ada.patch(url, json={"title": "Weak"}, headers={"If-Match": f"W/{current}"}), 412)
    assert ada.patch(url, json={"title": "Star"}, headers={"If-Match": "*"}).status_code == 200


def test_a_malformed_if_match_is_a_400_not_a_412_and_changes_nothing(ada: ApiClient) -> None:
    book = ada.post("/api/v1/books", json={"title": "Emma"})
    url, tag = book.headers["Location"], book.headers["ETag"]
    unquoted = tag.strip('"')  # werkzeug read a bare tag as that tag: it matched
    for header in (unquoted, f"w/{tag}", f"*, {tag}"):
        refused = _problem(ada.patch(url, json={"title": "Mine"}, headers={"If-Match": header}), 400)
        assert refused["detail"].startswith("The If-Match header is not a list of entity tags"), refused
        _problem(ada.delete(url, headers={"If-Match": header}), 400)
    assert ada.get(url).json["title"] == "Emma"


def test_a_change_whose_answer_fails_is_not_saved(app: Flask, ada: ApiClient) -> None:
    """A write answers an error only when nothing was saved: the answer is made before the commit.

    A title longer than the model's String(80), stored by other means (SQLite does not enforce lengths; on
    PostgreSQL the column was widened), cannot be read back by the schema: a change of another field that
    keeps it answers 500, and must then leave the row as it was, or the client retries a write that happened.
    """
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the 500 as a client gets it
    url = ada.post("/api/v1/books", json={"title": "Emma"}).headers["Location"]
    with database_of(app).engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE api_sample_book ALTER COLUMN title TYPE varchar(200)"))
        # Plain SQL: the ORM's statement would be refused by the column's own length on PostgreSQL.
        connection.execute(sa.text("UPDATE api_sample_book SET title = :title"), {"title": "x" * 100})
        assert connection.scalar(sa.text("SELECT length(title) FROM api_sample_book")) == 100

    failed = _problem(ada.patch(url, json={"status": "published"}), 500)
    assert "Traceback" not in failed["detail"]
    assert (failed["type"], failed["fields"]) == ("urn:erlen:problem:stored-value-invalid", ["title"])
    with database_of(app).engine.connect() as connection:
        assert connection.scalar(sa.select(Book.status)).value == "draft"

    # A change that makes the row readable again is saved and answered.
    repaired = ada.patch(url, json={"title": "Emma", "status": "published"})
    assert repaired.status_code == 200, repaired.data
    assert ada.get(url).json["status"] == "published"


def _store_a_long_title(app: Flask, book_id: int) -> None:
    """Give the book ``book_id`` a title longer than the model's String(80), as plain SQL or another app would."""
    with database_of(app).engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE api_sample_book ALTER COLUMN title TYPE varchar(200)"))
        connection.execute(
            sa.text("UPDATE api_sample_book SET title = :title WHERE id = :id"), {"title": "q" * 100, "id": book_id}
        )
        assert connection.scalar(sa.text("SELECT max(length(title)) FROM api_sample_book")) == 100


def _stored_value_problem(response: t.Any, caplog: pytest.LogCaptureFixture, resource: str) -> dict[str, t.Any]:
    """The problem of a stored value the schema refuses, checked, with the one error it logged."""
    problem = _problem(response, 500)
    assert problem["type"] == "urn:erlen:problem:stored-value-invalid"
    assert problem["title"] == "Stored value invalid"
    assert problem["resource"] == resource
    assert b"qqqq" not in response.data and b"Traceback" not in response.data and b"abc" not in response.data
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1, [record.getMessage() for record in errors]
    caplog.clear()
    problem["logged"] = errors[0].getMessage()
    assert "qqqq" not in problem["logged"]
    return problem


def test_a_stored_value_the_schema_refuses_is_a_500_problem_naming_the_field(
    app: Flask, ada: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A row written by other means with a value the read schema refuses answers a problem naming the resource
    and the field, never the value, and logs one error naming the row, for reads, lists and writes alike."""
    fine = ada.post("/api/v1/books", json={"title": "Emma"}).json
    bad = ada.post("/api/v1/books", json={"title": "Dune"}).json
    _store_a_long_title(app, bad["id"])
    url = f"/api/v1/books/{bad['id']}"

    read = _stored_value_problem(ada.get(url), caplog, "books")
    assert read["fields"] == ["title"] and read["instance"] == url
    assert "books" in read["detail"] and "title" in read["detail"]
    assert f"Book key {bad['id']}: title (string_too_long)" in read["logged"]
    listed = _stored_value_problem(ada.get("/api/v1/books"), caplog, "books")
    assert listed["fields"] == ["title"]
    assert f"Book key {bad['id']}: title (string_too_long)" in listed["logged"]
    assert str(fine["id"]) not in listed["logged"].partition("refuses")[2].partition("correct")[0]
    # A write's answer is made before its commit: refused so, nothing is saved.
    changed = _stored_value_problem(ada.patch(url, json={"status": "published"}), caplog, "books")
    assert changed["fields"] == ["title"]
    assert ada.get(f"/api/v1/books/{fine['id']}").status_code == 200
    with database_of(app).engine.connect() as connection:
        assert connection.scalar(sa.select(Book.status).where(Book.id == bad["id"])).value == "draft"

    document = ada.get("/api/openapi.json").json
    for path, method in (("/api/v1/books/{id}", "get"), ("/api/v1/books", "get"), ("/api/v1/books/{id}", "patch")):
        assert "stored-value-invalid" in document["paths"][path][method]["responses"]["500"]["description"]


def test_the_operations_summaries_name_one_item_in_words(ada: ApiClient) -> None:
    paths = ada.get("/api/openapi.json").json["paths"]
    summaries = {(path, method): paths[path][method]["summary"] for path in paths for method in paths[path]}
    assert {key: value for key, value in summaries.items() if key[0].startswith("/api/v1/books")} == {
        ("/api/v1/books", "get"): "List books.",
        ("/api/v1/books", "post"): "Create one book.",
        ("/api/v1/books/{id}", "get"): "Read one book.",
        ("/api/v1/books/{id}", "patch"): "Change one book.",
        ("/api/v1/books/{id}", "delete"): "Delete one book.",
    }


@pytest.mark.parametrize(
    ("schema_name", "words"),
    [
        ("Note", "note"),
        ("ProfileImage", "profile image"),
        ("APIKey", "API key"),
        ("HTTPLog", "HTTP log"),
        ("OAuth2Client", "oauth2 client"),
        ("URL", "URL"),
    ],
)
def test_an_item_is_called_by_its_schema_name_in_words(schema_name: str, words: str) -> None:
    from erlen_api.resource_api import item_words

    assert item_words(schema_name) == words


def test_a_stored_value_of_another_type_is_a_500_problem_too(
    app: Flask, ada: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite stores text in an integer column; PostgreSQL refuses it, and its integer may pass a SmallInteger's
    range once the column is widened: either way, the read schema refuses the stored value."""
    shelf = ada.post("/api/v1/shelves", json={"name": "Fiction"}).json
    with database_of(app).engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE api_sample_shelf ALTER COLUMN floor TYPE integer"))
            connection.execute(sa.text("UPDATE api_sample_shelf SET floor = 70000"))
            expected = "less_than_equal"
        else:
            connection.execute(sa.text("UPDATE api_sample_shelf SET floor = 'abc'"))
            expected = "int_parsing"
    for url in (f"/api/v1/shelves/{shelf['id']}", "/api/v1/shelves"):
        problem = _stored_value_problem(ada.get(url), caplog, "shelves")
        assert problem["fields"] == ["floor"]
        assert f"Shelf key {shelf['id']}: floor ({expected})" in problem["logged"]
    caplog.clear()
    assert b"70000" not in ada.get("/api/v1/shelves").data


def test_rows_whose_session_is_closed_are_judged_by_the_apps_database(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """A view that closes its session before answering: the column's limits are still those of the app's
    database (a SmallInteger's on PostgreSQL), so a stored value past them is the data's fault, while a response
    model narrower than the column (le=3) is the view's error."""
    from pydantic import BaseModel, Field

    import erlen_api

    class FloorOut(BaseModel):
        id: int
        floor: int = Field(ge=-32768, le=32767)  # as strict as its SmallInteger column

    class LowFloorOut(BaseModel):
        id: int
        floor: int = Field(le=3)

    extra = erlen_api.Api("closed", version="v7")

    def shelves() -> list[Shelf]:
        with database_of(app).new_session() as session:
            return list(session.scalars(sa.select(Shelf).order_by(Shelf.id)))

    # response=: the view's local models do not resolve from a return annotation (annotations are strings here).
    @extra.get("/floors", response=list[FloorOut])
    def floors() -> t.Any:
        return shelves()

    @extra.get("/low-floors", response=list[LowFloorOut])
    def low_floors() -> t.Any:
        return shelves()

    app.register_blueprint(extra)
    database = database_of(app)
    with database.engine.begin() as connection:
        connection.execute(sa.insert(Shelf).values(id=1, name="Fiction", floor=5))
    client = app.test_client()
    with pytest.raises(erlen_api.ResponseValidationError, match=r"Shelf\.floor \(key 1\)"):
        client.get("/api/v7/low-floors")
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE api_sample_shelf ALTER COLUMN floor TYPE integer"))
            connection.execute(sa.text("UPDATE api_sample_shelf SET floor = 70000"))
        else:
            connection.execute(sa.text("UPDATE api_sample_shelf SET floor = 'abc'"))
    problem = _problem(client.get("/api/v7/floors"), 500)
    assert (problem["type"], problem["fields"]) == ("urn:erlen:problem:stored-value-invalid", ["floor"])
    caplog.clear()


def test_a_stored_value_of_no_enum_member_is_a_500_problem_too(
    app: Flask, ada: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLAlchemy refuses an enum value none of its members stores while loading the row (SQLite keeps any
    text in the column, PostgreSQL's enum type only its labels, until one is added): the same problem."""
    fine = ada.post("/api/v1/books", json={"title": "Emma"}).json
    bad = ada.post("/api/v1/books", json={"title": "Dune"}).json
    with database_of(app).engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TYPE status ADD VALUE 'abc'"))
    with database_of(app).engine.begin() as connection:
        connection.execute(sa.text("UPDATE api_sample_book SET status = 'abc' WHERE id = :id"), {"id": bad["id"]})
    for url in (f"/api/v1/books/{bad['id']}", "/api/v1/books"):
        problem = _stored_value_problem(ada.get(url), caplog, "books")
        assert problem["fields"] == ["status"]
        assert f"Book key {bad['id']}: status (enum)" in problem["logged"]
    assert ada.get(f"/api/v1/books/{fine['id']}").json["status"] == "draft"
    # A list that filters the row out is answered.
    assert [book["id"] for book in ada.get("/api/v1/books?status=draft").json["items"]] == [fine["id"]]


def test_secret_columns_are_never_exposed_nor_written(app: Flask, ada: ApiClient) -> None:
    created = ada.post("/api/v1/books", json={"title": "Secret"}).json
    db = database_of(app).new_session()
    try:
        db.get(Book, created["id"]).access_token = "s3cret-value"  # type: ignore[union-attr]
        db.commit()
    finally:
        db.close()
    assert b"s3cret" not in ada.get(f"/api/v1/books/{created['id']}").data
    assert b"s3cret" not in ada.get("/api/v1/books").data
    refused = _problem(ada.post("/api/v1/books", json={"title": "x", "access_token": "mine"}), 422)
    assert [(e["pointer"], e["type"]) for e in refused["errors"]] == [("#/access_token", "extra_forbidden")]


def test_keys_server_defaults_and_read_only_fields_cannot_be_written(ada: ApiClient) -> None:
    refused = _problem(
        ada.post("/api/v1/books", json={"title": "x", "id": 7, "created_at": "2020-01-01T00:00:00Z"}), 422
    )
    assert sorted(e["pointer"] for e in refused["errors"]) == ["#/created_at", "#/id"]
    book = ada.post("/api/v1/books", json={"title": "x"}).json
    refused = _problem(ada.patch(f"/api/v1/books/{book['id']}", json={"owner_id": 1, "id": 9}), 422)
    assert sorted(e["pointer"] for e in refused["errors"]) == ["#/id", "#/owner_id"]


def test_types_lengths_nullability_and_enums_are_validated(app: Flask, ada: ApiClient) -> None:
    refused = _problem(ada.post("/api/v1/books", json={"title": "x" * 81, "status": "lost", "price": "12345.678"}), 422)
    assert sorted(e["type"] for e in refused["errors"]) == ["decimal_max_digits", "enum", "string_too_long"]
    assert _problem(ada.post("/api/v1/books", json={}), 422)["errors"][0]["pointer"] == "#/title"
    book = ada.post("/api/v1/books", json={"title": "x"}).json
    # title is NOT NULL: a change may leave it out, never set it to null; isbn takes null.
    assert _problem(ada.patch(f"/api/v1/books/{book['id']}", json={"title": None}), 422)["errors"][0]["pointer"] == (
        "#/title"
    )
    assert ada.patch(f"/api/v1/books/{book['id']}", json={"isbn": None}).status_code == 200
    nul = _problem(ada.post("/api/v1/books", json={"title": "nul \x00 inside"}), 422)["errors"]
    # In words, where pydantic's message quoted the pattern ("String should match pattern '^[^\\x00]*$'").
    assert nul == [
        {
            "detail": "Text may not hold the NUL character (\\u0000): remove it.",
            "location": "body",
            "pointer": "#/title",
            "type": "string_pattern_mismatch",
        }
    ]
    # A SmallInteger holds 16 bits on PostgreSQL; SQLite stores 64 in any integer column.
    big = ada.post("/api/v1/shelves", json={"name": "big", "floor": 40000})
    assert big.status_code == (422 if database_of(app).engine.dialect.name == "postgresql" else 201), big.data


def test_a_taken_unique_value_is_a_409_naming_the_field(ada: ApiClient) -> None:
    assert ada.post("/api/v1/shelves", json={"name": "Fiction"}).status_code == 201
    problem = _problem(ada.post("/api/v1/shelves", json={"name": "Fiction"}), 409)
    assert problem["type"] == "urn:erlen:problem:conflict"
    assert problem["errors"] == [
        {"detail": "This value is taken by another item.", "location": "body", "pointer": "#/name", "type": "unique"}
    ]
    other = ada.post("/api/v1/shelves", json={"name": "Poetry"}).json
    assert (
        _problem(ada.patch(f"/api/v1/shelves/{other['id']}", json={"name": "Fiction"}), 409)["errors"][0]["pointer"]
        == "#/name"
    )
    ada.post("/api/v1/books", json={"title": "a", "isbn": "111"})
    assert _problem(ada.post("/api/v1/books", json={"title": "b", "isbn": "111"}), 409)["errors"][0]["pointer"] == (
        "#/isbn"
    )
    # The failed writes left the session usable and nothing half-done.
    assert [s["name"] for s in ada.get("/api/v1/shelves").json["items"]] == ["Fiction", "Poetry"]


def test_a_reference_to_no_row_is_a_409_naming_the_field(ada: ApiClient) -> None:
    problem = _problem(ada.post("/api/v1/books", json={"title": "x", "shelf_id": 999}), 409)
    assert problem["errors"] == [
        {"detail": "No row has this key.", "location": "body", "pointer": "#/shelf_id", "type": "foreign_key"}
    ]
    shelf = ada.post("/api/v1/shelves", json={"name": "Fiction"}).json
    book = ada.post("/api/v1/books", json={"title": "x", "shelf_id": shelf["id"]}).json
    assert book["shelf_id"] == shelf["id"]
    assert (
        _problem(ada.patch(f"/api/v1/books/{book['id']}", json={"shelf_id": 998}), 409)["errors"][0]["pointer"]
        == "#/shelf_id"
    )
    referred = _problem(ada.delete(f"/api/v1/shelves/{shelf['id']}"), 409)
    assert referred["detail"] == "Other rows refer to this item of shelves; delete or change them first."
    assert ada.get(f"/api/v1/shelves/{shelf['id']}").status_code == 200


def test_the_scope_keeps_each_user_to_their_own_books(ada: ApiClient, bob: ApiClient) -> None:
    mine = ada.post("/api/v1/books", json={"title": "Ada's"}).json
    theirs = bob.post("/api/v1/books", json={"title": "Bob's"}).json
    assert [b["title"] for b in ada.get("/api/v1/books").json["items"]] == ["Ada's"]
    assert [b["title"] for b in bob.get("/api/v1/books").json["items"]] == ["Bob's"]
    url = f"/api/v1/books/{theirs['id']}"
    _problem(ada.get(url), 404)
    _problem(ada.patch(url, json={"title": "stolen"}), 404)
    _problem(ada.delete(url), 404)
    assert bob.get(url).json["title"] == "Bob's"
    assert mine["owner_id"] != theirs["owner_id"]


def test_each_operation_needs_its_permission_and_tokens_their_scope(app: Flask, ada: ApiClient) -> None:
    reader = make_user(app, "reader@example.com")
    anonymous = api_client_for(app)
    shelf = ada.post("/api/v1/shelves", json={"name": "Open"}).json
    assert anonymous.get("/api/v1/shelves").status_code == 200
    assert anonymous.get(f"/api/v1/shelves/{shelf['id']}").status_code == 200
    response = anonymous.post("/api/v1/shelves", json={"name": "x"})
    _problem(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"]
    _problem(anonymous.get("/api/v1/books"), 401)  # login_required
    as_reader = api_client_for(app, token=f"user-{reader.id}")
    assert as_reader.get("/api/v1/books").json["items"] == []
    assert _problem(as_reader.post("/api/v1/books", json={"title": "x"}), 403)["detail"] == (
        "You need the permission 'books.edit'."
    )
    librarian_without_scope = api_client_for(app, token=ada.token.replace("user-", "read-"))  # type: ignore[union-attr]
    problem = _problem(librarian_without_scope.patch(f"/api/v1/shelves/{shelf['id']}", json={"name": "y"}), 403)
    assert problem["detail"] == "The access token's scopes do not include the permission 'books.edit'."
    # The session cookie works too, with the CSRF header (the api client sends it).
    session_client = login_as(api_client_for(app), _editor(app, "cyd@example.com"))
    assert session_client.post("/api/v1/books", json={"title": "by session"}).status_code == 201
    no_csrf = login_as(app.test_client(), reader)
    assert _problem(no_csrf.post("/api/v1/books", json={"title": "x"}), 403)["type"] == "urn:erlen:problem:csrf"


def test_operations_can_be_switched_off_and_need_a_user_one_by_one(
    make_db_app: t.Any, auth_config: dict[str, t.Any]
) -> None:
    racks = Resource(Shelf, name="racks", version="v2", operations=["list", "read"], login_required=["read"])
    app = make_db_app([*PLUGINS, "api_sample.configured"], {**auth_config, "SAMPLE_RESOURCES": [racks]})
    database_of(app).create_all()
    client = api_client_for(app)
    assert client.get("/api/v2/racks").json["items"] == []
    _problem(client.post("/api/v2/racks", json={"name": "x"}), 405)
    _problem(client.delete("/api/v2/racks/1"), 405)
    _problem(client.get("/api/v2/racks/1"), 401)  # reading one needs a user, listing does not


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (Resource(Shelf, name="a", filters=["colour"]), "filters names 'colour', which the resource does not expose"),
        (
            Resource(Book, name="b", sorts=["isbn"]),
            "sorts names 'isbn': a list sorts only by columns that are NOT NULL",
        ),
        (
            Resource(Book, name="c", fields=["id", "access_token"]),
            "fields names 'access_token', whose names look like secrets",
        ),
        (
            Resource(Book, name="h", sorts=["access_token"]),
            "'access_token' look like secrets (by erlen-forms' is_sensitive rule), which a resource never exposes; "
            "if they hold no secret, list them in not_secret.",
        ),
        (Resource(Shelf, name="d", exclude=["nope"]), "exclude names 'nope', which Shelf has no column attribute of"),
        (Resource(Shelf, name="Bad Name"), "name 'Bad Name' must be a URL segment"),
        (Resource(Shelf, name="f", default_sort="floor"), "default_sort 'floor' is none of"),
        (Resource(Shelf, name="g", operations=["list", "purge"]), "unknown operations ['purge']"),
        (Resource(Shelf, name="shelves"), "both declare the resource 'shelves' of API version v1"),
        ("not a resource", "erlen_api_resources returned str"),
    ],
)
def test_declarations_that_do_not_fit_stop_the_app(
    make_app: t.Any, tmp_path: Path, auth_config: dict[str, t.Any], resource: t.Any, message: str
) -> None:
    config = {**auth_config, "DB_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "SAMPLE_RESOURCES": [resource]}
    with pytest.raises(erlen.ErlenError, match=re.escape(message)):
        make_app(["db", *PLUGINS, "api_sample.configured"], config)


def test_resources_need_the_db_plugin(make_app: t.Any) -> None:
    resource = Resource(Shelf)
    with pytest.raises(ApiDeclarationError, match="enable the 'db' plugin"):
        make_app(["api", "api_sample.configured"], {"SAMPLE_RESOURCES": [resource]})


def test_the_etag_of_a_write_is_that_of_the_stored_row_as_a_read_answers_it(ada: ApiClient) -> None:
    """A write answers the row as the database stores it: a price of ``1.5`` in a ``Numeric(6, 2)`` column is
    read back as ``1.50``, and the ETag of the create must be a read's, or an ``If-Match`` with it is refused."""
    created = ada.post("/api/v1/books", json={"title": "Emma", "price": "1.5"})
    assert created.status_code == 201, created.data
    read = ada.get(created.headers["Location"])
    assert (created.data, created.headers["ETag"]) == (read.data, read.headers["ETag"])
    changed = ada.patch(
        created.headers["Location"], json={"price": "2.5"}, headers={"If-Match": created.headers["ETag"]}
    )
    assert changed.status_code == 200, changed.data
    read = ada.get(created.headers["Location"])
    assert (changed.data, changed.headers["ETag"]) == (read.data, read.headers["ETag"])


def test_a_row_with_a_joined_nullable_relationship_is_changed_and_deleted(
    make_db_app: t.Any, auth_config: dict[str, t.Any]
) -> None:
    """Before: a change or deletion read its row ``FOR UPDATE`` with the LEFT OUTER JOIN of a relationship loaded
    with it (``lazy="joined"``), which PostgreSQL refuses for the join's nullable side: a 500. Now ``FOR UPDATE
    OF`` the resource's table alone."""
    app = make_db_app([*PLUGINS, "api_sample.loans"], auth_config, create_all=True)
    client = api_client_for(app, token=f"user-{_editor(app, 'ada@example.com').id}")
    created = client.post("/api/v1/loans", json={"borrower": "Ada"})
    assert created.status_code == 201, created.data
    location = created.headers["Location"]
    changed = client.patch(location, json={"borrower": "Grace"}, headers={"If-Match": created.headers["ETag"]})
    assert (changed.status_code, changed.json["borrower"]) == (200, "Grace"), changed.data
    assert client.delete(location).status_code == 204
    _problem(client.get(location), 404)


def test_on_create_and_on_update_may_refuse_and_what_on_create_adds_is_saved_with_the_row_or_not_at_all(
    app: Flask, ada: ApiClient
) -> None:
    """What Resource's docs promise of on_create and on_update (api_sample.library's hooks)."""

    def titles() -> tuple[list[str], list[str]]:
        db = database_of(app).new_session()
        try:
            books = db.scalars(sa.select(Book.title).order_by(Book.id)).all()
            shelves = db.scalars(sa.select(Shelf.name).order_by(Shelf.id)).all()
            return list(books), list(shelves)
        finally:
            db.close()

    refused = _problem(ada.post("/api/v1/books", json={"title": "Refused on create"}), 422)
    assert refused["errors"] == [
        {"detail": "This title is refused.", "location": "body", "pointer": "#/title", "type": "refused"}
    ]
    assert titles() == ([], [])

    created = ada.post("/api/v1/books", json={"title": "Shelved: Attic", "isbn": "9780441013593"})
    assert created.status_code == 201, created.data
    assert titles() == (["Shelved: Attic"], ["Attic"])
    # A 409 (the ISBN is taken) rolls back what on_create added too.
    _problem(ada.post("/api/v1/books", json={"title": "Shelved: Cellar", "isbn": "9780441013593"}), 409)
    assert titles() == (["Shelved: Attic"], ["Attic"])

    url = created.headers["Location"]
    _problem(ada.patch(url, json={"title": "Refused on update", "price": "3.50"}), 422)
    assert ada.get(url).json["title"] == "Shelved: Attic" and ada.get(url).json["price"] is None
    assert titles() == (["Shelved: Attic"], ["Attic"])


def test_after_create_sees_the_new_rows_key_and_commits_with_it(
    make_db_app: t.Any, auth_config: dict[str, t.Any]
) -> None:
    import erlen_api
    import erlen_db

    keys_seen: list[int] = []

    def add_an_annex(row: Shelf) -> None:
        """Write a row that needs the new shelf's key, as a job enqueued for it would."""
        keys_seen.append(row.id)
        if row.name == "Refused":
            refused = {"detail": "Not this name.", "location": "body", "pointer": "#/name", "type": "refused"}
            erlen_api.abort(422, "The request's inputs are invalid.", errors=[refused])
        erlen_db.session.add(Shelf(name=f"Annex {row.id}" if row.name != "Cellar" else "Attic", floor=row.id))

    resource = Resource(Shelf, name="annexes", after_create=add_an_annex)
    app = make_db_app([*PLUGINS, "api_sample.configured"], {**auth_config, "SAMPLE_RESOURCES": [resource]})
    database_of(app).create_all()
    client = api_client_for(app)

    created = client.post("/api/v1/annexes", json={"name": "Attic"})
    assert created.status_code == 201, created.json
    assert keys_seen == [created.json["id"]]  # flushed: the key is there
    # A taken name is the row's 409 (a flush of on_create's own answered 500): after_create is not called.
    taken = _problem(client.post("/api/v1/annexes", json={"name": "Attic"}), 409)
    assert [error["pointer"] for error in taken["errors"]] == ["#/name"]
    assert len(keys_seen) == 1
    # What after_create writes is checked the same way, and the row goes with it.
    _problem(client.post("/api/v1/annexes", json={"name": "Cellar"}), 409)
    _problem(client.post("/api/v1/annexes", json={"name": "Refused"}), 422)
    db = database_of(app).new_session()
    try:
        stored = db.execute(sa.select(Shelf.name, Shelf.floor).order_by(Shelf.id)).all()
    finally:
        db.close()
    assert [tuple(row) for row in stored] == [("Attic", 0), (f"Annex {created.json['id']}", created.json["id"])]


def test_constraints_refuse_what_the_column_alone_would_take(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> None:
    from pydantic import Field

    resource = Resource(
        Shelf, name="labelled", schema_name="Label", constraints={"name": Field(min_length=2, pattern=r"^[A-Z]")}
    )
    app = make_db_app([*PLUGINS, "api_sample.configured"], {**auth_config, "SAMPLE_RESOURCES": [resource]})
    database_of(app).create_all()
    client = api_client_for(app)
    refused = _problem(client.post("/api/v1/labelled", json={"name": "x"}), 422)
    assert [(error["pointer"], error["type"]) for error in refused["errors"]] == [("#/name", "string_too_short")]
    created = client.post("/api/v1/labelled", json={"name": "Attic"})
    assert created.status_code == 201, created.json
    changed = _problem(client.patch(created.headers["Location"], json={"name": "attic"}), 422)
    assert [error["type"] for error in changed["errors"]] == ["string_pattern_mismatch"]
    document = client.get("/api/openapi.json").json["components"]["schemas"]["LabelCreate"]["properties"]["name"]
    assert (document["minLength"], document["maxLength"]) == (2, 40)

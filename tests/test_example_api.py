"""The example app's REST API: its notes (each user's own) and erlen-profiles' profiles, as resources of erlen-api.

The app as deployed (its erlen.toml, its migrations), on SQLite and PostgreSQL,
called with erlen-auth's real personal access tokens and with the session
cookie; every response is checked against the app's OpenAPI document.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")
pytest.importorskip("erlen_profiles", reason="erlen-profiles is not installed: pip install ./examples/profiles")

from example_apps import UPGRADE, example_app
from openapi_spec_validator import validate

import erlen_db
from erlen_api import spec_of
from erlen_api.testing import ApiClient, api_client_for
from erlen_auth import Role, User, grant
from erlen_auth.testing import DEFAULT_PASSWORD, make_token, make_user
from erlen_forms.testing import csrf_client_for


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The example app on ``database_url``, migrated."""
    app = example_app(tmp_path, database_url=database_url, command=UPGRADE)
    yield app
    erlen_db.database_of(app).dispose()


def _user(app: Flask, email: str, *permissions: str) -> User:
    """A confirmed user, with a role giving ``permissions``."""
    user = make_user(app, email, roles=[f"role-{email}"] if permissions else [])
    with app.app_context():
        role = erlen_db.session.scalars(sa.select(Role).where(Role.name == f"role-{email}")).one_or_none()
        for permission in permissions:
            grant(t.cast(Role, role), permission, app=app)
        erlen_db.session.commit()
    return user


def _token(app: Flask, user: User, *scopes: str) -> ApiClient:
    """An API client with a real personal access token of ``user``, limited to ``scopes``."""
    return api_client_for(app, token=make_token(app, user, *scopes, expires_days=7))


def test_users_reach_only_their_own_notes(app: Flask) -> None:
    ada = _token(app, _user(app, "ada@example.com"))
    bob = _token(app, _user(app, "bob@example.com"))
    created = ada.post("/api/v1/notes", json={"title": "Groceries", "body": "milk"})
    assert created.status_code == 201, created.data
    note = created.json
    assert set(note) == {"id", "title", "body", "author_id", "created_at"}
    assert created.headers["Location"] == f"/api/v1/notes/{note['id']}"
    bob.post("/api/v1/notes", json={"title": "Bob's"})
    assert [n["title"] for n in ada.get("/api/v1/notes").json["items"]] == ["Groceries"]
    assert [n["title"] for n in bob.get("/api/v1/notes").json["items"]] == ["Bob's"]
    url = created.headers["Location"]
    for response in (bob.get(url), bob.patch(url, json={"title": "mine"}), bob.delete(url)):
        assert response.status_code == 404, response.data
    # The author changes it, guarded by its ETag; the site shows the change.
    changed = ada.patch(url, json={"body": "oat milk"}, headers={"If-Match": created.headers["ETag"]})
    assert changed.json == {**note, "body": "oat milk"}
    assert ada.patch(url, json={"body": "x"}, headers={"If-Match": created.headers["ETag"]}).status_code == 412
    browser = csrf_client_for(app)
    browser.post("/auth/login", data={"email": "ada@example.com", "password": DEFAULT_PASSWORD})
    assert "oat milk" in browser.get(f"/notes/{note['id']}").text
    assert ada.delete(url, headers={"If-Match": changed.headers["ETag"]}).status_code == 204
    assert ada.get(url).status_code == 404


def test_the_session_cookie_with_its_csrf_header(app: Flask) -> None:
    _user(app, "cyd@example.com")
    client = api_client_for(app)
    assert client.get("/api/v1/notes").status_code == 401
    assert (
        client.post("/auth/login", data={"email": "cyd@example.com", "password": DEFAULT_PASSWORD}).status_code == 302
    )
    assert client.post("/api/v1/notes", json={"title": "From the browser"}).status_code == 201  # sends the header
    without = client.post("/api/v1/notes", json={"title": "x"}, headers={"X-CSRF-Token": ""})
    assert without.status_code == 403 and without.json["type"] == "urn:erlen:problem:csrf"


def test_moderators_delete_anyones_notes_with_a_token_of_that_scope(app: Flask) -> None:
    author = _token(app, _user(app, "dee@example.com"))
    url = author.post("/api/v1/notes", json={"title": "Off topic"}).headers["Location"]
    moderator = _user(app, "mod@example.com", "notes.moderate")
    assert _token(app, moderator).get(url).status_code == 404  # moderators delete, they do not read
    assert _token(app, moderator).delete(url).status_code == 404  # a token without the scope cannot
    assert _token(app, moderator, "notes.moderate").delete(url).status_code == 204
    assert author.get(url).status_code == 404


def _with_profile(app: Flask, user: User) -> User:
    """Store the profile that registration makes (users made by ``make_user`` have none stored)."""
    from erlen_profiles.models import default_profile

    with app.app_context():
        erlen_db.session.add(default_profile(user))
        erlen_db.session.commit()
    return user


def test_profiles_are_public_and_changed_by_their_owner(app: Flask) -> None:
    eve = _with_profile(app, _user(app, "eve@example.com"))
    fay = _with_profile(app, _user(app, "fay@example.com"))
    anyone = api_client_for(app)
    listed = anyone.get("/api/v1/profiles?sort=display_name")
    assert [(p["user_id"], p["display_name"]) for p in listed.json["items"]] == [(eve.id, "eve"), (fay.id, "fay")]
    assert set(listed.json["items"][0]) == {"user_id", "display_name", "bio"}
    assert anyone.patch(f"/api/v1/profiles/{eve.id}", json={"bio": "x"}).status_code == 401
    as_eve = _token(app, eve)
    changed = as_eve.patch(f"/api/v1/profiles/{eve.id}", json={"display_name": "Eve", "bio": "Engines"})
    assert changed.json == {"user_id": eve.id, "display_name": "Eve", "bio": "Engines"}
    assert "Engines" in app.test_client().get(f"/profiles/{eve.id}").text
    assert as_eve.patch(f"/api/v1/profiles/{fay.id}", json={"bio": "hacked"}).status_code == 404
    assert as_eve.patch(f"/api/v1/profiles/{eve.id}", json={"user_id": fay.id}).status_code == 422  # the key
    editor = _user(app, "ed@example.com", "profiles.edit_any")
    assert _token(app, editor).patch(f"/api/v1/profiles/{fay.id}", json={"bio": "b"}).status_code == 404
    assert (
        _token(app, editor, "profiles.edit_any").patch(f"/api/v1/profiles/{fay.id}", json={"bio": "b"}).json["bio"]
        == "b"
    )
    assert as_eve.post("/api/v1/profiles", json={"user_id": eve.id, "display_name": "x"}).status_code == 405


def test_the_document_describes_both_resources(app: Flask) -> None:
    document = spec_of(app)
    validate(document)
    assert {"/api/v1/notes", "/api/v1/notes/{id}", "/api/v1/profiles", "/api/v1/profiles/{user_id}"} <= set(
        document["paths"]
    )
    assert set(document["paths"]["/api/v1/profiles/{user_id}"]) == {"get", "patch"}
    assert "author_id" not in document["components"]["schemas"]["NoteCreate"]["properties"]
    served = app.test_client().get("/api/openapi.json")
    assert json.loads(served.data)["paths"].keys() == document["paths"].keys()

"""erlen-auth's personal access tokens authenticate API requests: real tokens, scopes, revocation; both databases."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

import sqlalchemy as sa  # noqa: E402

from erlen_auth import Role, grant  # noqa: E402
from erlen_auth.access_tokens import create, revoke  # noqa: E402
from erlen_auth.testing import make_user  # noqa: E402
from erlen_db import database_of  # noqa: E402

#: Without the sample's stand-in tokens: erlen-auth answers erlen_api_authenticate_token.
PLUGINS = ["forms", "auth", "api", "api_sample.notes"]


@pytest.fixture
def app(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> Flask:
    return t.cast(Flask, make_db_app(PLUGINS, auth_config, create_all=True))


def _token(app: Flask, email: str, scopes: t.Iterable[str], *, editor: bool = True) -> tuple[str, int]:
    user = make_user(app, email, roles=["editor"] if editor else [])
    db = database_of(app).new_session()
    try:
        if editor:
            grant(db.scalars(sa.select(Role).where(Role.name == "editor")).one(), "notes.edit", app=app)
            db.commit()
        with app.test_request_context():
            new = create(db.get(type(user), user.id), name="script", scopes=scopes, expires_days=30, db=db)
            db.commit()
        return new.token, new.row.id
    finally:
        db.close()


def _problem(response: t.Any, status: int) -> dict[str, t.Any]:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    return t.cast(dict[str, t.Any], response.json)


def test_a_token_with_the_scope_writes_without_csrf(app: Flask) -> None:
    token, _ = _token(app, "editor@example.com", ["notes.edit"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/notes", json={"title": "by token"}, headers=headers)
    assert created.status_code == 201, created.data
    assert client.get("/api/v1/whoami", headers=headers).json == {"method": "token", "email": "editor@example.com"}
    assert "Set-Cookie" not in created.headers


def test_a_token_without_the_scope_gets_a_403(app: Flask) -> None:
    token, _ = _token(app, "editor@example.com", [])
    response = app.test_client().post(
        "/api/v1/notes", json={"title": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert "notes.edit" in _problem(response, 403)["detail"]


def test_a_revoked_token_gets_a_401_with_the_reason(app: Flask) -> None:
    token, token_id = _token(app, "editor@example.com", ["notes.edit"])
    with app.app_context():
        revoke(token_id)
        database_of(app).session.commit()
    response = app.test_client().get("/api/v1/notes", headers={"Authorization": f"Bearer {token}"})
    assert _problem(response, 401)["detail"] == "The access token was revoked."
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_forged_token_gets_a_401(app: Flask) -> None:
    token, _ = _token(app, "editor@example.com", ["notes.edit"])
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    response = app.test_client().get("/api/v1/notes", headers={"Authorization": f"Bearer {forged}"})
    assert _problem(response, 401)["detail"] == "The access token is not valid."

"""CORS does not weaken CSRF: requests with the session cookie from an allowed origin still need the CSRF header."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

from erlen_auth import Role, grant  # noqa: E402
from erlen_auth.testing import login_as, make_user  # noqa: E402
from erlen_db import database_of  # noqa: E402
from erlen_forms.testing import csrf_token_for  # noqa: E402

ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture
def app(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> Flask:
    config = {**auth_config, "API_CORS_ORIGINS": [ALLOWED], "API_CORS_CREDENTIALS": True}
    return t.cast(Flask, make_db_app(["forms", "auth", "api", "api_sample.notes"], config, create_all=True))


@pytest.fixture
def editor(app: Flask) -> t.Any:
    import sqlalchemy

    user = make_user(app, "editor@example.com", roles=["editor"])
    db = database_of(app).new_session()
    try:
        role = db.scalars(sqlalchemy.select(Role).where(Role.name == "editor")).one()
        grant(role, "notes.edit", app=app)
        db.commit()
    finally:
        db.close()
    return user


@pytest.mark.parametrize("origin", [ALLOWED, OTHER])
def test_a_cookie_request_without_the_csrf_header_is_refused_from_any_origin(
    client: t.Any, editor: t.Any, origin: str
) -> None:
    login_as(client, editor)
    response = client.post("/api/v1/notes", json={"title": "x"}, headers={"Origin": origin})
    assert response.status_code == 403
    assert response.json["type"] == "urn:erlen:problem:csrf"
    # The allowed origin may read the refusal; the other one may not even do that.
    assert response.headers.get("Access-Control-Allow-Origin") == (ALLOWED if origin == ALLOWED else None)


def test_an_allowed_origin_is_not_trusted_by_the_csrf_origin_check(client: t.Any, editor: t.Any) -> None:
    login_as(client, editor)
    token = csrf_token_for(client)
    response = client.post(
        "/api/v1/notes",
        json={"title": "x"},
        headers={"Origin": ALLOWED, "X-CSRF-Token": token},
        base_url="https://localhost",
    )
    assert response.status_code == 403
    assert response.json["reason"] == "origin"
    same_site = client.post(
        "/api/v1/notes",
        json={"title": "x"},
        headers={"Origin": "https://localhost", "X-CSRF-Token": token},
        base_url="https://localhost",
    )
    assert same_site.status_code == 201, same_site.data

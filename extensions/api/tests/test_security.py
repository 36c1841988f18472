"""Who may call an endpoint: the session cookie (with CSRF in a header), bearer tokens, permissions; both databases."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from openapi_spec_validator import validate

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

from erlen_api import ApiDeclarationError, spec_of  # noqa: E402
from erlen_auth import grant  # noqa: E402
from erlen_auth.testing import login_as, make_user  # noqa: E402
from erlen_db import database_of  # noqa: E402
from erlen_forms.testing import csrf_token_for  # noqa: E402

PLUGINS = ["db", "forms", "auth", "api", "api_sample.notes", "api_sample.tokens"]


@pytest.fixture
def app(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> Flask:
    made = t.cast(Flask, make_db_app(PLUGINS[1:], auth_config, create_all=True))
    return made


@pytest.fixture
def editor(app: Flask) -> t.Any:
    user = make_user(app, "editor@example.com", roles=["editor"])
    db = database_of(app).new_session()
    try:
        from erlen_auth import Role

        role = db.scalars(__import__("sqlalchemy").select(Role).where(Role.name == "editor")).one()
        grant(role, "notes.edit", app=app)
        db.commit()
    finally:
        db.close()
    return user


@pytest.fixture
def reader(app: Flask) -> t.Any:
    return make_user(app, "reader@example.com")


def _problem(response: t.Any, status: int) -> dict[str, t.Any]:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    return t.cast(dict[str, t.Any], response.json)


def test_anonymous_requests_read_but_must_log_in_to_write(client: t.Any) -> None:
    assert client.get("/api/v1/notes").json == []
    response = client.post("/api/v1/notes", json={"title": "x"})
    problem = _problem(response, 401)
    assert problem["detail"].startswith("Authentication is required")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="API", Cookie realm="API", cookie-name="session"'


def test_a_logged_in_user_with_the_permission_and_the_csrf_header(client: t.Any, editor: t.Any) -> None:
    login_as(client, editor)
    headers = {"X-CSRF-Token": csrf_token_for(client)}
    created = client.post("/api/v1/notes", json={"title": "Groceries", "body": "milk"}, headers=headers)
    assert created.status_code == 201, created.data
    note = created.json
    assert note == {"id": note["id"], "title": "Groceries", "body": "milk"}
    assert created.headers["Location"] == f"/api/v1/notes/{note['id']}"
    assert client.get(created.headers["Location"]).json == note
    changed = client.patch(f"/api/v1/notes/{note['id']}", json={"body": "oat milk"}, headers=headers)
    assert changed.json == {**note, "body": "oat milk"}
    assert client.get("/api/v1/notes?limit=1").json == [{**note, "body": "oat milk"}]
    assert client.delete(f"/api/v1/notes/{note['id']}", headers=headers).status_code == 204
    _problem(client.get(f"/api/v1/notes/{note['id']}"), 404)


def test_the_session_cookie_without_the_csrf_header_is_refused(client: t.Any, editor: t.Any) -> None:
    login_as(client, editor)
    problem = _problem(client.post("/api/v1/notes", json={"title": "x"}), 403)
    assert problem["type"] == "urn:erlen:problem:csrf"
    assert problem["reason"] == "missing"
    bad = _problem(client.post("/api/v1/notes", json={"title": "x"}, headers={"X-CSRF-Token": "forged"}), 403)
    assert bad["reason"] == "invalid"


def test_a_user_without_the_permission_gets_a_403_not_a_401(client: t.Any, reader: t.Any) -> None:
    login_as(client, reader)
    response = client.post("/api/v1/notes", json={"title": "x"}, headers={"X-CSRF-Token": csrf_token_for(client)})
    problem = _problem(response, 403)
    assert problem["detail"] == "You need the permission 'notes.edit'."
    assert "WWW-Authenticate" not in response.headers


def test_bearer_tokens_are_exempt_from_csrf(client: t.Any, editor: t.Any) -> None:
    headers = {"Authorization": f"Bearer user-{editor.id}"}
    created = client.post("/api/v1/notes", json={"title": "by token"}, headers=headers)
    assert created.status_code == 201, created.data
    assert client.get("/api/v1/notes", headers=headers).json[0]["title"] == "by token"


def test_a_token_without_the_scope_gets_a_403(client: t.Any, editor: t.Any) -> None:
    problem = _problem(
        client.post("/api/v1/notes", json={"title": "x"}, headers={"Authorization": f"Bearer read-{editor.id}"}), 403
    )
    assert problem["detail"] == "The access token's scopes do not include the permission 'notes.edit'."


def test_an_invalid_token_gets_a_401_with_the_bearer_error(client: t.Any) -> None:
    response = client.get("/api/v1/notes", headers={"Authorization": "Bearer nonsense"})
    _problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="API", error="invalid_token"')


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (
            "Basic Zm9vOmJhcg==",
            "The Authorization header's scheme 'Basic' is not accepted: send 'Authorization: Bearer "
            "<token>' (a space after Bearer), or log in.",
        ),
        (
            "Token abc",
            "The Authorization header's scheme 'Token' is not accepted: send 'Authorization: Bearer <token>' "
            "(a space after Bearer), or log in.",
        ),
        (
            "Bearer\tuser-1",
            "The Authorization header is malformed: send 'Authorization: Bearer <token>' (a space after "
            "Bearer), or log in.",
        ),
        ("Bearer", "The Authorization header has no access token after Bearer: send 'Authorization: Bearer <token>'."),
        (
            "Bearer   ",
            "The Authorization header has no access token after Bearer: send 'Authorization: Bearer <token>'.",
        ),
    ],
)
def test_an_authorization_header_the_api_cannot_read_is_named_in_the_401(
    app: Flask, editor: t.Any, authorization: str, detail: str
) -> None:
    """A client that sent credentials was told "log in, or send an access token", as if it had sent none."""
    from erlen_api.testing import api_client_for

    client = api_client_for(app)  # the answers are checked against the document
    response = client.post("/api/v1/notes", json={"title": "x"}, headers={"Authorization": authorization})
    assert _problem(response, 401)["detail"] == detail
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="API"')
    # Where no user is needed, a header meant for another hop (a proxy's Basic login) is no reason to refuse.
    assert client.get("/api/v1/notes", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 200


def test_a_token_refused_with_a_reason(client: t.Any, editor: t.Any) -> None:
    response = client.get("/api/v1/notes", headers={"Authorization": f"Bearer expired-{editor.id}"})
    assert _problem(response, 401)["detail"] == "The access token has expired."
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_an_endpoint_may_refuse_tokens(client: t.Any, editor: t.Any) -> None:
    created = client.post("/api/v1/notes", json={"title": "x"}, headers={"Authorization": f"Bearer user-{editor.id}"})
    response = client.delete(
        f"/api/v1/notes/{created.json['id']}", headers={"Authorization": f"Bearer user-{editor.id}"}
    )
    problem = _problem(response, 401)
    assert "does not accept access tokens" in problem["detail"]
    assert response.headers["WWW-Authenticate"] == 'Cookie realm="API", cookie-name="session"'


def test_validation_runs_after_authorization(client: t.Any, reader: t.Any) -> None:
    _problem(client.post("/api/v1/notes", json={"title": ""}), 401)
    problem = _problem(
        client.post("/api/v1/notes", json={"title": ""}, headers={"Authorization": f"Bearer user-{reader.id}"}), 403
    )
    assert "notes.edit" in problem["detail"]


def test_the_document_has_the_security_requirements(app: Flask) -> None:
    document = spec_of(app)
    validate(document)
    notes = document["paths"]["/api/v1/notes"]
    assert "security" not in notes["get"]
    assert notes["post"]["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    assert set(notes["post"]["responses"]) >= {"201", "401", "403", "422"}
    assert document["paths"]["/api/v1/notes/{id}"]["delete"]["security"] == [{"cookieAuth": []}]


def test_an_unknown_permission_stops_the_app(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> None:
    from erlen_api import Api

    typo = Api("typo", __name__)

    @typo.get("/x", permission="notes.edti")
    def x() -> None:
        pass

    app = make_db_app(["forms", "auth", "api"], auth_config)
    with pytest.raises(ApiDeclarationError, match=r"Unknown permission 'notes\.edti'"):
        app.register_blueprint(typo)


def test_every_answer_matches_the_document(app: Flask, editor: t.Any, reader: t.Any) -> None:
    from erlen_api.testing import api_client_for

    anonymous = api_client_for(app)
    assert anonymous.post("/api/v1/notes", json={"title": "x"}).status_code == 401
    by_token = api_client_for(app, token=f"user-{editor.id}")
    note = by_token.post("/api/v1/notes", json={"title": "x"}).json
    assert by_token.patch(f"/api/v1/notes/{note['id']}", json={"title": ""}).status_code == 422
    assert by_token.get("/api/v1/notes?limit=500").status_code == 422
    assert api_client_for(app, token=f"read-{reader.id}").delete(f"/api/v1/notes/{note['id']}").status_code == 401
    session_client = login_as(api_client_for(app), editor)
    assert session_client.patch(f"/api/v1/notes/{note['id']}", json={"body": "b"}).json["body"] == "b"
    assert session_client.delete(f"/api/v1/notes/{note['id']}").status_code == 204
    assert session_client.get(f"/api/v1/notes/{note['id']}").status_code == 404


def test_the_identity_of_the_request(client: t.Any, editor: t.Any) -> None:
    assert client.get("/api/v1/whoami").json == {"method": None, "email": None}
    by_token = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer user-{editor.id}"})
    assert by_token.json == {"method": "token", "email": "editor@example.com"}
    login_as(client, editor)
    assert client.get("/api/v1/whoami").json == {"method": "session", "email": "editor@example.com"}


def test_the_identity_is_only_known_in_api_requests(app: Flask) -> None:
    from erlen_api import current_identity

    with app.test_request_context("/"), pytest.raises(RuntimeError, match="only known inside a request"):
        current_identity()

"""Personal access tokens: made on the security page (after re-authenticating) or by the CLI, shown once, stored
as a hash, accepted only by views marked ``token_auth``, with scopes intersected with the user's current permissions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import typing as t

import pytest
import sqlalchemy as sa
from auth_helpers import log_in, post_form
from flask import Flask, jsonify, session

from erlen_auth import Role, User, login_required, permission_required, token_auth
from erlen_auth.access_tokens import TOKEN_PATTERN, AccessToken, authenticate_bearer, parse
from erlen_auth.models import LoginSession
from erlen_auth.testing import DEFAULT_PASSWORD, FAST_HASHING

PERMISSIONS = {"app.read": "Read the items", "app.write": "Write the items", "app.admin": "Run the place"}


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING, "AUTH_PERMISSIONS": PERMISSIONS}


def add_api(app: Flask) -> Flask:
    """Routes that accept tokens, and routes that do not."""

    @app.get("/api/me")
    @token_auth()
    def me() -> t.Any:
        from flask_login import current_user

        return jsonify(
            email=current_user.email,
            read=current_user.can("app.read"),
            write=current_user.can("app.write"),
            session_modified=session.modified,
        )

    @app.post("/api/items")
    @token_auth(scopes=["app.write"])
    def items() -> t.Any:
        return jsonify(made=True, session_modified=session.modified)

    @app.get("/api/guarded")
    @token_auth()
    @permission_required("app.read")
    def guarded() -> t.Any:
        return jsonify(ok=True)

    @app.get("/api/either")
    @token_auth(scopes=["app.read", "app.admin"], any_of=True)
    def either() -> t.Any:
        return jsonify(ok=True)

    @app.get("/api/session")
    @token_auth()
    def login_session() -> t.Any:
        from flask_login import current_user

        from erlen_auth import recently_authenticated

        return jsonify(id=current_user.login_session_id, recent=recently_authenticated())

    @app.get("/cookie-only")
    @login_required
    def cookie_only() -> str:
        return "cookie page"

    @app.post("/cookie-only")
    @login_required
    def cookie_post() -> str:
        return "posted"

    return app


@pytest.fixture
def api(app: Flask) -> Flask:
    return add_api(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_user_with(create_user: t.Any, db_session: t.Any, email: str, *permissions: str, **kwargs: t.Any) -> User:
    """A user whose role (named after the address) grants ``permissions``."""
    role_name = email.split("@")[0]
    user = create_user(email, roles=[role_name], **kwargs)
    role = db_session.scalar(sa.select(Role).where(Role.name == role_name))
    for name in permissions:
        role.grant(name)  # the names are checked by the views that require them
    db_session.commit()
    return t.cast(User, user)


def make_token(
    app: Flask, user: User, *scopes: str, name: str = "script", expires_days: int | None = 30, db: t.Any = None
) -> str:
    from erlen_auth import access_tokens
    from erlen_db import get_session

    with app.test_request_context():
        session_ = db if db is not None else get_session()
        fresh = session_.get(User, user.id)
        made = access_tokens.create(fresh, name=name, scopes=scopes, expires_days=expires_days, db=session_)
        session_.commit()
        return made.token


def token_row(db_session: t.Any, token: str) -> AccessToken:
    parsed = parse(token)
    assert parsed is not None
    db_session.expire_all()
    row = db_session.scalar(sa.select(AccessToken).where(AccessToken.public_id == parsed[0]))
    assert row is not None
    return t.cast(AccessToken, row)


# -- the format --------------------------------------------------------------------------------------------------


def test_the_token_has_a_recognisable_format_and_only_its_hash_is_stored(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    token = make_token(api, user, "app.read")
    assert TOKEN_PATTERN.fullmatch(token)
    assert token.startswith("erlen_pat_") and len(token) == len("erlen_pat_") + 12 + 1 + 64
    row = token_row(db_session, token)
    public_id, secret = parse(token) or ("", "")
    assert row.public_id == public_id and row.display_prefix == f"erlen_pat_{public_id}"
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    # Nothing in the row is the secret or the token.
    stored = db_session.execute(sa.text("SELECT * FROM auth_access_token")).one()
    assert not any(secret in str(value) for value in stored)
    assert row.scopes == ["app.read"] and row.expires_at is not None


# -- the page ----------------------------------------------------------------------------------------------------


def _created_token(page: str) -> str:
    found = TOKEN_PATTERN.search(page)
    assert found, page
    return found.group(0)


def test_a_token_is_made_on_the_page_after_reauthenticating_and_shown_once(api, create_user, db_session):
    make_user_with(create_user, db_session, "ada@example.com", "app.read", "app.write")
    client = api.test_client()
    log_in(client, "ada@example.com")
    # Logged in long ago: the page asks for the password first.
    db_session.execute(sa.update(LoginSession).values(reauthenticated_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    db_session.commit()
    asked = client.get("/auth/tokens/new")
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/auth/reauthenticate?next=")
    refused = post_form(client, "/auth/tokens/new", {"name": "ci", "scopes": ["app.read"], "expires": "30"})
    assert refused.status_code == 302 and "/auth/reauthenticate" in refused.headers["Location"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AccessToken)) == 0
    back = post_form(client, "/auth/reauthenticate", {"password": DEFAULT_PASSWORD, "next": "/auth/tokens/new"})
    assert back.headers["Location"] == "/auth/tokens/new"
    form = client.get("/auth/tokens/new")
    assert form.status_code == 200
    assert 'value="app.read"' in form.text and 'value="app.write"' in form.text
    assert 'value="app.admin"' not in form.text  # not hers to give
    assert 'value="never"' not in form.text  # AUTH_ACCESS_TOKEN_MAX_DAYS is set
    assert re.search(r'<option selected value="90">', form.text)  # AUTH_ACCESS_TOKEN_DEFAULT_DAYS
    made = post_form(client, "/auth/tokens/new", {"name": "ci", "scopes": ["app.read"], "expires": "30"})
    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    token = _created_token(made.text)
    row = token_row(db_session, token)
    assert row.name == "ci" and row.scopes == ["app.read"]
    assert row.expires_at is not None
    assert (
        dt.timedelta(days=29) < row.expires_at.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    )
    # Never again: the security page lists it by its public prefix only.
    listed = client.get("/auth/security")
    assert "Access tokens" in listed.text and row.display_prefix in listed.text and "ci" in listed.text
    assert token not in listed.text and not TOKEN_PATTERN.search(listed.text)
    # Revoking cannot be undone: its button is the layout's danger button, not the primary one.
    assert '<button type="submit" class="erlen-button-danger">Revoke</button>' in listed.text
    assert not any(token in header for _, header in made.headers.items())
    # It works.
    assert api.test_client().get("/api/me", headers=bearer(token)).get_json()["read"] is True


def test_scopes_must_be_a_subset_of_the_users_permissions(api, create_user, db_session):
    make_user_with(create_user, db_session, "ada@example.com", "app.read")
    client = api.test_client()
    log_in(client, "ada@example.com")
    answer = post_form(client, "/auth/tokens/new", {"name": "ci", "scopes": ["app.read", "app.admin"], "expires": "30"})
    assert answer.status_code == 200
    assert "You cannot give a token a permission you do not have: app.admin." in answer.text
    unknown = post_form(client, "/auth/tokens/new", {"name": "ci", "scopes": ["no.such"], "expires": "30"})
    assert "permission you do not have: no.such" in unknown.text
    too_long = post_form(client, "/auth/tokens/new", {"name": "ci", "scopes": ["app.read"], "expires": "3650"})
    assert "Not a valid choice" in too_long.text
    nameless = post_form(client, "/auth/tokens/new", {"name": "", "expires": "30"})
    assert "This field is required." in nameless.text
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AccessToken)) == 0


def test_a_user_without_permissions_is_told_what_their_token_can_do(api, create_user, db_session):
    # Found by walking the example app: a member without a role saw an empty "Permissions" box, nothing to tick.
    create_user("ada@example.com")
    client = api.test_client()
    log_in(client, "ada@example.com")
    form = client.get("/auth/tokens/new").text
    assert 'name="scopes"' not in form
    assert "You have no permissions to give a token: it can do what any logged-in account can" in form
    made = post_form(client, "/auth/tokens/new", {"name": "notes script", "expires": "30"})
    assert token_row(db_session, _created_token(made.text)).scopes == []
    # Listed, it said "Permissions: none." of a token that still reaches the API.
    listed = " ".join(client.get("/auth/security").text.split())
    assert "Permissions: none (what any logged-in account can do, such as reaching your own data)." in listed


def test_a_superuser_may_give_any_declared_permission_and_never_expiring_tokens_need_no_maximum(
    auth_app, db_session_for, database_url
):
    app = add_api(auth_app(config={"AUTH_PERMISSIONS": PERMISSIONS, "AUTH_ACCESS_TOKEN_MAX_DAYS": None}))
    db = db_session_for(app)
    from erlen_auth.testing import make_user

    make_user(app, "root@example.com", superuser=True, db=db)
    client = app.test_client()
    log_in(client, "root@example.com")
    form = client.get("/auth/tokens/new").text
    assert 'value="app.admin"' in form and 'value="auth.manage_users"' in form and 'value="never"' in form
    made = post_form(client, "/auth/tokens/new", {"name": "forever", "scopes": ["app.admin"], "expires": "never"})
    token = _created_token(made.text)
    assert token_row(db, token).expires_at is None
    assert "It never expires." in made.text


def test_revoking_on_the_page_stops_the_token_and_keeps_the_row(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    token = make_token(api, user, "app.read")
    row = token_row(db_session, token)
    client = api.test_client()
    log_in(client, "ada@example.com")
    assert client.post(f"/auth/tokens/{row.id}/revoke").status_code == 400  # no CSRF token
    done = post_form(client, f"/auth/tokens/{row.id}/revoke")
    assert done.status_code == 302 and done.headers["Location"] == "/auth/security"
    assert "was revoked" in client.get("/auth/security").text
    answer = api.test_client().get("/api/me", headers=bearer(token))
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert answer.get_json()["message"] == "The access token was revoked."
    assert token_row(db_session, token).revoked_at is not None


def test_nobody_revokes_someone_elses_token(api, create_user, db_session):
    ada = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    create_user("eve@example.com")
    token = make_token(api, ada, "app.read")
    eve = api.test_client()
    log_in(eve, "eve@example.com")
    post_form(eve, f"/auth/tokens/{token_row(db_session, token).id}/revoke")
    assert "That token was revoked already." in eve.get("/auth/security").text
    assert token_row(db_session, token).revoked_at is None
    assert api.test_client().get("/api/me", headers=bearer(token)).status_code == 200


# -- using a token -----------------------------------------------------------------------------------------------


def test_a_token_authenticates_on_a_token_route_without_cookies_or_a_session(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read", "app.write")
    token = make_token(api, user, "app.read", "app.write")
    client = api.test_client()
    answer = client.get("/api/me", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.get_json() == {"email": "ada@example.com", "read": True, "write": True, "session_modified": False}
    assert "Set-Cookie" not in answer.headers
    posted = client.post("/api/items", headers=bearer(token))  # no CSRF token: the Bearer request is exempt
    assert posted.status_code == 200 and posted.get_json() == {"made": True, "session_modified": False}
    assert "Set-Cookie" not in posted.headers
    assert client.get_cookie("session") is None and client.get_cookie("remember_token") is None
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 0
    # The scheme is case-insensitive (RFC 7235).
    assert client.get("/api/me", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_a_bearer_header_is_ignored_on_other_routes(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    token = make_token(api, user, "app.read")
    client = api.test_client()
    page = client.get("/cookie-only", headers=bearer(token))
    assert page.status_code == 302 and page.headers["Location"].startswith("/auth/login")
    assert client.get("/auth/security", headers=bearer(token)).status_code == 302
    assert client.post("/cookie-only", headers=bearer(token)).status_code == 400  # CSRF still applies
    assert "Set-Cookie" not in page.headers


def test_cookie_requests_to_token_routes_still_need_a_csrf_token(api, create_user, db_session):
    make_user_with(create_user, db_session, "ada@example.com", "app.write")
    client = api.test_client()
    log_in(client, "ada@example.com")
    assert client.get("/api/me").get_json()["write"] is True  # the browser's session works too
    refused = client.post("/api/items", headers={"Accept": "application/json"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf"
    assert post_form(client, "/api/items").get_json()["made"] is True
    # Another scheme is no exemption either.
    assert client.post("/api/items", headers={"Authorization": "Basic YTpi"}).status_code == 400


def test_token_routes_are_csrf_protected_for_requests_without_a_bearer_header(api):
    from erlen_forms.testing import assert_csrf_protected

    results = {(result.endpoint, result.method): result for result in assert_csrf_protected(api)}
    assert results[("items", "POST")].refused
    assert results[("auth.new_access_token", "POST")].refused
    assert results[("auth.revoke_access_token", "POST")].refused


def test_a_bearer_header_with_a_cookie_session_is_authenticated_by_the_token_only(api, create_user, db_session):
    make_user_with(create_user, db_session, "root@example.com", "app.write")
    other = make_user_with(create_user, db_session, "bob@example.com", "app.read")
    client = api.test_client()
    log_in(client, "root@example.com")
    as_bob = client.get("/api/me", headers=bearer(make_token(api, other, "app.read")))
    assert as_bob.get_json()["email"] == "bob@example.com" and as_bob.get_json()["session_modified"] is False
    assert "Set-Cookie" not in as_bob.headers  # the browser's session is neither changed nor refreshed
    # A bad token with a good cookie is refused, never let through on the cookie (that would forge around CSRF).
    answer = client.post("/api/items", headers=bearer("erlen_pat_000000000000_" + "0" * 64))
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ",
        "Bearer not-a-token",
        "Bearer erlen_pat_000000000000_" + "0" * 64,
        "Bearer erlen_pat_ABCDEF000000_" + "0" * 64,
        "Bearer erlen_pat_\u00e9\u00e9\u00e9",
        "Bearer " + "x" * 10000,
    ],
)
def test_bad_tokens_get_a_401_with_the_bearer_challenge(api, db_session, header):
    answer = api.test_client().get("/api/me", headers={"Authorization": header, "Accept": "text/html"})
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="') and 'error="invalid_token"' in challenge
    assert answer.get_json()["error"] == "invalid_token"
    assert "Set-Cookie" not in answer.headers


def test_a_wrong_secret_is_refused_and_compared_in_constant_time(api, create_user, db_session, monkeypatch):
    from erlen_auth import access_tokens

    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    token = make_token(api, user, "app.read")
    compared: list[tuple[bytes, bytes]] = []
    real = access_tokens.hmac.compare_digest

    def spy(a: t.Any, b: t.Any) -> bool:
        compared.append((a, b))
        return bool(real(a, b))

    monkeypatch.setattr(access_tokens.hmac, "compare_digest", spy)
    wrong = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    answer = api.test_client().get("/api/me", headers=bearer(wrong))
    assert answer.status_code == 401 and answer.get_json()["message"] == "The access token is not valid."
    assert len(compared) == 1
    assert api.test_client().get("/api/me", headers=bearer(token)).status_code == 200
    assert len(compared) == 2


def test_anonymous_requests_to_token_routes_are_asked_to_authenticate(api):
    answer = api.test_client().get("/api/me", headers={"Accept": "application/json"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="')
    assert "error=" not in answer.headers["WWW-Authenticate"]  # no credentials, no error code (RFC 6750 3.1)
    browser = api.test_client().get("/api/me", headers={"Accept": "text/html"})
    assert browser.status_code == 302 and browser.headers["Location"].startswith("/auth/login")


@pytest.mark.parametrize(
    "path",
    [
        "/api/me?access_token={token}",
        "/api/me?x=1&token={token}",
        "/api/me?access_token=anything",
        "/api/me?t={quoted}",
    ],
)
def test_a_token_in_the_url_is_refused(api, create_user, db_session, path):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    token = make_token(api, user, "app.read")
    answer = api.test_client().get(path.format(token=token, quoted=token.replace("_", "%5F")))
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_request"
    assert "Authorization header" in answer.get_json()["message"]
    # Even with the header as well: the token in the URL has leaked, and the client must hear it.
    assert api.test_client().get(path.format(token=token, quoted=token), headers=bearer(token)).status_code == 400


def test_a_token_in_a_form_field_is_never_accepted(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.write")
    token = make_token(api, user, "app.write")
    answer = api.test_client().post("/api/items", data={"access_token": token})
    assert answer.status_code == 400  # refused, by the CSRF check or the token check; never authenticated
    with_header = api.test_client().post("/api/items", data={"access_token": token}, headers=bearer(token))
    assert with_header.status_code == 400 and with_header.get_json()["error"] == "invalid_request"


def test_an_expired_token_is_refused(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    token = make_token(api, user, "app.read")
    db_session.execute(
        sa.update(AccessToken).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)),
    )
    db_session.commit()
    answer = api.test_client().get("/api/me", headers=bearer(token))
    assert answer.status_code == 401 and answer.get_json()["message"] == "The access token has expired."


def test_the_tokens_of_an_inactive_user_do_not_work(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    token = make_token(api, user, "app.read")
    db_session.get(User, user.id).is_active = False
    db_session.commit()
    answer = api.test_client().get("/api/me", headers=bearer(token))
    assert answer.status_code == 401 and answer.get_json()["message"] == "The access token is not valid."
    db_session.get(User, user.id).is_active = True
    db_session.commit()
    assert api.test_client().get("/api/me", headers=bearer(token)).status_code == 200


def test_scopes_limit_the_token_and_a_missing_one_is_a_403_insufficient_scope(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read", "app.write")
    token = make_token(api, user, "app.read")
    client = api.test_client()
    assert client.get("/api/me", headers=bearer(token)).get_json() | {"session_modified": None} == {
        "email": "ada@example.com",
        "read": True,
        "write": False,  # she may write, the token may not
        "session_modified": None,
    }
    refused = client.post("/api/items", headers=bearer(token))
    assert refused.status_code == 403
    challenge = refused.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="app.write"' in challenge
    assert refused.get_json()["error"] == "insufficient_scope"
    assert client.get("/api/guarded", headers=bearer(token)).status_code == 200  # permission_required honours it
    assert client.get("/api/either", headers=bearer(token)).status_code == 200
    writer = make_token(api, user, "app.write")
    assert client.get("/api/guarded", headers=bearer(writer)).status_code == 403
    assert client.get("/api/either", headers=bearer(writer)).status_code == 403


def test_a_permission_taken_away_is_taken_from_existing_tokens(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read", "app.write")
    token = make_token(api, user, "app.read", "app.write")
    client = api.test_client()
    assert client.post("/api/items", headers=bearer(token)).status_code == 200
    role = db_session.scalar(sa.select(Role).where(Role.name == "ada"))
    role.revoke("app.write")
    db_session.commit()
    assert client.post("/api/items", headers=bearer(token)).status_code == 403
    assert client.get("/api/me", headers=bearer(token)).get_json()["write"] is False


def test_a_superusers_token_has_its_scopes_only(api, create_user, db_session):
    root = create_user("root@example.com", superuser=True)
    token = make_token(api, root, "app.read")
    client = api.test_client()
    assert client.get("/api/me", headers=bearer(token)).get_json()["write"] is False
    assert client.post("/api/items", headers=bearer(token)).status_code == 403


def test_the_restriction_ends_with_the_request(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read", "app.write")
    token = make_token(api, user, "app.read")
    with api.test_request_context(headers=bearer(token)):
        found = authenticate_bearer()
        assert found is not None and found.user.token_scopes == frozenset({"app.read"})
        assert found.can("app.read") and not found.can("app.write") and found.permissions == {"app.read"}
        loaded = found.user
    with api.app_context():
        assert loaded.token_scopes is None and loaded.can("app.write")
    with api.test_request_context():
        assert authenticate_bearer() is None  # no header: nothing to authenticate


def test_the_last_use_is_recorded_at_most_every_interval(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    token = make_token(api, user, "app.read")
    assert token_row(db_session, token).last_used_at is None
    client = api.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    client.get("/api/me", headers=bearer(token))
    row = token_row(db_session, token)
    assert row.last_used_at is not None and row.last_used_address == "198.51.100.7"
    first = row.last_used_at
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    client.get("/api/me", headers=bearer(token))
    assert token_row(db_session, token).last_used_address == "198.51.100.7"  # within AUTH_LAST_SEEN_INTERVAL
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    db_session.execute(sa.update(AccessToken).values(last_used_at=long_ago))
    db_session.commit()
    client.get("/api/me", headers=bearer(token))
    row = token_row(db_session, token)
    assert row.last_used_address == "203.0.113.9" and row.last_used_at.replace(tzinfo=None) > first.replace(tzinfo=None)
    log_in(client, "ada@example.com")
    assert "from 203.0.113.9" in client.get("/auth/security").text


# -- the command line --------------------------------------------------------------------------------------------


@pytest.fixture
def run(app, cli_runner, db_session):
    def invoke(*args: str, ok: bool = True) -> t.Any:
        result = cli_runner.invoke(args=list(args))
        if ok:
            assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    return invoke


def test_the_cli_creates_lists_and_revokes_tokens(api, run, create_user, db_session):
    make_user_with(create_user, db_session, "ada@example.com", "app.read", "app.write")
    made = run("user", "token", "create", "ADA@example.com", "--name", "backup", "--scope", "app.read", "--scope",
               "app.write", "--expires-days", "7")  # fmt: skip
    token = made.stdout.strip()
    assert TOKEN_PATTERN.fullmatch(token)
    assert "not shown again" in made.stderr
    row = token_row(db_session, token)
    assert row.scopes == ["app.read", "app.write"] and row.name == "backup"
    assert api.test_client().post("/api/items", headers=bearer(token)).status_code == 200
    listed = run("user", "token", "list", "ada@example.com").output
    assert f"{row.id}  {row.display_prefix}_…  'backup'  [active]" in listed and token not in listed
    assert "last used" in listed
    assert "Revoked the access token" in run("user", "token", "revoke", str(row.id)).output
    assert api.test_client().post("/api/items", headers=bearer(token)).status_code == 401
    assert "[revoked]" in run("user", "token", "list", "ada@example.com").output
    again = run("user", "token", "revoke", str(row.id), ok=False)
    assert again.exit_code != 0 and "revoked already" in again.output


def test_the_cli_refuses_what_the_page_refuses(api, run, create_user, db_session):
    make_user_with(create_user, db_session, "ada@example.com", "app.read")
    cases = {
        ("--scope", "app.admin"): "does not have app.admin",
        ("--scope", "no.such"): "Unknown permission 'no.such'",
        ("--expires-days", "0"): "AUTH_ACCESS_TOKEN_MAX_DAYS",
        ("--expires-days", "400"): "at most 365 days",
    }
    for extra, message in cases.items():
        result = run("user", "token", "create", "ada@example.com", "--name", "x", *extra, ok=False)
        assert result.exit_code != 0 and message in result.output, result.output
    missing = run("user", "token", "create", "nobody@example.com", "--name", "x", ok=False)
    assert "There is no user" in missing.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AccessToken)) == 0
    default = run("user", "token", "create", "ada@example.com", "--name", "default life").stdout.strip()
    expires = token_row(db_session, default).expires_at
    assert expires is not None
    assert expires.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC) > dt.timedelta(days=89)


def test_settings_that_contradict_each_other_stop_the_app(auth_app):
    import erlen

    with pytest.raises(erlen.SettingError, match="AUTH_ACCESS_TOKEN_DEFAULT_DAYS"):
        auth_app(config={"AUTH_ACCESS_TOKEN_DEFAULT_DAYS": 400})


def test_deleting_the_user_deletes_their_tokens(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    make_token(api, user, "app.read")
    db_session.delete(db_session.get(User, user.id))
    db_session.commit()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AccessToken)) == 0


# -- the notice --------------------------------------------------------------------------------------------------


def test_a_notice_is_queued_with_the_token_in_its_transaction(auth_app):
    pytest.importorskip(
        "erlen_mail", reason="erlen-mail is not installed: notices are tested in the integration session"
    )
    from erlen_auth import access_tokens
    from erlen_auth.testing import make_user
    from erlen_db import get_session
    from erlen_mail.outbox.models import OutboxMessage
    from erlen_mail.testing import DeliveredMail

    config = {"AUTH_PERMISSIONS": PERMISSIONS, "MAIL_DEFAULT_SENDER": "noreply@example.com"}
    app = add_api(auth_app(["mail"], config, create_all=True))
    user = make_user(app, "ada@example.com", superuser=True)
    delivered = DeliveredMail(app)
    client = app.test_client()
    log_in(client, "ada@example.com")
    made = post_form(client, "/auth/tokens/new", {"name": "deploy", "scopes": ["app.read"], "expires": "7"})
    token = _created_token(made.text)
    [message] = list(delivered)
    assert "ada@example.com" in str(message.to)
    assert message.subject == "A new access token was created for your account"
    assert '"deploy"' in message.body and token[: len("erlen_pat_") + 12] in message.body
    assert "app.read" in message.body and token not in message.body and token not in (message.html or "")
    # A token rolled back takes its notice with it.
    with app.test_request_context():
        access_tokens.create(get_session().get(User, user.id), name="gone", scopes=(), expires_days=7)
        get_session().rollback()
        assert get_session().scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
    # The command line notifies too.
    assert (
        app.test_cli_runner().invoke(args=["user", "token", "create", "ada@example.com", "--name", "cli"]).exit_code
        == 0
    )
    assert [m.subject for m in delivered][1] == "A new access token was created for your account"


def test_a_token_made_in_a_session_of_its_own_queues_its_notice_in_that_session(auth_app):
    """``create(..., db=session)`` queued the token in ``session`` and its notice in the request's session: not
    in the token's transaction. The testing kit's ``make_token`` (a session of its own) then met its own notice's
    write lock on SQLite ("database is locked"), and a session rolled back kept a notice of a token never made."""
    pytest.importorskip(
        "erlen_mail", reason="erlen-mail is not installed: notices are tested in the integration session"
    )
    from notice_helpers import outbox_rows

    from erlen_auth import access_tokens
    from erlen_auth.testing import make_token, make_user
    from erlen_db import database_of

    subject = "A new access token was created for your account"
    config = {"AUTH_PERMISSIONS": PERMISSIONS, "MAIL_DEFAULT_SENDER": "noreply@example.com"}
    app = add_api(auth_app(["mail"], config, create_all=True))
    user = make_user(app, "ada@example.com", superuser=True)
    make_token(app, user, "app.read", name="script")
    assert [row[2] for row in outbox_rows(app)] == [subject]
    own = database_of(app).new_session()
    try:
        with app.test_request_context():
            access_tokens.create(own.get(User, user.id), name="gone", scopes=(), expires_days=7, db=own)
            own.rollback()
    finally:
        own.close()
    assert [row[2] for row in outbox_rows(app)] == [subject]  # the notice went with its token


def test_views_requiring_undeclared_scopes_are_reported_and_scopes_are_a_list(api):
    from erlen.checks import run_checks

    @api.get("/api/typo")
    @token_auth(scopes=["app.raed"])
    def typo() -> str:
        return "never"

    found = {message.id: message.message for message in run_checks(api)}
    assert "'app.raed'" in found["auth.E003"]
    with pytest.raises(TypeError, match=r"\['app.read'\]"):
        token_auth(scopes="app.read")


def test_a_token_request_has_no_log_in_session_even_with_the_same_users_cookie(api, create_user, db_session):
    user = make_user_with(create_user, db_session, "ada@example.com", "app.read")
    client = api.test_client()
    log_in(client, "ada@example.com")
    assert client.get("/api/session").get_json()["recent"] is True  # the browser just logged in
    with_token = client.get("/api/session", headers=bearer(make_token(api, user, "app.read")))
    assert with_token.get_json() == {"id": None, "recent": False}


@pytest.mark.parametrize("before", ["reads-then-view-commits", "writes-without-commit"])
def test_a_tokens_use_is_recorded_after_the_view_when_the_request_used_the_database_first(auth_app, before):
    """The request's transaction began before the token's look-up: its use is written once the view is done,
    never committing what the request left uncommitted (on SQLite, whose one writer may be that transaction,
    a later use records it)."""
    from erlen_auth.testing import make_user
    from erlen_db import database_of, get_session

    app = add_api(auth_app(config={"AUTH_PERMISSIONS": PERMISSIONS}, create_all=True))

    @app.before_request
    def use_the_database_first() -> None:
        if before == "writes-without-commit":
            get_session().add(Role(name="never-committed"))
            get_session().flush()
        else:
            get_session().execute(sa.select(1))

    @app.get("/api/me-committing")
    @token_auth()
    def me_committing() -> t.Any:
        from flask_login import current_user

        if before == "reads-then-view-commits":
            get_session().commit()
        return jsonify(email=current_user.email)

    user = make_user(app, "ada@example.com")
    token = make_token(app, user)
    assert app.test_client().get("/api/me-committing", headers=bearer(token)).json["email"] == "ada@example.com"
    with database_of(app).session_scope() as db:
        assert db.scalar(sa.select(Role).where(Role.name == "never-committed")) is None
        used = token_row(db, token).last_used_at
        if before == "writes-without-commit" and db.get_bind().dialect.name == "sqlite":
            assert used is None
        else:
            assert used is not None

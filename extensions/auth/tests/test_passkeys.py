"""Passkeys (WebAuthn): adding, listing, renaming and removing them, signing in and re-authenticating with them.

The endpoints are driven with real attestations and assertions made by a software authenticator
(tests/soft_authenticator.py), genuine ones and forged ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import typing as t

import pytest
import sqlalchemy as sa
from auth_helpers import add_passkey, is_logged_in, log_in, post_form, post_json
from flask import Flask
from flask.testing import FlaskClient
from soft_authenticator import SoftAuthenticator, b64url

from erlen.checks import run_checks
from erlen_auth import User, state_of
from erlen_auth.models import LoginSession
from erlen_auth.passkey_models import Passkey
from erlen_auth.passkeys import PasskeyNotConfigured, relying_party
from erlen_auth.testing import make_user
from erlen_db import database_of
from erlen_forms.testing import csrf_token_for

pytest.importorskip("erlen_mail", reason="erlen-mail is not installed: notices are tested in the integration session")
from erlen_mail.testing import DeliveredMail


@pytest.fixture
def pk_app(auth_app: t.Callable[..., Flask]) -> Flask:
    # Committed for real (each test has a database of its own): the mail worker reads the outbox on its own connection.
    return auth_app(["mail"], {"MAIL_DEFAULT_SENDER": "noreply@example.com"}, create_all=True)


@pytest.fixture
def outbox(pk_app: Flask) -> DeliveredMail:
    return DeliveredMail(pk_app)


def logged_in(app: Flask, email: str = "ada@example.com") -> FlaskClient:
    make_user(app, email)
    client = app.test_client()
    assert log_in(client, email).status_code == 302
    return client


def sign_in(client: FlaskClient, authenticator: SoftAuthenticator, path: str = "/auth/passkeys/login", **forge: t.Any):
    options = post_json(client, "/auth/passkeys/login/options")
    assert options.status_code == 200, options.text
    return post_json(client, path, {"credential": authenticator.get(options.json, **forge)})


def rows(app: Flask) -> list[Passkey]:
    with app.app_context():
        session = database_of(app).session
        found = list(session.scalars(sa.select(Passkey).order_by(Passkey.id)))
        session.expunge_all()
        return found


def make_reauth_old(app: Flask) -> None:
    """Make every session's last proof of identity older than ``AUTH_REAUTH_MINUTES``."""
    with app.app_context():
        session = database_of(app).session
        old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        session.execute(sa.update(LoginSession).values(reauthenticated_at=old))
        session.commit()


# Adding, listing, renaming, removing


def test_add_list_rename_and_remove_a_passkey(pk_app, outbox):
    client = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    page = client.get("/auth/passkeys/new")
    assert page.status_code == 200
    assert 'data-erlen-passkey="register"' in page.text
    assert "/static/plugins/auth/passkeys.js" in page.text
    added = add_passkey(client, authenticator, "  My\tphone  ")
    assert added.status_code == 200, added.text
    assert added.json == {"redirect": "/auth/security"}
    [passkey] = rows(pk_app)
    assert passkey.name == "My phone"  # runs of spaces and control characters became one space
    assert passkey.credential_id == authenticator.credentials[0].id
    assert passkey.transports == "internal,hybrid"
    assert passkey.sign_count == 0 and passkey.last_used_at is None
    assert passkey.aaguid == "00000000-0000-0000-0000-000000000000"
    assert len(passkey.user_handle) == 32
    security = client.get("/auth/security").text
    assert "<h2" in security and "Passkeys" in security
    assert "My phone" in security and "never used" in security
    assert "was added" in security  # the flash message
    [mail] = outbox
    assert mail.subject == "A passkey was added to your account"
    assert "My phone" in mail.body and mail.to == ["ada@example.com"]

    assert client.get(f"/auth/passkeys/{passkey.id}/rename").status_code == 200
    renamed = post_form(client, f"/auth/passkeys/{passkey.id}/rename", {"name": "Work phone"})
    assert renamed.status_code == 302 and renamed.headers["Location"] == "/auth/security"
    assert rows(pk_app)[0].name == "Work phone"
    too_long = post_form(client, f"/auth/passkeys/{passkey.id}/rename", {"name": "x" * 81})
    assert too_long.status_code == 200 and rows(pk_app)[0].name == "Work phone"

    confirm = client.get(f"/auth/passkeys/{passkey.id}/remove")
    assert confirm.status_code == 200 and "Remove the passkey “Work phone”?" in confirm.text
    assert '<button type="submit" class="erlen-button-danger">Remove the passkey</button>' in confirm.text
    removed = post_form(client, f"/auth/passkeys/{passkey.id}/remove")
    assert removed.status_code == 302 and removed.headers["Location"] == "/auth/security"
    assert rows(pk_app) == []
    assert [mail.subject for mail in outbox][1] == "A passkey was removed from your account"
    assert "Work phone" in outbox[1].body
    assert "You have no passkey." in client.get("/auth/security").text


def test_several_passkeys_share_the_account_handle_and_exclude_each_other(pk_app):
    client = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    assert add_passkey(client, authenticator, "Phone").status_code == 200
    options = post_json(client, "/auth/passkeys/register/options", {"name": "Laptop"}).json
    assert options["rp"] == {"id": "localhost", "name": "localhost"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert [item["id"] for item in options["excludeCredentials"]] == [b64url(authenticator.credentials[0].id)]
    assert options["user"]["id"] == b64url(authenticator.credentials[0].user_handle)
    assert options["user"]["name"] == "ada@example.com"
    second = post_json(client, "/auth/passkeys/register", {"credential": SoftAuthenticator().create(options)})
    assert second.status_code == 200
    first, other = rows(pk_app)
    assert first.user_handle == other.user_handle and [first.name, other.name] == ["Phone", "Laptop"]
    # Another account gets a handle of its own.
    bob = logged_in(pk_app, "bob@example.com")
    assert add_passkey(bob, SoftAuthenticator()).status_code == 200
    assert rows(pk_app)[2].user_handle != first.user_handle


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "x" * 81, None, 42, ["Phone"]])
def test_a_passkey_needs_a_name_before_the_authenticator_is_asked(pk_app, name):
    client = logged_in(pk_app)
    refused = post_json(client, "/auth/passkeys/register/options", {"name": name})
    assert refused.status_code == 400
    assert refused.json["error"] == "name" and "name" in refused.json["message"]


def test_adding_and_removing_need_a_recent_proof_of_identity(pk_app):
    client = logged_in(pk_app)
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    [passkey] = rows(pk_app)
    make_reauth_old(pk_app)
    for path in ("/auth/passkeys/register/options", "/auth/passkeys/register"):
        refused = post_json(client, path, {"name": "Laptop"})
        assert refused.status_code == 401 and refused.json["error"] == "reauthentication_required"
    page = client.get("/auth/passkeys/new")
    assert page.status_code == 302 and page.headers["Location"].startswith("/auth/reauthenticate?next=")
    removal = post_form(client, f"/auth/passkeys/{passkey.id}/remove")
    assert removal.status_code == 302 and "/auth/reauthenticate" in removal.headers["Location"]
    assert len(rows(pk_app)) == 1
    # Renaming is no sensitive action.
    assert post_form(client, f"/auth/passkeys/{passkey.id}/rename", {"name": "Tablet"}).status_code == 302


def test_anonymous_clients_get_401_and_others_passkeys_are_404(pk_app):
    client = logged_in(pk_app)
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    [passkey] = rows(pk_app)
    anonymous = pk_app.test_client()
    for path in ("/auth/passkeys/register/options", "/auth/passkeys/register", "/auth/passkeys/reauth/options"):
        assert post_json(anonymous, path).status_code == 401
    bob = logged_in(pk_app, "bob@example.com")
    assert bob.get(f"/auth/passkeys/{passkey.id}/rename").status_code == 404
    assert post_form(bob, f"/auth/passkeys/{passkey.id}/remove").status_code == 404
    assert post_form(bob, f"/auth/passkeys/{passkey.id}/rename", {"name": "Mine"}).status_code == 404
    assert rows(pk_app)[0].name == "Phone"


def test_the_same_authenticator_answer_is_not_registered_twice(pk_app):
    client = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    options = post_json(client, "/auth/passkeys/register/options", {"name": "Phone"}).json
    credential = authenticator.create(options)
    assert post_json(client, "/auth/passkeys/register", {"credential": credential}).status_code == 200
    replayed = post_json(client, "/auth/passkeys/register", {"credential": credential})
    assert replayed.status_code == 400 and replayed.json["error"] == "expired"
    # The same credential once more with a fresh challenge (an authenticator ignoring excludeCredentials).
    fresh = post_json(client, "/auth/passkeys/register/options", {"name": "Phone"}).json
    again = authenticator.create(fresh, credential_id=authenticator.credentials[0].id)
    _refusal(post_json(client, "/auth/passkeys/register", {"credential": again}), "exists")
    # An answer whose rawId is not the id the authenticator data carries.
    fresh = post_json(client, "/auth/passkeys/register/options", {"name": "Phone"}).json
    mismatched = authenticator.create(fresh)
    mismatched["id"] = mismatched["rawId"] = b64url(b"another id")
    _refusal(post_json(client, "/auth/passkeys/register", {"credential": mismatched}), "invalid")
    assert len(rows(pk_app)) == 1


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "RP ID"),
        ({"challenge": b64url(b"0" * 32)}, "challenge"),
        ({"ceremony": "webauthn.get"}, "type"),
        ({"user_verified": False}, "verif"),
    ],
)
def test_forged_registrations_are_refused(pk_app, forge, reason):
    client = logged_in(pk_app)
    refused = add_passkey(client, SoftAuthenticator(), **forge)
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid" and reason.lower() in refused.json["message"].lower()
    assert rows(pk_app) == []


# Signing in


def test_sign_in_with_a_passkey_and_no_password(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    assert add_passkey(owner, authenticator).status_code == 200
    client = pk_app.test_client()
    page = client.get("/auth/login?next=/auth/security")
    assert 'data-erlen-passkey="login"' in page.text and "Log in with a passkey" in page.text  # as "Log in" above
    assert 'data-verify-url="/auth/passkeys/login?next=/auth/security"' in page.text
    options = post_json(client, "/auth/passkeys/login/options")
    assert options.status_code == 200
    assert options.json["allowCredentials"] == [] and options.json["userVerification"] == "required"
    assert options.json["rpId"] == "localhost"
    credential = authenticator.get(options.json)
    done = post_json(client, "/auth/passkeys/login?next=/auth/security", {"credential": credential})
    assert done.status_code == 200, done.text
    assert done.json == {"redirect": "/auth/security"}
    assert is_logged_in(client)
    [passkey] = rows(pk_app)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    assert "last used" in client.get("/auth/security").text
    with pk_app.app_context():
        user = database_of(pk_app).session.scalar(sa.select(User))
        assert user is not None and user.last_login_at is not None


def test_remember_me_and_unsafe_next(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    client = pk_app.test_client()
    options = post_json(client, "/auth/passkeys/login/options").json
    done = post_json(
        client, "/auth/passkeys/login?next=//evil.example", {"credential": authenticator.get(options), "remember": True}
    )
    assert done.json == {"redirect": "/"}
    assert any(header.startswith("remember_token=") for header in done.headers.getlist("Set-Cookie"))


def test_passkeys_without_a_counter_sign_in_again_and_again(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator(counter_step=0)  # synced passkeys keep no counter
    add_passkey(owner, authenticator)
    for _ in range(3):
        client = pk_app.test_client()
        assert sign_in(client, authenticator).status_code == 200
        assert is_logged_in(client)


def _refusal(response: t.Any, code: str, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.json["error"] == code, response.json
    return t.cast(str, response.json["message"])


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"origin": "http://localhost:8080"}, "origin"),
        ({"rp_id": "evil.example"}, "RP ID"),
        ({"user_verified": False}, "verif"),
        ({"ceremony": "webauthn.create"}, "type"),
        ({"challenge": b64url(b"1" * 32)}, "challenge"),
    ],
)
def test_forged_sign_ins_are_refused(pk_app, forge, reason):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    client = pk_app.test_client()
    message = _refusal(sign_in(client, authenticator, **forge), "invalid")
    assert reason.lower() in message.lower()
    assert not is_logged_in(client)
    assert rows(pk_app)[0].last_used_at is None


def test_a_replayed_assertion_is_refused(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator(counter_step=0)  # no counter to catch it: the challenge must
    add_passkey(owner, authenticator)
    client = pk_app.test_client()
    options = post_json(client, "/auth/passkeys/login/options").json
    credential = authenticator.get(options)
    assert post_json(client, "/auth/passkeys/login", {"credential": credential}).status_code == 200
    # The same answer again: its challenge was used up.
    attacker = pk_app.test_client()
    _refusal(post_json(attacker, "/auth/passkeys/login", {"credential": credential}), "expired")
    # Even in a session that has a challenge pending: it is not this answer's.
    post_json(attacker, "/auth/passkeys/login/options")
    message = _refusal(post_json(attacker, "/auth/passkeys/login", {"credential": credential}), "invalid")
    assert "challenge" in message.lower()
    assert not is_logged_in(attacker)


def test_a_failed_answer_uses_the_challenge_up(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    client = pk_app.test_client()
    options = post_json(client, "/auth/passkeys/login/options").json
    _refusal(
        post_json(
            client, "/auth/passkeys/login", {"credential": authenticator.get(options, origin="https://x.example")}
        ),
        "invalid",
    )
    _refusal(post_json(client, "/auth/passkeys/login", {"credential": authenticator.get(options)}), "expired")


def test_a_challenge_of_another_ceremony_is_refused(pk_app):
    client = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    make_reauth_old(pk_app)
    # A re-authentication challenge answered to the sign-in endpoint: no sign-in challenge is pending.
    reauth_options = post_json(client, "/auth/passkeys/reauth/options").json
    _refusal(post_json(client, "/auth/passkeys/login", {"credential": authenticator.get(reauth_options)}), "expired")
    # A sign-in challenge answered to the re-authentication endpoint, whose own challenge is another.
    login_options = post_json(client, "/auth/passkeys/login/options").json
    message = _refusal(
        post_json(client, "/auth/passkeys/reauth", {"credential": authenticator.get(login_options)}), "invalid"
    )
    assert "challenge" in message
    # A registration challenge signed as an assertion.
    register_options = post_json(client, "/auth/passkeys/register/options", {"name": "X"})
    assert register_options.status_code == 401  # not re-authenticated: the refusals above proved nothing
    logged_in(pk_app, "bob@example.com")
    bob = pk_app.test_client()
    log_in(bob, "bob@example.com")
    register_options = post_json(bob, "/auth/passkeys/register/options", {"name": "X"}).json
    _refusal(post_json(bob, "/auth/passkeys/login", {"credential": authenticator.get(register_options)}), "expired")
    _refusal(post_json(bob, "/auth/passkeys/register", {"credential": authenticator.get(register_options)}), "invalid")


def test_an_expired_challenge_is_refused(pk_app, monkeypatch):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    client = pk_app.test_client()
    options = post_json(client, "/auth/passkeys/login/options").json
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + pk_app.config["AUTH_PASSKEY_TIMEOUT"] + 1)
    _refusal(post_json(client, "/auth/passkeys/login", {"credential": authenticator.get(options)}), "expired")


def test_an_unknown_passkey_is_refused(pk_app):
    logged_in(pk_app)
    stranger = SoftAuthenticator()
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": b64url(b"x" * 32)}, "challenge": b64url(b"c" * 32)})
    client = pk_app.test_client()
    message = _refusal(sign_in(client, stranger), "unknown")
    assert "not registered" in message


def test_a_wrong_user_handle_is_refused(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    client = pk_app.test_client()
    _refusal(sign_in(client, authenticator, user_handle=b"someone else"), "unknown")


def test_a_signature_by_another_key_is_refused(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    impostor = SoftAuthenticator()
    impostor.create({"rp": {"id": "localhost"}, "user": {"id": b64url(b"x" * 32)}, "challenge": b64url(b"c" * 32)})
    impostor.credentials[0].id = authenticator.credentials[0].id  # claims the id, cannot sign for it
    impostor.credentials[0].user_handle = authenticator.credentials[0].user_handle
    message = _refusal(sign_in(pk_app.test_client(), impostor), "invalid")
    assert "signature" in message.lower()


def test_a_counter_that_goes_back_is_refused_and_logged(pk_app, caplog):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    assert sign_in(pk_app.test_client(), authenticator).status_code == 200
    assert sign_in(pk_app.test_client(), authenticator).status_code == 200
    assert rows(pk_app)[0].sign_count == 2
    clone = pk_app.test_client()
    with caplog.at_level(logging.WARNING, logger="erlen_auth.passkeys"):
        message = _refusal(sign_in(clone, authenticator, sign_count=2), "cloned")
    assert "counter went back" in message
    assert "may have been cloned" in caplog.text
    assert not is_logged_in(clone)
    assert rows(pk_app)[0].sign_count == 2


def test_an_inactive_account_cannot_sign_in_with_its_passkey(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    with pk_app.app_context():
        session = database_of(pk_app).session
        session.execute(sa.update(User).values(is_active=False))
        session.commit()
    client = pk_app.test_client()
    _refusal(sign_in(client, authenticator), "refused", 403)
    assert not is_logged_in(client)


# Re-authenticating


def test_reauthenticate_with_a_passkey(pk_app):
    client = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    make_reauth_old(pk_app)
    page = client.get("/auth/reauthenticate?next=/auth/passkeys/new")
    assert 'data-erlen-passkey="reauth"' in page.text and "Confirm with a passkey" in page.text
    options = post_json(client, "/auth/passkeys/reauth/options").json
    assert [item["id"] for item in options["allowCredentials"]] == [b64url(authenticator.credentials[0].id)]
    assert options["userVerification"] == "required"
    done = post_json(
        client, "/auth/passkeys/reauth?next=/auth/passkeys/new", {"credential": authenticator.get(options)}
    )
    assert done.status_code == 200 and done.json == {"redirect": "/auth/passkeys/new"}
    assert client.get("/auth/passkeys/new").status_code == 200  # recently authenticated again


def test_another_users_passkey_does_not_reauthenticate(pk_app):
    ada = logged_in(pk_app)
    bob = logged_in(pk_app, "bob@example.com")
    bobs_key = SoftAuthenticator()
    add_passkey(bob, bobs_key)
    add_passkey(ada, SoftAuthenticator())
    make_reauth_old(pk_app)
    options = post_json(ada, "/auth/passkeys/reauth/options").json
    message = _refusal(
        post_json(
            ada, "/auth/passkeys/reauth", {"credential": bobs_key.get(options, credential=bobs_key.credentials[0])}
        ),
        "unknown",
    )
    assert "not one of yours" in message
    assert ada.get("/auth/passkeys/new").status_code == 302  # still not re-authenticated


def test_the_reauth_page_offers_passkeys_only_to_users_who_have_one(pk_app):
    client = logged_in(pk_app)
    assert 'data-erlen-passkey="reauth"' not in client.get("/auth/reauthenticate").text
    # Options without allowed passkeys would let the browser offer any passkey of the site.
    _refusal(post_json(client, "/auth/passkeys/reauth/options"), "unknown")


# Malformed requests


@pytest.mark.parametrize(
    "path", ["/auth/passkeys/login", "/auth/passkeys/reauth", "/auth/passkeys/register", "/auth/passkeys/login/options"]
)
def test_malformed_json_is_a_clear_400(pk_app, path):
    client = logged_in(pk_app)
    headers = {"X-CSRF-Token": csrf_token_for(client), "Content-Type": "application/json"}
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    for body in (b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 50_000):
        response = client.post(path, data=body, headers=headers)
        assert response.status_code == 400, (path, body, response.text)
        assert response.json["error"] == "bad_request" and "JSON object" in response.json["message"]
    too_large = client.post(path, data=deep, headers=headers)
    assert too_large.status_code == 413 and too_large.json["error"] == "bad_request"
    as_form = client.post(path, data={"credential": "x"}, headers={"X-CSRF-Token": csrf_token_for(client)})
    assert as_form.status_code == 400
    # A key twice in one object: the decoder kept the last "credential", a proxy perhaps the first.
    twice = client.post(path, data=b'{"credential": {}, "credential": {"id": "x"}}', headers=headers)
    assert twice.status_code == 400 and twice.json["error"] == "bad_request", twice.text
    assert twice.json["message"] == (
        'The request body has the key "credential" twice in one object, at credential: send each key once.'
    )


GARBAGE: list[t.Any] = [
    {},
    {"credential": None},
    {"credential": "text"},
    {"credential": {}},
    {"credential": {"id": 1, "rawId": 2, "response": 3, "type": 4}},
    {"credential": {"id": "AA", "rawId": "!!!", "type": "public-key", "response": {}}},
    {
        "credential": {
            "id": "AA",
            "rawId": "AA",
            "type": "public-key",
            "response": {"clientDataJSON": "AA", "authenticatorData": "AA", "signature": "AA", "userHandle": 5},
        }
    },
    {
        "credential": {
            "id": "AA",
            "rawId": "AA",
            "type": "public-key",
            "response": {"clientDataJSON": "e30", "attestationObject": "oA", "transports": "usb"},
        }
    },
]


@pytest.mark.parametrize("body", GARBAGE)
def test_garbage_credentials_are_400_never_500(pk_app, body):
    client = logged_in(pk_app)
    add_passkey(client, SoftAuthenticator())
    for ceremony, options_body in (("login", {}), ("reauth", {}), ("register", {"name": "X"})):
        assert post_json(client, f"/auth/passkeys/{ceremony}/options", options_body).status_code == 200
        response = post_json(client, f"/auth/passkeys/{ceremony}", body)
        assert response.status_code == 400, (ceremony, response.text)
        assert response.json["message"]


def test_a_forged_assertion_with_garbage_data_is_400(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    client = pk_app.test_client()
    options = post_json(client, "/auth/passkeys/login/options").json
    credential = authenticator.get(options)
    credential["response"]["authenticatorData"] = b64url(b"short")
    _refusal(post_json(client, "/auth/passkeys/login", {"credential": credential}), "invalid")


def test_every_endpoint_needs_the_csrf_header(pk_app):
    client = logged_in(pk_app)
    for path in ("/auth/passkeys/login/options", "/auth/passkeys/login", "/auth/passkeys/register/options"):
        response = client.post(path, json={}, headers={"Accept": "application/json"})
        assert response.status_code == 400 and response.json["error"] == "csrf"
    from erlen_forms.testing import assert_csrf_protected

    endpoints = {result.endpoint for result in assert_csrf_protected(pk_app)}
    assert {"auth.passkey_login", "auth.passkey_register", "auth.passkey_remove", "auth.passkey_rename"} <= endpoints


# Where ceremonies may happen


def test_the_relying_party_comes_from_the_settings(auth_app):
    app = auth_app(
        config={"AUTH_PASSKEY_ORIGINS": ["https://notes.example.com", "https://m.notes.example.com"]},
    )
    with app.test_request_context("/", base_url="http://evil.example"):
        rp = relying_party()
    assert rp.id == "notes.example.com" and rp.name == "notes.example.com"
    assert rp.origins == ("https://notes.example.com", "https://m.notes.example.com")
    app = auth_app(config={"AUTH_PASSKEY_RP_ID": "example.com", "AUTH_PASSKEY_RP_NAME": "Notes"})
    with app.test_request_context("/", base_url="https://notes.example.com:8443"):
        rp = relying_party()
    assert (rp.id, rp.name, rp.origins) == ("example.com", "Notes", ("https://notes.example.com:8443",))


def test_in_production_the_origin_comes_from_the_host_header_only_once_it_is_checked(auth_app):
    app = auth_app()
    app.testing = False
    with app.test_request_context("/", base_url="https://evil.example"), pytest.raises(PasskeyNotConfigured):
        relying_party()
    from erlen_auth.passkey_views import login_options

    with app.test_request_context("/auth/passkeys/login/options", base_url="https://evil.example", json={}):
        refused, status = login_options()
    assert status == 503 and "AUTH_PASSKEY_ORIGINS" in refused.json["message"]
    client = app.test_client()
    assert "Log in with a passkey" not in client.get("/auth/login", base_url="https://evil.example").text
    with app.test_request_context("/", base_url="http://localhost:5000"):
        assert relying_party().origins == ("http://localhost:5000",)  # only this machine reaches it
    # An IP address is no relying party id: the button is not offered rather than failing in the browser.
    with (
        app.test_request_context("/", base_url="http://127.0.0.1:5000"),
        pytest.raises(PasskeyNotConfigured, match="IP address"),
    ):
        relying_party()
    assert "Log in with a passkey" not in client.get("/auth/login", base_url="http://127.0.0.1:5000").text
    assert "auth.E005" in {message.id for message in run_checks(app, deploy=True)}
    assert "auth.E005" not in {message.id for message in run_checks(app)}

    trusted = auth_app(config={"TRUSTED_HOSTS": ["notes.example.com"]})
    trusted.testing = False
    with trusted.test_request_context("/", base_url="https://notes.example.com"):
        assert relying_party().origins == ("https://notes.example.com",)
    assert "auth.E005" not in {message.id for message in run_checks(trusted, deploy=True)}
    forged = trusted.test_client().get("/auth/login", base_url="https://evil.example")
    assert forged.status_code == 400  # Flask refuses the host before any view runs


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("AUTH_PASSKEY_ORIGINS", ["notes.example.com"]),
        ("AUTH_PASSKEY_ORIGINS", ["https://notes.example.com/path"]),
        ("AUTH_PASSKEY_RP_ID", "https://example.com"),
        ("AUTH_PASSKEY_RP_ID", "Example.com"),
        ("AUTH_PASSKEY_TIMEOUT", 5),
    ],
)
def test_bad_settings_are_refused_by_name(auth_app, key, value):
    import erlen

    with pytest.raises(erlen.ConfigError, match=key):
        auth_app(config={key: value})


def test_the_script_is_served_from_the_plugin(pk_app):
    response = pk_app.test_client().get("/static/plugins/auth/passkeys.js")
    assert response.status_code == 200
    assert "navigator.credentials.get" in response.text and "X-CSRF-Token" in response.text
    response.close()


def test_passkeys_go_with_their_user(pk_app):
    client = logged_in(pk_app)
    add_passkey(client, SoftAuthenticator())
    with pk_app.app_context():
        session = database_of(pk_app).session
        session.execute(sa.delete(User))
        session.commit()
    assert rows(pk_app) == []


def test_the_security_page_has_the_section_in_order(pk_app):
    titles = [section.title for section in state_of(pk_app).security_sections]
    assert titles.index("Password") < titles.index("Passkeys") < titles.index("Sessions")
    text = logged_in(pk_app).get("/auth/security").text
    assert re.search(r'href="/auth/passkeys/new"', text)


# As a second factor (the two-factor page of erlen_auth.two_factor)


@pytest.fixture
def tf_client(pk_app):
    """A client logged in as ada, who turned TOTP on (at the fake time of test_totp) and added a passkey."""
    from test_totp import Clock, enrol

    state_of(pk_app).clock = Clock()
    client = pk_app.test_client()
    enrol(pk_app, client)
    return client


def test_a_passkey_is_a_second_factor_of_a_password_sign_in(pk_app, tf_client):
    authenticator = SoftAuthenticator()
    assert add_passkey(tf_client, authenticator).status_code == 200
    client = pk_app.test_client()
    first = post_form(client, "/auth/login?next=/auth/security", {"email": "ada@example.com", "password": "x"})
    assert first.status_code == 200  # a wrong password is no first factor
    from erlen_auth.testing import DEFAULT_PASSWORD

    first = post_form(
        client, "/auth/login?next=/auth/security", {"email": "ada@example.com", "password": DEFAULT_PASSWORD}
    )
    assert first.status_code == 302 and first.headers["Location"] == "/auth/two-factor"
    assert not is_logged_in(client)
    page = client.get("/auth/two-factor")
    assert 'data-erlen-passkey="second_factor"' in page.text and "Use a passkey" in page.text
    options = post_json(client, "/auth/passkeys/second-factor/options").json
    assert [item["id"] for item in options["allowCredentials"]] == [b64url(authenticator.credentials[0].id)]
    assert options["userVerification"] == "required"
    done = post_json(client, "/auth/passkeys/second-factor", {"credential": authenticator.get(options)})
    assert done.status_code == 200, done.text
    assert done.json == {"redirect": "/auth/security"}
    assert is_logged_in(client)
    assert rows(pk_app)[0].last_used_at is not None


def test_the_second_factor_needs_a_pending_sign_in_and_the_users_own_passkey(pk_app, tf_client):
    from erlen_auth.testing import DEFAULT_PASSWORD

    authenticator = SoftAuthenticator()
    add_passkey(tf_client, authenticator)
    stranger_client = logged_in(pk_app, "bob@example.com")
    bobs_key = SoftAuthenticator()
    add_passkey(stranger_client, bobs_key)
    nobody = pk_app.test_client()
    _refusal(post_json(nobody, "/auth/passkeys/second-factor/options"), "no_pending_sign_in")
    _refusal(post_json(nobody, "/auth/passkeys/second-factor", {"credential": {}}), "no_pending_sign_in")
    client = pk_app.test_client()
    post_form(client, "/auth/login", {"email": "ada@example.com", "password": DEFAULT_PASSWORD})
    # Bob's passkey is no second factor of Ada's.
    options = post_json(client, "/auth/passkeys/second-factor/options").json
    forged = bobs_key.get(options, credential=bobs_key.credentials[0])
    assert "not one of yours" in _refusal(
        post_json(client, "/auth/passkeys/second-factor", {"credential": forged}), "unknown"
    )
    # A sign-in challenge does not answer the second step.
    login_options = post_json(client, "/auth/passkeys/login/options").json
    _refusal(
        post_json(client, "/auth/passkeys/second-factor", {"credential": authenticator.get(login_options)}), "expired"
    )
    assert not is_logged_in(client)


def test_a_passkey_alone_adds_no_second_step(pk_app):
    owner = logged_in(pk_app)
    authenticator = SoftAuthenticator()
    add_passkey(owner, authenticator)
    client = pk_app.test_client()
    assert log_in(client, "ada@example.com").headers["Location"] == "/"  # the password alone, as before
    assert is_logged_in(client)


def test_signing_in_with_a_passkey_skips_the_second_step(pk_app, tf_client):
    authenticator = SoftAuthenticator()
    add_passkey(tf_client, authenticator)
    client = pk_app.test_client()
    done = sign_in(client, authenticator)
    assert done.status_code == 200 and done.json == {"redirect": "/"}
    assert is_logged_in(client)


def test_an_unconfirmed_address_cannot_sign_in_with_a_passkey_when_confirmation_is_required(auth_app):
    from erlen_auth.testing import login_as

    app = auth_app(
        ["mail"],
        {
            "MAIL_DEFAULT_SENDER": "noreply@example.com",
            "AUTH_EMAIL_CONFIRMATION": True,
            "AUTH_REQUIRE_CONFIRMED_EMAIL": True,
        },
        create_all=True,
    )
    owner = login_as(app.test_client(), make_user(app, "ada@example.com", confirmed=False))
    authenticator = SoftAuthenticator()
    assert add_passkey(owner, authenticator).status_code == 200
    client = app.test_client()
    _refusal(sign_in(client, authenticator), "refused", 403)
    assert not is_logged_in(client)

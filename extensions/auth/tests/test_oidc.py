"""Signing in with OpenID Connect providers, against a real provider on loopback (erlen_auth.testing_oidc).

The app under test fetches the provider's discovery document, keys and
tokens over HTTP; the browser's side of the round trip is the Flask test
client for the app and ``requests`` for the provider (``provider.authorize``).
"""

from __future__ import annotations

import time
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form

import erlen
from erlen_auth.oidc_models import AuthIdentity
from erlen_auth.testing import DEFAULT_PASSWORD, FAST_HASHING
from erlen_auth.testing_oidc import TestProvider


@pytest.fixture
def provider(oidc_provider: TestProvider) -> TestProvider:
    return oidc_provider


@pytest.fixture
def erlen_config(database_url: str, provider: TestProvider) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING, "AUTH_OIDC_PROVIDERS": {"test": provider.config()}}


def start(client, next_target: str | None = None):
    """Press "Sign in with Test provider": the app answers with a redirect to the provider."""
    response = post_form(client, "/auth/oidc/test/login", {"next": next_target} if next_target else {})
    assert response.status_code == 302, response.text
    return response


def sign_in_with(client, provider: TestProvider, subject: str, email: str | None, *, verified: bool = True, **kwargs):
    """The whole round trip: the button, the provider (where ``subject`` is signed in), the callback."""
    provider.sign_in(subject, email, verified=verified)
    back = provider.authorize(start(client, **kwargs).headers["Location"])
    return client.get(back)


def identities(db_session) -> list[AuthIdentity]:
    return list(db_session.scalars(sa.select(AuthIdentity).order_by(AuthIdentity.id)))


def user_by_email(db_session, email: str):
    from erlen_auth.models import User

    return db_session.scalar(sa.select(User).where(User.email_key == email.lower()))


# Settings


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"client_secret": "s3cret-value", "issuer": "https://id.example"}, "gives the provider 'corp' no client_id"),
        ({"client_id": "a", "issuer": "https://id.example"}, "gives the provider 'corp' no client_secret"),
        ({"client_id": "a", "client_secret": "s3cret-value"}, "neither discovery_url nor issuer"),
        (
            {"client_id": "a", "client_secret": "s3cret-value", "issuer": "http://id.example"},
            "use https://",
        ),
        (
            {"client_id": "a", "client_secret": "s3cret-value", "issuer": "https://id.example", "scopes": "email"},
            "must include 'openid'",
        ),
        (
            {"client_id": "a", "client_secret": "s3cret-value", "issuer": "https://id.example", "secret": "x"},
            "unknown key(s) 'secret'",
        ),
        ({"client_id": "a", "client_secret": "s3cret-value", "preset": "myspace"}, "the preset 'myspace'"),
    ],
)
def test_a_wrong_provider_entry_stops_the_app_naming_the_setting_and_the_provider(auth_app, entry, says):
    with pytest.raises(erlen.SettingError) as raised:
        auth_app(config={"AUTH_OIDC_PROVIDERS": {"corp": entry}})
    message = str(raised.value)
    assert "AUTH_OIDC_PROVIDERS" in message and says in message
    assert "s3cret-value" not in message  # the client secret is never shown


def test_presets_fill_in_the_discovery_url_and_label(auth_app):
    from erlen_auth.oidc import oidc_state

    app = auth_app(
        config={
            "AUTH_OIDC_PROVIDERS": {
                "google": {"client_id": "g", "client_secret": "gs"},
                "microsoft": {"client_id": "m", "client_secret": "ms", "tenant": "contoso.onmicrosoft.com"},
                "work": {"preset": "gitlab", "client_id": "w", "client_secret": "ws", "label": "Work GitLab"},
            }
        }
    )
    providers = oidc_state(app).providers
    assert providers["google"].discovery_url == "https://accounts.google.com/.well-known/openid-configuration"
    assert providers["google"].label == "Google" and providers["google"].scopes == "openid email profile"
    assert providers["microsoft"].discovery_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    )
    assert providers["work"].label == "Work GitLab" and "gitlab.com" in providers["work"].discovery_url
    assert "gs" not in repr(providers["google"])  # nor in a log line that prints it


@pytest.mark.parametrize("tenant", [None, "common", "organizations"])
def test_microsoft_needs_one_tenant(auth_app, tenant):
    entry = {"client_id": "m", "client_secret": "ms", **({"tenant": tenant} if tenant else {})}
    with pytest.raises(erlen.SettingError, match=r"'microsoft'.*tenant"):
        auth_app(config={"AUTH_OIDC_PROVIDERS": {"microsoft": entry}})


def test_without_providers_there_are_no_routes_nor_buttons(auth_app):
    app = auth_app()
    client = app.test_client()
    assert "oidc" not in client.get("/auth/login").text
    assert client.post("/auth/oidc/test/login").status_code in (400, 404)
    from erlen_auth.oidc import oidc_state

    assert oidc_state(app).providers == {} and oidc_state(app).clients == {}  # never set up, yet readable


# Starting


def test_the_log_in_page_has_a_button_that_posts_with_a_csrf_token(client):
    page = client.get("/auth/login?next=/notes").text
    assert 'action="/auth/oidc/test/login"' in page and "Sign in with Test provider" in page
    form = page.split('action="/auth/oidc/test/login"', 1)[1].split("</form>", 1)[0]
    assert 'name="csrf_token"' in form and 'name="next" value="/notes"' in form


def test_every_provider_route_that_changes_state_needs_the_csrf_token(app, db_session):
    from erlen_forms.testing import assert_csrf_protected

    endpoints = {result.endpoint for result in assert_csrf_protected(app)}
    assert endpoints >= {
        "auth.oidc_login",
        "auth.oidc_reauthenticate",
        "auth.oidc_link",
        "auth.oidc_pending",
        "auth.oidc_pending_confirm",
        "auth.oidc_unlink",
    }


def test_a_sign_in_starts_only_with_a_post_carrying_the_csrf_token(client, provider):
    # A GET could be sent by any page the visitor opens (login CSRF): there is none.
    assert client.get("/auth/oidc/test/login").status_code == 405
    assert client.post("/auth/oidc/test/login").status_code == 400
    assert client.post("/auth/oidc/nope/login", data={}).status_code in (400, 404)
    location = start(client).headers["Location"]
    assert location.startswith(provider.issuer + "/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"][0] and query["state"][0]
    assert query["scope"] == ["openid email profile"]
    assert query["redirect_uri"] == ["http://localhost/auth/oidc/test/callback"]


# Outcomes


def test_a_new_identity_makes_an_account_without_a_password(client, provider, db_session, app):
    response = sign_in_with(client, provider, "alice-1", "Alice@Example.com", next_target="/welcome")
    assert response.status_code == 302 and response.headers["Location"] == "/welcome"
    assert is_logged_in(client)
    user = user_by_email(db_session, "alice@example.com")
    assert user.email == "Alice@Example.com" and user.email_confirmed_at is not None
    assert user.password_hash.startswith("!")
    [identity] = identities(db_session)
    assert (identity.user_id, identity.provider, identity.subject) == (user.id, "test", "alice-1")
    assert identity.email == "Alice@Example.com" and identity.last_used_at is not None
    # PKCE: the code was exchanged with the verifier, authenticated with the client secret.
    assert provider.token_requests[-1]["code_verifier"]
    # No password opens it: not the empty one, not the marker itself, not the default of the tests.
    other = app.test_client()
    for password in (DEFAULT_PASSWORD, user.password_hash, "!", user.password_hash[1:]):
        assert log_in(other, "alice@example.com", password).status_code == 200
        assert not is_logged_in(other)


def test_an_account_without_a_password_gets_one_through_set_password(client, provider, db_session, app):
    from erlen_auth import accounts

    sign_in_with(client, provider, "alice-1", "alice@example.com")
    user = user_by_email(db_session, "alice@example.com")
    with app.test_request_context():
        accounts.set_password(user, "a brand new password", reason="reset", db=db_session)
    other = app.test_client()
    log_in(other, "alice@example.com", "a brand new password")
    assert is_logged_in(other)


def test_a_linked_identity_signs_in_to_its_account(client, provider, db_session, app):
    sign_in_with(client, provider, "alice-1", "alice@example.com")
    post_form(client, "/auth/logout")
    # The address at the provider changed since: the subject is what counts.
    response = sign_in_with(client, provider, "alice-1", "alice.new@example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert is_logged_in(client)
    [identity] = identities(db_session)
    assert identity.email == "alice.new@example.com"
    assert user_by_email(db_session, "alice.new@example.com") is None


def test_an_inactive_account_does_not_sign_in_through_its_identity(client, provider, db_session):
    sign_in_with(client, provider, "alice-1", "alice@example.com")
    post_form(client, "/auth/logout")
    user = user_by_email(db_session, "alice@example.com")
    user.is_active = False
    db_session.commit()
    response = sign_in_with(client, provider, "alice-1", "alice@example.com")
    assert response.status_code == 403 and "This account cannot log in." in response.text
    assert not is_logged_in(client)


def test_without_registration_an_unknown_identity_gets_no_account(make_db_app, provider, db_session_for):
    app = make_db_app(
        ["forms", "auth"],
        {**FAST_HASHING, "AUTH_REGISTRATION_ENABLED": False, "AUTH_OIDC_PROVIDERS": {"test": provider.config()}},
    )
    db = db_session_for(app)
    client = app.test_client()
    response = sign_in_with(client, provider, "alice-1", "alice@example.com")
    assert response.status_code == 403 and "No account here is linked" in response.text
    assert not is_logged_in(client) and identities(db) == []


def test_an_identity_without_an_email_gets_no_account(client, provider, db_session):
    response = sign_in_with(client, provider, "alice-1", None)
    assert response.status_code == 400 and "did not tell us your email address" in response.text
    assert identities(db_session) == []


def test_an_identity_whose_address_has_too_long_a_key_gets_no_account(client, provider, db_session):
    # Valid and 32 characters, but NFKC makes a key of 372 of it: before, the account's insert failed (a 500 on
    # PostgreSQL); now the address is not used, as one that is not valid.
    from erlen_auth import User

    response = sign_in_with(client, provider, "alice-1", "\ufdfa" * 20 + "@example.com")
    assert response.status_code == 400 and "did not tell us your email address" in response.text
    assert identities(db_session) == [] and db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_the_address_is_read_from_userinfo_when_the_id_token_has_none(client, provider, db_session):
    provider.id_token_claims = {"email": None, "email_verified": None}
    response = sign_in_with(client, provider, "alice-1", "alice@example.com")
    assert response.status_code == 302 and is_logged_in(client)
    assert user_by_email(db_session, "alice@example.com").email_confirmed_at is not None


def test_an_unsafe_next_is_ignored(client, provider, db_session):
    response = sign_in_with(client, provider, "alice-1", "alice@example.com", next_target="//evil.example/")
    assert response.status_code == 302 and response.headers["Location"] == "/"


# An account with the same address


def test_a_verified_address_of_an_account_asks_for_its_password_before_linking(
    client, provider, db_session, create_user
):
    ada = create_user("ada@example.com")
    response = sign_in_with(client, provider, "ada-at-provider", "ADA@example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/oidc/pending"
    assert not is_logged_in(client) and identities(db_session) == []
    page = client.get("/auth/oidc/pending")
    assert page.status_code == 200 and "An account with this email exists" in page.text
    assert "Log in to it to link Test provider" in page.text
    wrong = post_form(client, "/auth/oidc/pending", {"password": "not the password"})
    assert wrong.status_code == 200 and "This is not the password of this account." in wrong.text
    assert not is_logged_in(client) and identities(db_session) == []
    right = post_form(client, "/auth/oidc/pending", {"password": DEFAULT_PASSWORD})
    assert right.status_code == 302
    assert is_logged_in(client)
    [identity] = identities(db_session)
    assert (identity.user_id, identity.subject) == (ada.id, "ada-at-provider")
    # Linked: from now on the provider signs Ada in.
    post_form(client, "/auth/logout")
    assert sign_in_with(client, provider, "ada-at-provider", "ada@example.com").headers["Location"] == "/"
    assert is_logged_in(client)


def test_an_attackers_identity_with_the_victims_address_gets_nowhere_without_the_password(
    app, provider, db_session, create_user
):
    victim = create_user("victim@example.com")
    attacker = app.test_client()
    # A careless provider lets the attacker claim the victim's address as verified.
    sign_in_with(attacker, provider, "attacker-1", "victim@example.com")
    assert not is_logged_in(attacker)
    # Confirming needs being signed in to the victim's account; guessing the password is throttled like log-ins.
    assert post_form(attacker, "/auth/oidc/pending/confirm").headers["Location"] == "/auth/oidc/pending"
    for _ in range(3):
        post_form(attacker, "/auth/oidc/pending", {"password": "guess"})
    assert not is_logged_in(attacker) and identities(db_session) == []
    # The victim, signing in as usual, links nothing: the pending identity was only in the attacker's browser.
    browser = app.test_client()
    log_in(browser, "victim@example.com")
    assert is_logged_in(browser)
    assert browser.get("/auth/oidc/pending").status_code == 400
    assert identities(db_session) == [] and victim.password_hash.startswith("$argon2")


def test_signing_in_with_the_password_elsewhere_drops_the_pending_identity(app, provider, db_session, create_user):
    create_user("ada@example.com")
    client = app.test_client()
    sign_in_with(client, provider, "someone", "ada@example.com")
    # Logging in through the ordinary form empties the session (no fixation): nothing waits any more.
    log_in(client, "ada@example.com")
    assert client.get("/auth/oidc/pending").status_code == 400
    assert identities(db_session) == []


def test_a_signed_in_owner_confirms_the_link(client, provider, db_session, create_user):
    ada = create_user("ada@example.com")
    log_in(client, "ada@example.com")  # a log-in is a recent proof
    response = sign_in_with(client, provider, "ada-at-provider", "ada@example.com")
    assert response.headers["Location"] == "/auth/oidc/pending"
    page = client.get("/auth/oidc/pending").text
    assert 'action="/auth/oidc/pending/confirm"' in page
    confirmed = post_form(client, "/auth/oidc/pending/confirm")
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/auth/security"
    [identity] = identities(db_session)
    assert identity.user_id == ada.id
    assert "Your Test provider account is linked" in client.get("/auth/security").text


def test_an_unverified_address_never_links(client, provider, db_session, create_user):
    create_user("ada@example.com")
    response = sign_in_with(client, provider, "someone", "ada@example.com", verified=False)
    assert response.status_code == 409 and "did not confirm that ada@example.com is yours" in response.text
    assert client.get("/auth/oidc/pending").status_code == 400
    assert not is_logged_in(client) and identities(db_session) == []


# Hostile callbacks


def test_a_forged_or_missing_state_is_refused_before_any_code_is_exchanged(client, provider, db_session):
    start(client)
    for query in ("?code=abc&state=forged", "?code=abc", "", "?state=" + "x" * 5000, "?state=%00&code=%ff"):
        response = client.get("/auth/oidc/test/callback" + query)
        assert response.status_code == 400, query
        assert "was not started here" in response.text
    assert provider.token_requests == [] and not is_logged_in(client)


def test_a_callback_started_in_another_browser_is_refused(app, provider, db_session):
    # Login CSRF: the attacker's own code and state, sent to the victim's browser.
    attacker, victim = app.test_client(), app.test_client()
    provider.sign_in("attacker-1", "attacker@example.com")
    back = provider.authorize(start(attacker).headers["Location"])
    assert victim.get(back).status_code == 400
    assert not is_logged_in(victim) and identities(db_session) == []


def test_a_replayed_callback_is_refused(client, provider, db_session):
    provider.sign_in("alice-1", "alice@example.com")
    back = provider.authorize(start(client).headers["Location"])
    assert client.get(back).status_code == 302
    post_form(client, "/auth/logout")
    assert client.get(back).status_code == 400  # the state was used
    assert not is_logged_in(client)


def test_a_used_code_is_refused_by_the_provider(client, provider, db_session):
    provider.sign_in("alice-1", "alice@example.com")
    first = provider.authorize(start(client).headers["Location"])
    client.get(first)
    post_form(client, "/auth/logout")
    old_code = parse_qs(urlsplit(first).query)["code"][0]
    # A new sign-in, its callback carrying the old code: the state is right, the provider refuses the code.
    fresh = parse_qs(urlsplit(provider.authorize(start(client).headers["Location"])).query)
    response = client.get(f"/auth/oidc/test/callback?code={old_code}&state={fresh['state'][0]}")
    assert response.status_code == 400 and "could not be verified" in response.text
    assert not is_logged_in(client)


def test_cancelling_at_the_provider_says_so(client, provider):
    provider.sign_out()
    back = provider.authorize(start(client).headers["Location"])
    response = client.get(back)
    assert response.status_code == 400 and "You cancelled logging in with Test provider." in response.text


def _tampered(client, provider, db_session, **switches):
    for name, value in switches.items():
        setattr(provider, name, value)
    response = sign_in_with(client, provider, "alice-1", "alice@example.com")
    assert response.status_code == 400, response.text
    assert "could not be verified" in response.text
    assert not is_logged_in(client)
    assert identities(db_session) == [] and user_by_email(db_session, "alice@example.com") is None


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "someone-else"}, id="wrong-audience"),
        # Authlib alone checks the audience through azp: this one passes there.
        pytest.param({"aud": ["someone-else"], "azp": "erlen-test-client"}, id="other-audience-naming-us-azp"),
        pytest.param({"aud": None}, id="no-audience"),
        pytest.param({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, id="expired"),
        pytest.param({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200}, id="issued-in-the-future"),
        pytest.param({"iat": None}, id="no-iat"),
        pytest.param({"nonce": "another-nonce"}, id="wrong-nonce"),
        pytest.param({"nonce": None}, id="no-nonce"),
        pytest.param({"iss": "http://evil.example"}, id="wrong-issuer"),
        pytest.param({"sub": None}, id="no-subject"),
        pytest.param({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, id="wrong-at-hash"),
    ],
)
def test_an_id_token_with_wrong_claims_is_refused(client, provider, db_session, claims):
    _tampered(client, provider, db_session, id_token_claims=claims)


def test_an_unsigned_id_token_is_refused_even_when_the_provider_advertises_none(client, provider, db_session):
    _tampered(client, provider, db_session, signing="none", advertised_algorithms=["RS256", "none"])


def test_an_id_token_signed_with_another_key_is_refused(client, provider, db_session):
    _tampered(client, provider, db_session, signing="foreign")


def test_an_id_token_signed_with_the_client_secret_is_refused(client, provider, db_session):
    _tampered(client, provider, db_session, signing="hs256", advertised_algorithms=["HS256", "RS256"])


def test_a_provider_only_offering_unsigned_tokens_cannot_be_used(client, provider, db_session):
    provider.advertised_algorithms = ["none"]
    response = post_form(client, "/auth/oidc/test/login")
    assert response.status_code == 503 and "cannot be reached right now" in response.text


def test_a_discovery_document_of_another_issuer_is_refused(make_db_app, provider):
    entry = provider.config(
        issuer="https://id.example", discovery_url=provider.issuer + "/.well-known/openid-configuration"
    )
    app = make_db_app(["forms", "auth"], {**FAST_HASHING, "AUTH_OIDC_PROVIDERS": {"test": entry}})
    response = post_form(app.test_client(), "/auth/oidc/test/login")
    assert response.status_code == 503


def test_an_unreachable_provider_is_a_page_not_an_error(client, provider):
    provider.stop()
    response = post_form(client, "/auth/oidc/test/login")
    assert response.status_code == 503 and "Test provider cannot be reached right now" in response.text


# Linking from the security page, unlinking, re-authenticating


def _forget_recent_proofs(db_session) -> None:
    """Make every session's last proof of identity old: sensitive actions ask again."""
    from erlen_auth.models import LoginSession

    db_session.execute(sa.update(LoginSession).values(reauthenticated_at=None))
    db_session.commit()


def test_a_signed_in_user_links_an_identity_after_a_recent_proof(app, provider, db_session, create_user, login_as):
    ada = create_user("ada@example.com")
    client = app.test_client()
    login_as(client, ada)
    _forget_recent_proofs(db_session)
    assert 'action="/auth/oidc/test/link"' in client.get("/auth/security").text
    refused = post_form(client, "/auth/oidc/test/link")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/auth/reauthenticate")
    post_form(client, "/auth/reauthenticate", {"password": DEFAULT_PASSWORD})
    assert client.get("/auth/oidc/test/link").status_code == 200
    provider.sign_in("ada-elsewhere", "ada.personal@example.net")  # any address: the user proves both sides
    back = provider.authorize(post_form(client, "/auth/oidc/test/link").headers["Location"])
    response = client.get(back)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/security"
    [identity] = identities(db_session)
    assert (identity.user_id, identity.email) == (ada.id, "ada.personal@example.net")
    page = client.get("/auth/security").text
    assert "ada.personal@example.net" in page and f'action="/auth/oidc/identities/{identity.id}/unlink"' in page
    assert '<button type="submit" class="erlen-button-danger">Unlink</button>' in page  # destructive: danger


def test_an_identity_linked_to_another_account_is_not_linked_again(client, provider, db_session, create_user):
    sign_in_with(client, provider, "shared-1", "first@example.com")  # makes the first account
    post_form(client, "/auth/logout")
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    back = provider.authorize(post_form(client, "/auth/oidc/test/link").headers["Location"])
    response = client.get(back)
    assert response.status_code == 409 and "linked to another account" in response.text
    assert len(identities(db_session)) == 1


def test_unlinking_needs_another_way_in(client, provider, db_session):
    sign_in_with(client, provider, "alice-1", "alice@example.com")  # an account with no password
    [identity] = identities(db_session)
    page = client.get("/auth/security").text
    assert "This is the only way into your account" in page
    # No password to change: the password section says so instead of asking for a current password.
    assert "Your account has no password" in page and 'href="/auth/password"' not in page
    refused = post_form(client, f"/auth/oidc/identities/{identity.id}/unlink")
    assert refused.status_code == 409 and "only way into your account" in refused.text
    assert len(identities(db_session)) == 1
    # A second identity is another way in: either may go, not both.
    provider.sign_in("alice-2", "alice@example.com")
    client.get(provider.authorize(post_form(client, "/auth/oidc/test/link").headers["Location"]))
    first, second = identities(db_session)
    assert post_form(client, f"/auth/oidc/identities/{first.id}/unlink").headers["Location"] == "/auth/security"
    assert post_form(client, f"/auth/oidc/identities/{second.id}/unlink").status_code == 409
    assert [row.subject for row in identities(db_session)] == ["alice-2"]


def test_an_account_with_a_password_unlinks_its_only_identity(client, provider, db_session, create_user):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    provider.sign_in("ada-elsewhere", "ada@example.net")
    client.get(provider.authorize(post_form(client, "/auth/oidc/test/link").headers["Location"]))
    [identity] = identities(db_session)
    page = client.get(f"/auth/oidc/identities/{identity.id}/unlink")
    assert page.status_code == 200
    assert (
        '<button type="submit" class="erlen-button-danger">Unlink Test provider</button>' in page.text
    )  # destructive: danger
    response = post_form(client, f"/auth/oidc/identities/{identity.id}/unlink")
    assert response.headers["Location"] == "/auth/security" and identities(db_session) == []


def test_someone_elses_identity_cannot_be_unlinked(app, provider, db_session, create_user):
    owner = app.test_client()
    sign_in_with(owner, provider, "alice-1", "alice@example.com")
    [identity] = identities(db_session)
    create_user("mallory@example.com")
    mallory = app.test_client()
    log_in(mallory, "mallory@example.com")
    assert post_form(mallory, f"/auth/oidc/identities/{identity.id}/unlink").status_code == 404
    assert post_form(mallory, "/auth/oidc/identities/999999/unlink").status_code == 404
    assert len(identities(db_session)) == 1


def test_an_account_without_a_password_reauthenticates_with_its_provider(client, provider, db_session):
    sign_in_with(client, provider, "alice-1", "alice@example.com")
    _forget_recent_proofs(db_session)
    asked = client.get("/auth/oidc/test/link")
    assert asked.headers["Location"].startswith("/auth/reauthenticate")
    page = client.get(asked.headers["Location"]).text
    assert 'action="/auth/oidc/test/reauthenticate"' in page and "Confirm with Test provider" in page
    started = post_form(client, "/auth/oidc/test/reauthenticate", {"next": "/auth/oidc/test/link"})
    response = client.get(provider.authorize(started.headers["Location"]))
    assert response.status_code == 302 and response.headers["Location"] == "/auth/oidc/test/link"
    assert client.get("/auth/oidc/test/link").status_code == 200


def test_reauthenticating_with_an_identity_of_someone_else_does_not_count(app, provider, db_session, create_user):
    other = app.test_client()
    sign_in_with(other, provider, "alice-1", "alice@example.com")
    create_user("ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    started = post_form(client, "/auth/oidc/test/reauthenticate", {"next": "/auth/security"})
    provider.sign_in("alice-1", "alice@example.com")
    response = client.get(provider.authorize(started.headers["Location"]))
    assert response.status_code == 403


def test_an_account_keeps_its_identity_when_a_passkey_remains(client, provider, db_session):
    """Unlinking the only identity is allowed once a passkey is another way in."""
    from erlen_auth.passkey_models import Passkey

    sign_in_with(client, provider, "alice-1", "alice@example.com")
    [identity] = identities(db_session)
    assert post_form(client, f"/auth/oidc/identities/{identity.id}/unlink").status_code == 409
    db_session.add(
        Passkey(
            user_id=identity.user_id,
            credential_id=b"credential-1",
            public_key=b"key",
            user_handle=b"handle",
            name="Phone",
        )
    )
    db_session.commit()
    response = post_form(client, f"/auth/oidc/identities/{identity.id}/unlink")
    assert response.status_code == 302 and identities(db_session) == []


# With mail: notices, confirmation, reset


@pytest.fixture
def mail_app(auth_app, provider):
    pytest.importorskip("erlen_mail", reason="erlen-mail is not installed: tested in the integration session")
    from erlen_mail.testing import DeliveredMail

    def make(**config):
        settings = {"MAIL_DEFAULT_SENDER": "noreply@example.com", "AUTH_OIDC_PROVIDERS": {"test": provider.config()}}
        app = auth_app(["mail"], {**settings, **config}, create_all=True)
        return app, DeliveredMail(app)

    return make


def test_linking_and_unlinking_send_notices(mail_app, provider):
    from erlen_auth.testing import make_user

    app, outbox = mail_app()
    make_user(app, "ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    provider.sign_in("ada-elsewhere", "ada@example.net")
    client.get(provider.authorize(post_form(client, "/auth/oidc/test/link").headers["Location"]))
    [linked] = outbox
    assert linked.subject == "A Test provider account was linked to yours" and linked.recipients == ["ada@example.com"]
    assert "ada@example.net" in linked.body
    page = client.get("/auth/security").text
    unlink_path = page.split('action="/auth/oidc/identities/', 1)[1].split('"', 1)[0]
    post_form(client, "/auth/oidc/identities/" + unlink_path)
    assert [message.subject for message in outbox] == [
        "A Test provider account was linked to yours",
        "A Test provider account was unlinked from yours",
    ]


def test_a_new_account_is_not_greeted_with_a_notice(mail_app, provider):
    app, outbox = mail_app()
    sign_in_with(app.test_client(), provider, "alice-1", "alice@example.com")
    assert list(outbox) == []


def test_an_unverified_address_of_a_new_account_is_confirmed_by_mail_first(mail_app, provider):
    app, outbox = mail_app(AUTH_EMAIL_CONFIRMATION=True, AUTH_REQUIRE_CONFIRMED_EMAIL=True)
    client = app.test_client()
    response = sign_in_with(client, provider, "alice-1", "alice@example.com", verified=False)
    assert response.status_code == 200 and not is_logged_in(client)
    [message] = outbox
    assert message.subject == "Confirm your email address"
    again = sign_in_with(client, provider, "alice-1", "alice@example.com", verified=False)
    assert again.status_code == 403 and "Confirm your email address first" in again.text
    # A provider that vouches for the address now confirms it.
    assert sign_in_with(client, provider, "alice-1", "alice@example.com").status_code == 302
    assert is_logged_in(client)


def test_a_reset_link_gives_an_account_without_a_password_one(mail_app, provider):
    import re

    app, outbox = mail_app()
    client = app.test_client()
    sign_in_with(client, provider, "alice-1", "alice@example.com")
    post_form(client, "/auth/logout")
    post_form(client, "/auth/reset", {"email": "alice@example.com"})
    [message] = outbox
    link = re.search(r"http://localhost(/auth/reset/\S+)", message.body).group(1)
    post_form(client, link, {"password": "a brand new password", "confirm": "a brand new password"})
    log_in(client, "alice@example.com", "a brand new password")
    assert is_logged_in(client)

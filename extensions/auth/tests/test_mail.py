"""Password reset and email confirmation through erlen-mail; both off without it."""

from __future__ import annotations

import re

import pytest
from auth_helpers import is_logged_in, log_in, post_form

import erlen_db
from erlen.checks import run_checks
from erlen_auth import User, state_of
from erlen_auth.testing import make_user

erlen_mail = pytest.importorskip(
    "erlen_mail", reason="erlen-mail is not installed: reset and confirmation are tested in the integration session"
)
from erlen_mail.testing import DeliveredMail  # noqa: E402


@pytest.fixture
def mail_app(auth_app):
    # Committed for real (each test has a database of its own): the worker reads the outbox on its own connection.
    def make(**config):
        app = auth_app(["mail"], {"MAIL_DEFAULT_SENDER": "noreply@example.com", **config}, create_all=True)
        return app, DeliveredMail(app)  # auth queues its mail: reading this runs the worker

    return make


def _link(message) -> str:
    found = re.search(r"http://localhost(/auth/\S+)", message.body)
    assert found, message.body
    return found.group(1)


def test_without_mail_reset_and_confirmation_are_off(auth_app):
    app = auth_app(config={"AUTH_EMAIL_CONFIRMATION": True})
    client = app.test_client()
    assert client.get("/auth/reset").status_code == 404
    assert client.get("/auth/confirm").status_code == 404
    assert not state_of(app).reset_enabled and not state_of(app).confirmation_enabled
    found = {message.id: message for message in run_checks(app)}
    assert "mail plugin is not enabled" in found["auth.I001"].message
    assert "auth.W001" in found


def test_with_mail_the_check_is_quiet(mail_app):
    app, _ = mail_app()
    assert not {m.id for m in run_checks(app)} & {"auth.I001", "auth.W001"}


def test_reset_and_confirmation_routes_are_csrf_protected(mail_app):
    from erlen_forms.testing import assert_csrf_protected

    app, _ = mail_app(AUTH_EMAIL_CONFIRMATION=True)
    endpoints = {result.endpoint for result in assert_csrf_protected(app)}
    assert endpoints >= {"auth.reset_request", "auth.reset_password", "auth.confirm_email", "auth.resend_confirmation"}


def test_reset_password_by_email(mail_app):
    app, outbox = mail_app()
    make_user(app, "ada@example.com")
    other = app.test_client()
    log_in(other, "ada@example.com", remember=True)
    client = app.test_client()
    assert "Forgot your password?" in client.get("/auth/login").text
    response = post_form(client, "/auth/reset", {"email": "ADA@example.com"})
    assert "we have sent it a link" in response.text
    assert len(outbox) == 1
    assert outbox[0].subject == "Reset your password"
    link = _link(outbox[0])
    assert "Choose a new password" in client.get(link).text
    done = post_form(client, link, {"password": "a brand new password", "confirm": "a brand new password"})
    assert done.status_code == 302 and done.headers["Location"] == "/auth/login"
    assert log_in(client, "ada@example.com", "a brand new password").status_code == 302
    # The reset ended every other session, remember-me cookies included.
    assert not is_logged_in(other)


def test_a_reset_link_works_once(mail_app):
    app, outbox = mail_app()
    make_user(app, "ada@example.com")
    client = app.test_client()
    post_form(client, "/auth/reset", {"email": "ada@example.com"})
    link = _link(outbox[0])
    post_form(client, link, {"password": "a brand new password", "confirm": "a brand new password"})
    again = post_form(client, link, {"password": "another new password", "confirm": "another new password"})
    assert again.status_code == 400
    assert "This link does not work" in again.text
    assert client.get(link).status_code == 400


def test_a_reset_link_expires(mail_app, monkeypatch):
    app, outbox = mail_app(AUTH_RESET_MAX_AGE=60)
    make_user(app, "ada@example.com")
    client = app.test_client()
    post_form(client, "/auth/reset", {"email": "ada@example.com"})
    link = _link(outbox[0])
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 120)
    assert client.get(link).status_code == 400


@pytest.mark.parametrize("tamper", [lambda link: link[:-3] + "abc", lambda link: "/auth/reset/not-a-token"])
def test_a_forged_reset_link_is_refused(mail_app, tamper):
    app, outbox = mail_app()
    make_user(app, "ada@example.com")
    client = app.test_client()
    post_form(client, "/auth/reset", {"email": "ada@example.com"})
    assert client.get(tamper(_link(outbox[0]))).status_code == 400


def test_a_reset_link_dies_when_the_password_changes_otherwise(mail_app):
    app, outbox = mail_app()
    user = make_user(app, "ada@example.com")
    client = app.test_client()
    post_form(client, "/auth/reset", {"email": "ada@example.com"})
    link = _link(outbox[0])
    with app.test_request_context():
        from erlen_auth import set_password
        from erlen_db import get_session

        set_password(get_session().get(User, user.id), "changed elsewhere now", reason="command")
    assert client.get(link).status_code == 400


def test_links_survive_a_secret_key_rotation_with_the_old_key_as_fallback(mail_app):
    app, outbox = mail_app(AUTH_EMAIL_CONFIRMATION=True)
    client = app.test_client()
    post_form(
        client,
        "/auth/register",
        {"email": "ada@example.com", "password": "long enough pw", "confirm": "long enough pw"},
    )
    post_form(client, "/auth/reset", {"email": "ada@example.com"})
    confirm, reset = _link(outbox[0]), _link(outbox[1])
    old_key = app.config["SECRET_KEY"]
    app.config.update(SECRET_KEY="a brand new secret key", SECRET_KEY_FALLBACKS=[old_key])
    assert client.get(confirm).status_code == 200
    assert client.get(reset).status_code == 200
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get(confirm).status_code == 400
    assert client.get(reset).status_code == 400


def test_reset_of_an_unknown_email_answers_the_same_and_sends_nothing(mail_app):
    app, outbox = mail_app()
    make_user(app, "ada@example.com")
    client = app.test_client()
    known = post_form(client, "/auth/reset", {"email": "ada@example.com"})
    unknown = post_form(client, "/auth/reset", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("ada@example.com", "X") == unknown.text.replace("nobody@example.com", "X")
    assert len(outbox) == 1


def test_email_confirmation(mail_app):
    app, outbox = mail_app(AUTH_EMAIL_CONFIRMATION=True)
    client = app.test_client()
    post_form(
        client,
        "/auth/register",
        {"email": "ada@example.com", "password": "long enough pw", "confirm": "long enough pw"},
    )
    assert outbox[0].subject == "Confirm your email address"
    link = _link(outbox[0])
    page = client.get(link)
    assert "Confirm that ada@example.com is yours." in page.text
    with app.app_context():
        from erlen_auth import find_user

        assert find_user("ada@example.com").email_confirmed_at is None
    assert post_form(client, link).status_code == 302
    with app.app_context():
        assert find_user("ada@example.com").email_confirmed_at is not None
    assert client.get(link).status_code == 400  # used up


def test_required_confirmation_refuses_log_in_until_confirmed(mail_app):
    app, outbox = mail_app(AUTH_EMAIL_CONFIRMATION=True, AUTH_REQUIRE_CONFIRMED_EMAIL=True)
    client = app.test_client()
    registered = post_form(
        client,
        "/auth/register",
        {"email": "ada@example.com", "password": "long enough pw", "confirm": "long enough pw"},
    )
    assert "Check your email" in registered.text
    assert not is_logged_in(client)
    refused = log_in(client, "ada@example.com", "long enough pw")
    assert "Confirm your email address first" in refused.text
    # Found by walking the example app: whoever lost the mail was told to follow its link, with no way to ask
    # for another (the page for that was linked only from the signed-in account menu).
    assert '<a href="/auth/confirm">Send the confirmation link again</a>' in refused.text
    # Its page is titled as its heading says (the tab said "Confirm your email address", the page of the link).
    resend = client.get("/auth/confirm").text
    assert "<title>Send the confirmation link again" in resend and "<h1>Send the confirmation link again</h1>" in resend
    assert "Send the confirmation link again" not in log_in(client, "ada@example.com", "wrong password!").text
    post_form(client, "/auth/confirm", {"email": "ada@example.com"})
    assert len(outbox) == 2
    post_form(client, _link(outbox[1]))
    assert log_in(client, "ada@example.com", "long enough pw").status_code == 302


REGISTRATION = {"password": "long enough pw", "confirm": "long enough pw"}
REQUIRED_CONFIRMATION = {"AUTH_EMAIL_CONFIRMATION": True, "AUTH_REQUIRE_CONFIRMED_EMAIL": True}


def _register(client, email):
    return post_form(client, "/auth/register", {"email": email, **REGISTRATION})


def test_with_required_confirmation_registration_does_not_tell_which_addresses_have_accounts(mail_app, monkeypatch):
    """It said "An account with this email exists already." The taken address gets the new one's page after the
    same work (one argon2id hash, one mail queued, a commit), and its owner a note; nothing of the account moves."""
    app, outbox = mail_app(**REQUIRED_CONFIRMATION)
    ada = make_user(app, "ada@example.com", password="ada's own password")
    passwords, hashed = state_of(app).passwords, []
    real_hash = passwords.hash
    monkeypatch.setattr(passwords, "hash", lambda password: hashed.append(password) or real_hash(password))
    client = app.test_client()
    new = _register(client, "new@example.com")
    taken = _register(client, "ADA@example.com")
    assert new.status_code == taken.status_code == 200
    assert new.text.replace("new@example.com", "X") == taken.text.replace("ADA@example.com", "X")
    assert "Check your email" in taken.text and "exists already" not in taken.text
    assert hashed == ["long enough pw", "long enough pw"]
    assert not is_logged_in(client)
    assert [(m.to, m.subject) for m in outbox] == [
        (["new@example.com"], "Confirm your email address"),
        (["ada@example.com"], "Someone tried to create an account with your email address"),
    ]
    note = " ".join(outbox[1].body.split())
    assert "This address has an account already, so no new account was made" in note
    assert "http://localhost/auth/login" in note and "http://localhost/auth/reset" in note
    with app.app_context():
        from erlen_auth import find_user

        kept = find_user("ada@example.com")
        assert kept.id == ada.id and kept.password_hash == ada.password_hash
        assert find_user("new@example.com") is not None
    assert log_in(client, "ada@example.com", "ada's own password").status_code == 302


def test_with_required_confirmation_a_taken_unconfirmed_address_gets_a_new_confirmation_link(mail_app):
    app, outbox = mail_app(**REQUIRED_CONFIRMATION)
    client = app.test_client()
    _register(client, "ada@example.com")
    again = _register(client, "ada@example.com")  # the first mail lost: registering again sends a new link
    assert "Check your email" in again.text
    assert [m.subject for m in outbox] == ["Confirm your email address"] * 2
    assert post_form(client, _link(outbox[1])).status_code == 302
    assert log_in(client, "ada@example.com", "long enough pw").status_code == 302


def test_with_required_confirmation_a_deactivated_accounts_note_is_recorded_not_sent(mail_app):
    app, outbox = mail_app(**REQUIRED_CONFIRMATION)
    make_user(app, "ada@example.com", active=False)
    assert "Check your email" in _register(app.test_client(), "ada@example.com").text
    assert len(outbox) == 0
    with app.app_context():
        import sqlalchemy as sa

        from erlen_mail.outbox.models import OutboxMessage

        [row] = erlen_db.get_session().scalars(sa.select(OutboxMessage)).all()
        assert row.status == "suppressed" and row.recipient_list == ["ada@example.com"]


def test_with_required_confirmation_registrations_are_throttled_whether_the_address_is_taken_or_not(mail_app):
    app, outbox = mail_app(**REQUIRED_CONFIRMATION, AUTH_THROTTLE_MAIL_LIMIT=2)
    make_user(app, "ada@example.com")
    client = app.test_client()
    for email in ("ada@example.com", "new@example.com"):
        for _ in range(2):
            assert _register(client, email).status_code == 200
        refused = _register(client, email)
        assert refused.status_code == 429 and "Too many emails were asked for" in refused.text
    # Two notes to ada; two links to the new address (its second registration found it taken, not confirmed).
    assert len(outbox) == 4


def test_with_required_confirmation_a_registration_race_answers_as_a_new_account(mail_app, monkeypatch):
    """Both registrations pass the check before either inserts: the second's commit fails on the unique key, and
    it is answered as any taken address is (not with a form error that tells)."""
    from erlen_auth import accounts

    app, outbox = mail_app(**REQUIRED_CONFIRMATION)
    real, misses = accounts.find_user, [None, None]

    def racing(email, db=None):
        return misses.pop() if misses else real(email, db=db)

    monkeypatch.setattr(accounts, "find_user", racing)
    first = _register(app.test_client(), "ada@example.com")
    second = _register(app.test_client(), "ADA@example.com")
    assert first.status_code == second.status_code == 200
    assert "Check your email" in second.text and "exists already" not in second.text
    assert [m.subject for m in outbox] == ["Confirm your email address"] * 2  # the account is not confirmed yet


def test_without_required_confirmation_registration_says_the_address_is_taken(mail_app):
    """A new account is logged in at once there, which would tell anyway: the form says so, and mails nobody."""
    app, outbox = mail_app(AUTH_EMAIL_CONFIRMATION=True)
    make_user(app, "ada@example.com")
    taken = _register(app.test_client(), "ada@example.com")
    assert "An account with this email exists already." in taken.text
    assert len(outbox) == 0


def test_erlen_check_says_reset_is_off_without_mail(auth_app):
    app = auth_app()
    result = app.test_cli_runner().invoke(args=["check"])
    assert "auth.I001" in result.output
    assert "Password reset and email confirmation are off" in result.output


def test_reset_emails_are_throttled(mail_app):
    app, outbox = mail_app(AUTH_THROTTLE_MAIL_LIMIT=2)
    make_user(app, "ada@example.com")
    client = app.test_client()
    for _ in range(2):
        assert post_form(client, "/auth/reset", {"email": "ada@example.com"}).status_code == 200
    refused = post_form(client, "/auth/reset", {"email": "ADA@example.com"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many emails were asked for" in refused.text
    assert len(outbox) == 2
    # An unknown address is counted the same way, so the answer tells nothing.
    for _ in range(2):
        post_form(client, "/auth/reset", {"email": "nobody@example.com"})
    assert post_form(client, "/auth/reset", {"email": "nobody@example.com"}).status_code == 429


def test_a_token_does_not_give_away_the_password_hash(mail_app):
    import base64
    import hashlib
    import json

    app, outbox = mail_app()
    user = make_user(app, "ada@example.com")
    post_form(app.test_client(), "/auth/reset", {"email": "ada@example.com"})
    token = _link(outbox[0]).rsplit("/", 1)[1]
    payload = token.split(".")[0]
    state = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["state"]
    for unkeyed in (user.password_hash, f"{user.password_hash}|{user.session_token}|True"):
        assert state not in hashlib.sha256(unkeyed.encode()).hexdigest()
    assert user.password_hash not in token and user.session_token not in token


def test_check_deploy_requires_trusted_hosts_while_links_are_mailed(mail_app, auth_app):
    # Links are built from the Host header: without TRUSTED_HOSTS, "Host: evil.example" on a reset
    # request for someone else's address mails that person a link that gives evil.example the token.
    app, outbox = mail_app()
    make_user(app, "ada@example.com")
    attacker = app.test_client()
    page = attacker.get("/auth/reset", base_url="http://evil.example").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    attacker.post("/auth/reset", data={"email": "ada@example.com", "csrf_token": token}, base_url="http://evil.example")
    assert "http://evil.example/auth/reset/" in outbox[0].body
    found = {message.id: message for message in run_checks(app, deploy=True)}
    assert found["auth.E004"].level.name == "ERROR"
    assert "TRUSTED_HOSTS" in found["auth.E004"].message and "ERLEN_TRUSTED_HOSTS" in found["auth.E004"].hint
    assert "auth.E004" not in {message.id for message in run_checks(app)}
    assert "auth.E004" not in {message.id for message in run_checks(auth_app(), deploy=True)}  # no mail, no links


def test_with_trusted_hosts_a_request_for_another_host_is_refused_and_nothing_is_mailed(mail_app):
    app, outbox = mail_app(TRUSTED_HOSTS=["localhost"])
    assert "auth.E004" not in {message.id for message in run_checks(app, deploy=True)}
    make_user(app, "ada@example.com")
    attacker = app.test_client()
    assert attacker.get("/auth/reset", base_url="http://evil.example").status_code == 400
    response = attacker.post("/auth/reset", data={"email": "ada@example.com"}, base_url="http://evil.example")
    assert response.status_code == 400
    assert len(outbox) == 0
    assert post_form(app.test_client(), "/auth/reset", {"email": "ada@example.com"}).status_code == 200
    assert "http://localhost/auth/reset/" in outbox[0].body


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_reset_link_is_verified_once_per_request(mail_app, monkeypatch, method):
    from itsdangerous import URLSafeTimedSerializer

    app, outbox = mail_app()
    make_user(app, "ada@example.com")
    client = app.test_client()
    post_form(client, "/auth/reset", {"email": "ada@example.com"})
    link = _link(outbox[0])
    checked: list[str] = []
    real_loads = URLSafeTimedSerializer.loads

    def counting_loads(self, *args, **kwargs):
        checked.append(args[0])
        return real_loads(self, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "loads", counting_loads)
    if method == "GET":
        assert client.get(link).status_code == 200
    else:
        done = post_form(client, link, {"password": "a brand new password", "confirm": "a brand new password"})
        assert done.status_code == 302
    token = link.rsplit("/", 1)[1]
    assert checked.count(token) == 1  # (the session cookie is loaded with the same class: not counted)

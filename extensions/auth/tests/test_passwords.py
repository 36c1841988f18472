"""argon2id hashes, re-hashed on log-in when the parameters change; no account enumeration."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from auth_helpers import log_in, post_form

from erlen_auth import LoginThrottle, Passwords, User, state_of
from erlen_auth.accounts import LoginResult
from erlen_auth.views import LOGIN_REFUSED


def test_hashes_are_argon2id_with_a_salt():
    passwords = Passwords(time_cost=1, memory_cost=8, parallelism=1)
    first, second = passwords.hash("secret password"), passwords.hash("secret password")
    assert first.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert first != second
    assert passwords.verify(first, "secret password")
    assert not passwords.verify(first, "other password")
    assert not passwords.verify("not a hash", "secret password")
    assert not passwords.needs_rehash(first)
    assert Passwords(time_cost=2, memory_cost=8, parallelism=1).needs_rehash(first)
    assert passwords.needs_rehash("not a hash")


def test_the_settings_choose_the_parameters(auth_app):
    app = auth_app(config={"AUTH_ARGON2_TIME_COST": 2, "AUTH_ARGON2_MEMORY_COST": 16, "AUTH_ARGON2_PARALLELISM": 1})
    assert state_of(app).passwords.hash("x").startswith("$argon2id$v=19$m=16,t=2,p=1$")


def test_only_the_hash_is_stored(create_user, db_session):
    user = create_user("ada@example.com", password="a very secret one")
    row = db_session.execute(sa.select(User.password_hash).where(User.id == user.id)).scalar_one()
    assert "a very secret one" not in row
    assert row.startswith("$argon2id$")


def test_login_rehashes_when_the_parameters_change(client, create_user, db_session):
    user = create_user("ada@example.com")
    old = user.password_hash
    state_of(client.application).passwords = Passwords(time_cost=2, memory_cost=16, parallelism=1)
    assert log_in(client, "ada@example.com").status_code == 302
    db_session.expire_all()
    new = db_session.get(User, user.id).password_hash
    assert new != old
    assert new.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    # A second log-in with the same parameters keeps the hash.
    assert post_form(client, "/auth/logout").status_code == 302
    assert log_in(client, "ada@example.com").status_code == 302
    db_session.expire_all()
    assert db_session.get(User, user.id).password_hash == new


def test_the_same_message_for_an_unknown_email_and_a_wrong_password(client, create_user):
    create_user("ada@example.com")
    unknown = log_in(client, "nobody@example.com", "some password")
    wrong = log_in(client, "ada@example.com", "some password")
    assert unknown.status_code == wrong.status_code == 200
    assert LOGIN_REFUSED in unknown.text and LOGIN_REFUSED in wrong.text

    # The pages differ only by the CSRF tokens (in fields and in the passkey script's data attribute; they
    # carry a timestamp, so they differ whenever the clock passes a second between the pages) and the typed email.
    def strip(text: str, email: str) -> str:
        import re

        return re.sub(r'(value|data-csrf-token)="[^"]*"', "", text).replace(email, "")

    assert strip(unknown.text, "nobody@example.com") == strip(wrong.text, "ada@example.com")


def test_an_email_with_a_nul_character_is_refused_whether_or_not_the_account_exists(client, create_user):
    # PostgreSQL refuses NUL in a query: without care this garbage is a 500 there. erlen-forms refuses NUL in
    # any text field before the view runs, so the answer cannot tell a known email from an unknown one.
    create_user("ada@example.com")
    answers = [log_in(client, email, "some password") for email in ("ada@example.com\x00", "bob@example.com\x00")]
    assert [response.status_code for response in answers] == [200, 200]
    assert all("The text holds a character that is not allowed." in response.text for response in answers)
    # The CSRF tokens carry a timestamp: they differ whenever the clock passes a second between the pages.
    tokenless = [re.sub(r'(value|data-csrf-token)="[^"]*"', "", answer.text) for answer in answers]
    assert tokenless[0].replace("ada", "bob") == tokenless[1].replace("ada", "bob")


def test_an_inactive_account_gets_the_same_message(client, create_user):
    create_user("ada@example.com", active=False)
    response = log_in(client, "ada@example.com")
    assert response.status_code == 200
    assert LOGIN_REFUSED in response.text


def test_a_dummy_hash_is_verified_for_unknown_users(client, create_user, monkeypatch):
    create_user("ada@example.com")
    passwords = state_of(client.application).passwords
    calls: list[tuple[str, str]] = []
    real = passwords.hasher

    class SpyHasher:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, password_hash: str, password: str) -> bool:
            calls.append((password_hash, password))
            return bool(real.verify(password_hash, password))

    assert passwords.dummy_hash  # made before the spy is in place
    monkeypatch.setattr(passwords, "hasher", SpyHasher())
    log_in(client, "nobody@example.com", "guess one")
    assert calls == [(passwords.dummy_hash, "guess one")]
    calls.clear()
    log_in(client, "ada@example.com", "guess two")
    assert len(calls) == 1 and calls[0][1] == "guess two" and calls[0][0] != passwords.dummy_hash


def test_the_dummy_hash_has_the_current_parameters(auth_app):
    passwords = state_of(auth_app()).passwords
    assert not passwords.needs_rehash(passwords.dummy_hash)
    assert passwords.dummy_hash is passwords.dummy_hash


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("nobody@example.com", "x", "unknown"),
        ("ada@example.com", "wrong", "password"),
    ],
)
def test_authenticate_reports_the_reason_to_code_not_to_users(app, create_user, email, password, reason):
    from erlen_auth import authenticate

    create_user("ada@example.com")
    with app.test_request_context("/"):
        result = authenticate(email, password)
    assert result == LoginResult(None, reason)


def test_throttle_keys_do_not_hold_the_email():
    assert "ada" not in LoginThrottle._account("ada@example.com")

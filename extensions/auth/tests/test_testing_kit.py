"""The fixtures apps use to test with users."""

from __future__ import annotations

from auth_helpers import is_logged_in, set_cookies

from erlen_auth.testing import DEFAULT_PASSWORD, login_as


def test_create_user(create_user, db_session):
    user = create_user("ada@example.com", roles=["editor"], superuser=True)
    assert user.id is not None and user.is_superuser and user.email_confirmed_at is not None
    assert [role.name for role in user.roles] == ["editor"]
    assert create_user("bob@example.com", roles=["editor"]).roles[0].id == user.roles[0].id
    assert create_user().email == "user@example.com"


def test_login_as_logs_a_client_in_without_the_form(client, create_user):
    user = create_user("ada@example.com")
    assert not is_logged_in(client)
    assert login_as(client, user) is client
    assert is_logged_in(client)


def test_login_as_remember(client, create_user):
    user = create_user("ada@example.com")
    login_as(client, user, remember=True)
    client.delete_cookie("session")
    assert is_logged_in(client)


def test_login_as_fixture(client, create_user, login_as):
    login_as(client, create_user("ada@example.com"))
    assert is_logged_in(client)


def test_the_default_password_logs_in(client, create_user):
    from auth_helpers import log_in

    create_user("ada@example.com")
    response = log_in(client, "ada@example.com", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert "session" in set_cookies(response)

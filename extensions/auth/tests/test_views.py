"""Registration, the extensible registration form, change of password, and overridable templates."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form

from erlen_auth import User, find_user
from erlen_forms.testing import assert_csrf_protected

NEW = {"email": "Ada@Example.com", "password": "long enough password", "confirm": "long enough password"}


def test_pages_render_through_the_real_views(client, db_session):
    for path, text in [("/auth/login", "Log in"), ("/auth/register", "Create an account")]:
        response = client.get(path)
        assert response.status_code == 200
        assert text in response.text
        assert 'name="csrf_token"' in response.text
    assert 'autocomplete="current-password"' in client.get("/auth/login").text
    assert 'autocomplete="new-password"' in client.get("/auth/register").text


def test_register_creates_a_user_and_logs_in(client, db_session):
    response = post_form(client, "/auth/register", NEW)
    assert response.status_code == 302, response.text
    assert is_logged_in(client)
    user = db_session.scalar(sa.select(User))
    assert user.email == "Ada@Example.com"
    assert user.email_key == "ada@example.com"
    assert user.is_active and not user.is_superuser
    assert user.created_at is not None and user.last_login_at is not None
    assert user.email_confirmed_at is None


def test_register_refuses_an_existing_email_whatever_its_case(client, create_user):
    create_user("ada@example.com")
    response = post_form(client, "/auth/register", NEW)
    assert response.status_code == 200
    assert "An account with this email exists already." in response.text
    assert not is_logged_in(client)


@pytest.mark.parametrize(
    ("existing", "typed"),
    [
        ("ada@example.com", "\uff21\uff24\uff21@example.com"),  # full-width letters
        ("jos\u00e9@example.com", "Jose\u0301@example.com"),  # a composed accent, then a decomposed one
        ("fiona@example.com", "\ufb01ona@example.com"),  # the "fi" ligature
    ],
)
def test_register_refuses_an_address_that_reads_like_an_existing_one(client, create_user, existing, typed):
    create_user(existing)
    response = post_form(client, "/auth/register", {**NEW, "email": typed})
    assert response.status_code == 200
    assert "An account with this email exists already." in response.text
    assert not is_logged_in(client)


# 20 characters that NFKC expands to 18 each: a valid address of 32 characters whose key has 372, more than
# the 254 the email_key column holds (PostgreSQL refuses the insert; SQLite would keep a key no other check expects).
LONG_KEY_EMAIL = "\ufdfa" * 20 + "@example.com"


def test_register_refuses_an_address_whose_key_is_too_long(client, db_session):
    response = post_form(client, "/auth/register", {**NEW, "email": LONG_KEY_EMAIL})
    assert response.status_code == 200, response.text
    assert "too long once normalised" in response.text
    assert not is_logged_in(client)
    assert db_session.scalar(sa.select(User)) is None


def test_log_in_with_the_address_spelled_another_way(client, create_user, db_session):
    create_user("jos\u00e9@example.com")
    response = log_in(client, "JOSE\u0301@EXAMPLE.COM")
    assert response.status_code == 302, response.text
    assert is_logged_in(client)
    assert find_user("\uff4a\uff4f\uff53é@example.com", db=db_session) is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password": "short", "confirm": "short"}, "Use at least 10 characters."),
        ({"confirm": "something else entirely"}, "The passwords differ."),
        ({"email": "not an email"}, "Invalid email address."),
    ],
)
def test_register_validates(client, db_session, changes, message):
    response = post_form(client, "/auth/register", {**NEW, **changes})
    assert response.status_code == 200
    assert message in response.text
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_registration_can_be_turned_off(auth_app):
    app = auth_app(config={"AUTH_REGISTRATION_ENABLED": False})
    assert app.test_client().get("/auth/register").status_code == 404
    assert "Create an account" not in app.test_client().get("/auth/login").text


def test_email_uniqueness_ignores_case_in_the_database(app, db_session):
    with app.app_context():
        db_session.add(User(email="ada@example.com", password_hash="x"))
        db_session.commit()
        db_session.add(User(email="ADA@EXAMPLE.COM", password_hash="x"))
        with pytest.raises(sa.exc.IntegrityError):
            db_session.commit()
        db_session.rollback()
        assert find_user(" ADA@example.COM ", db=db_session).email == "ada@example.com"


def test_times_are_recorded(client, create_user, db_session):
    user = create_user("ada@example.com")
    assert user.created_at is not None and user.last_login_at is None
    log_in(client, "ada@example.com")
    db_session.expire_all()
    last = db_session.get(User, user.id).last_login_at
    assert last is not None
    now = dt.datetime.now(dt.UTC)
    assert abs(now - (last if last.tzinfo else last.replace(tzinfo=dt.UTC))) < dt.timedelta(minutes=5)


def test_change_password_page(client, create_user):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    page = client.get("/auth/password")
    assert "Change your password" in page.text
    response = post_form(client, "/auth/password", {"current": "correct horse battery staple", "password": "x"})
    assert "Use at least 10 characters." in response.text


def test_every_state_changing_route_is_csrf_protected(auth_app, db_session_for):
    app = auth_app(["auth_sample_plugins.blog"])
    db_session_for(app)
    results = assert_csrf_protected(app)
    assert {result.endpoint for result in results} >= {"auth.login", "auth.logout", "auth.register"}


def test_login_without_a_csrf_token_is_refused(client, create_user):
    create_user("ada@example.com")
    response = client.post("/auth/login", data={"email": "ada@example.com", "password": "correct horse battery staple"})
    assert response.status_code == 400
    assert not is_logged_in(client)


def test_the_app_overrides_templates(auth_app, tmp_path, db_session_for):
    folder = tmp_path / "templates" / "auth"
    folder.mkdir(parents=True)
    (folder / "base.html").write_text("<div id='app-layout'>{% block content %}{% endblock %}</div>")
    app = auth_app(root_path=str(tmp_path))
    db_session_for(app)
    page = app.test_client().get("/auth/login")
    assert "<div id='app-layout'>" in page.text
    assert "Log in" in page.text


def test_the_prefix_is_a_setting(auth_app, db_session_for):
    app = auth_app(config={"AUTH_URL_PREFIX": "/account"})
    db_session_for(app)
    assert app.test_client().get("/account/login").status_code == 200


# -- plugins extend registration ----------------------------------------------------------------------------


@pytest.fixture
def erlen_plugins(request):
    return ["db", "forms", "auth", *getattr(request, "param", ())]


@pytest.mark.parametrize("erlen_plugins", [["auth_sample_plugins.blog"]], indirect=True)
def test_plugins_extend_the_registration_form_and_hear_of_registrations(app, client, db_session):
    page = client.get("/auth/register")
    assert 'name="nickname"' in page.text
    refused = post_form(client, "/auth/register", NEW)
    assert "This field is required." in refused.text
    response = post_form(client, "/auth/register", {**NEW, "nickname": "ada"})
    assert response.status_code == 302
    assert ("registered", "Ada@Example.com", "ada") in app.extensions["blog_events"]


@pytest.mark.parametrize("erlen_plugins", [["auth_sample_plugins.profile"]], indirect=True)
def test_apps_extend_users_with_a_profile_table(app, client, db_session):
    from auth_sample_plugins.profile import Profile

    post_form(client, "/auth/register", {**NEW, "display_name": "Ada L."})
    profile = db_session.scalar(sa.select(Profile))
    assert profile.display_name == "Ada L."
    assert profile.user.email == "Ada@Example.com"


def test_a_registration_race_is_a_form_error_not_a_500(client, db_session, monkeypatch):
    from erlen_auth import accounts

    real, misses = accounts.find_user, [None, None]

    def racing(email, db=None):  # both registrations pass the check before either inserts
        return misses.pop() if misses else real(email, db=db)

    monkeypatch.setattr(accounts, "find_user", racing)
    assert post_form(client, "/auth/register", NEW).status_code == 302
    client.delete_cookie("session")
    response = post_form(client, "/auth/register", {**NEW, "email": "ADA@example.COM"})
    assert response.status_code == 200
    assert "An account with this email exists already." in response.text


def test_account_pages_are_not_cached_and_send_no_referrer(client, db_session):
    response = client.get("/auth/login")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_account_pages_may_not_be_framed(client, db_session):
    # Clickjacking: a page of another site must not lay the log-in form, or a button of ours, under its own.
    for path in ("/auth/login", "/auth/register", "/auth/login?next=/x"):
        assert client.get(path).headers["X-Frame-Options"] == "DENY"

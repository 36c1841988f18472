"""Sessions: rotated at log-in, cleared at log-out, and ended everywhere by the per-user token."""

from __future__ import annotations

import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form, set_cookies

from erlen_auth.models import LoginSession
from erlen_auth.sessions import hash_key

from erlen_forms.csrf import SESSION_KEY as CSRF_SESSION_KEY
from erlen_forms.testing import csrf_token_for


def test_login_rotates_the_session_no_fixation(client, create_user, db_session):
    user = create_user("ada@example.com")
    old_token = csrf_token_for(client)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        old_secret = session[CSRF_SESSION_KEY]
    response = log_in(client, "ada@example.com")
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get(CSRF_SESSION_KEY) != old_secret
        key = session["_user_id"]
    assert [row.user_id for row in db_session.scalars(sa.select(LoginSession))] == [user.id]
    assert db_session.scalar(sa.select(LoginSession.key_hash)) == hash_key(key)
    # The CSRF token issued before the log-in no longer works; a new secret is issued.
    refused = client.post("/auth/logout", data={"csrf_token": old_token})
    assert refused.status_code == 400
    assert csrf_token_for(client) != old_token
    with client.session_transaction() as session:
        assert session[CSRF_SESSION_KEY] != old_secret


def test_login_sets_a_new_session_cookie(client, create_user):
    create_user("ada@example.com")
    csrf_token_for(client)
    before = client.get_cookie("session").value
    log_in(client, "ada@example.com")
    assert client.get_cookie("session").value != before


def test_logout_clears_the_session(client, create_user):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    with client.session_transaction() as session:
        session["cart"] = "something"
    response = post_form(client, "/auth/logout")
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "_user_id" not in session
        assert "cart" not in session
    assert not is_logged_in(client)


def test_logout_is_post_only(client, create_user):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    assert client.get("/auth/logout").status_code == 405
    assert is_logged_in(client)


def test_logout_needs_a_csrf_token(client, create_user):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    assert client.post("/auth/logout").status_code == 400
    assert is_logged_in(client)


def test_remember_me_survives_the_end_of_the_session(client, create_user):
    create_user("ada@example.com")
    response = log_in(client, "ada@example.com", remember=True)
    assert "remember_token" in set_cookies(response)
    client.delete_cookie("session")
    assert is_logged_in(client)


def test_without_remember_me_the_session_is_all(client, create_user):
    create_user("ada@example.com")
    response = log_in(client, "ada@example.com")
    assert "remember_token" not in set_cookies(response)
    client.delete_cookie("session")
    assert not is_logged_in(client)


def test_logout_clears_the_remember_cookie(client, create_user):
    create_user("ada@example.com")
    log_in(client, "ada@example.com", remember=True)
    response = post_form(client, "/auth/logout")
    assert "remember_token=;" in set_cookies(response)["remember_token"]
    assert client.get_cookie("remember_token") is None
    assert not is_logged_in(client)


def _two_sessions(app, create_user):
    user = create_user("ada@example.com")
    here, elsewhere, remembered = app.test_client(), app.test_client(), app.test_client()
    log_in(here, "ada@example.com")
    log_in(elsewhere, "ada@example.com")
    log_in(remembered, "ada@example.com", remember=True)
    remembered.delete_cookie("session")  # only the remember-me cookie is left
    assert is_logged_in(here) and is_logged_in(elsewhere) and is_logged_in(remembered)
    return user, here, elsewhere, remembered


def test_password_change_ends_every_other_session(app, create_user):
    _, here, elsewhere, remembered = _two_sessions(app, create_user)
    response = post_form(
        here,
        "/auth/password",
        {
            "current": "correct horse battery staple",
            "password": "a new long password",
            "confirm": "a new long password",
        },
    )
    assert response.status_code == 302, response.text
    assert is_logged_in(here)
    assert not is_logged_in(elsewhere)
    assert not is_logged_in(remembered)
    assert log_in(elsewhere, "ada@example.com", "a new long password").status_code == 302


def test_password_change_needs_the_current_password(app, create_user):
    _, here, elsewhere, _ = _two_sessions(app, create_user)
    response = post_form(
        here,
        "/auth/password",
        {"current": "wrong", "password": "a new long password", "confirm": "a new long password"},
    )
    assert response.status_code == 200
    assert "This is not your current password." in response.text
    assert is_logged_in(elsewhere)


def test_logout_everywhere_ends_every_other_session_and_cookie(app, create_user):
    _, here, elsewhere, remembered = _two_sessions(app, create_user)
    assert here.get("/auth/logout-everywhere").status_code == 200
    response = post_form(here, "/auth/logout-everywhere")
    assert response.status_code == 302
    assert is_logged_in(here)
    assert not is_logged_in(elsewhere)
    assert not is_logged_in(remembered)


def test_logout_everywhere_keeps_the_remember_cookie_of_this_browser(app, create_user):
    create_user("ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com", remember=True)
    post_form(client, "/auth/logout-everywhere")
    client.delete_cookie("session")
    assert is_logged_in(client)


def test_a_deactivated_user_is_logged_out(app, create_user, db_session):
    user = create_user("ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    user.is_active = False
    db_session.commit()
    assert not is_logged_in(client)


def test_a_forged_user_id_is_refused(app, create_user):
    user = create_user("ada@example.com")
    client = app.test_client()
    for forged in (str(user.id), f"{user.id}:", f"{user.id}:guess", "x:y", ""):
        with client.session_transaction() as session:
            session["_user_id"] = forged
        assert not is_logged_in(client), forged


def test_malformed_user_ids_are_refused_not_a_500(app, create_user):
    from flask_login.utils import encode_cookie

    user = create_user("ada@example.com")
    # Only the app writes these (the session and the remember-me cookie are signed), but a bad one is no 500.
    for forged in ("\u00b2:x", "\u0661:x", "99999999999999999999:x", "9" * 1000 + ":x", f"-{user.id}:x"):
        with app.test_request_context():
            remembered = encode_cookie(forged)
        in_session, in_cookie = app.test_client(), app.test_client()
        with in_session.session_transaction() as session:
            session["_user_id"] = forged
        in_cookie.set_cookie("remember_token", remembered)
        assert not is_logged_in(in_session), forged
        assert not is_logged_in(in_cookie), forged


def test_garbage_session_and_remember_cookies_are_ignored_not_a_500(app, create_user):
    create_user("ada@example.com")
    for name, value in [
        ("remember_token", "garbage"),
        ("remember_token", "1:x|0000"),
        ("remember_token", "|"),
        ("remember_token", "\u00e9t\u00e9|\u00e9t\u00e9"),  # Flask-Login's digest check raises on non-ASCII
        ("remember_token", "a" * 3000),
        ("session", "garbage"),
        ("session", "\u00e9t\u00e9.x.y"),
    ]:
        client = app.test_client()
        client.set_cookie(name, value)
        assert not is_logged_in(client), (name, value)


def test_login_without_remember_me_clears_a_remember_cookie_left_in_the_browser(app, create_user):
    create_user("ada@example.com")
    create_user("bob@example.com")
    client = app.test_client()
    log_in(client, "bob@example.com", remember=True)  # or a cookie of Bob's planted in Ada's browser
    response = log_in(client, "ada@example.com")
    assert "remember_token=;" in set_cookies(response)["remember_token"]
    assert client.get_cookie("remember_token") is None
    client.delete_cookie("session")  # the browser closes: nobody is logged in, Bob least of all
    assert not is_logged_in(client)


def test_protected_views_send_anonymous_users_to_log_in_with_next(client, db_session):
    response = client.get("/auth/password?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/auth/password?x%3D1"
    page = client.get(response.headers["Location"])
    assert 'name="next" type="hidden" value="/auth/password?x=1"' in page.text
    json = client.get("/auth/password", headers={"Accept": "application/json"})
    assert json.status_code == 401

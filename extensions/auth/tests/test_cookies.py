"""Cookies: HttpOnly, SameSite=Lax, Secure unless in debug; erlen check --deploy refuses Secure off."""

from __future__ import annotations

from auth_helpers import log_in, set_cookies

from erlen.checks import Level, run_checks


def test_session_and_remember_cookies_are_httponly_lax_and_secure(client, create_user):
    create_user("ada@example.com")
    cookies = set_cookies(log_in(client, "ada@example.com", remember=True))
    for name in ("session", "remember_token"):
        header = cookies[name]
        assert "HttpOnly" in header, header
        assert "SameSite=Lax" in header, header
        assert "Secure" in header, header


def test_secure_is_off_in_debug(auth_app, db_session_for):
    app = auth_app(config={"DEBUG": True})
    db_session_for(app)
    from erlen_auth.testing import make_user

    make_user(app, "ada@example.com")
    client = app.test_client()
    cookies = set_cookies(log_in(client, "ada@example.com", remember=True))
    assert "Secure" not in cookies["session"]
    assert "Secure" not in cookies["remember_token"]
    assert "HttpOnly" in cookies["session"] and "SameSite=Lax" in cookies["session"]


def test_debug_turned_on_after_the_app_is_made_is_noticed(auth_app, db_session_for):
    app = auth_app()
    app.debug = True  # as `erlen run --debug` does
    db_session_for(app)
    from erlen_auth.testing import make_user

    make_user(app, "ada@example.com")
    cookies = set_cookies(log_in(app.test_client(), "ada@example.com"))
    assert "Secure" not in cookies["session"]


def test_cookie_settings_the_app_configures_are_kept(auth_app, db_session_for):
    app = auth_app(config={"SESSION_COOKIE_SAMESITE": "Strict", "REMEMBER_COOKIE_SECURE": False})
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert app.config["REMEMBER_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def test_check_deploy_refuses_insecure_cookies(auth_app):
    app = auth_app(config={"SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})
    found = {message.id: message for message in run_checks(app, deploy=True)}
    assert found["auth.E001"].level == Level.ERROR
    assert found["auth.E002"].level == Level.ERROR
    assert "auth.E001" not in {message.id for message in run_checks(app, deploy=False)}


def test_check_deploy_accepts_the_defaults(auth_app):
    app = auth_app()
    ids = {message.id for message in run_checks(app, deploy=True)}
    assert not ids & {"auth.E001", "auth.E002", "auth.W003"}
    assert "auth.I002" in ids  # the throttle counts per process

"""Cookies: HttpOnly, SameSite=Lax, Secure unless in debug; erlen check --deploy refuses Secure off."""

from __future__ import annotations

from auth_helpers import log_in, post_form, set_cookies

from erlen.checks import Level, run_checks


def test_session_and_remember_cookies_are_httponly_lax_and_secure(client, create_user):
    create_user("ada@example.com")
    cookies = set_cookies(log_in(client, "ada@example.com", remember=True))
    for name in ("session", "remember_token"):
        header = cookies[name]
        assert "HttpOnly" in header, header
        assert "SameSite=Lax" in header, header
        assert "Secure" in header, header


def test_the_session_cookie_of_a_logged_in_user_is_not_compressed(client, create_user):
    """What the session holds after a log-in (its key, the new CSRF secret) is left uncompressed (a compressed
    cookie starts with "."), so no request inflates it: with the secret in hexadecimal it always compressed, and
    with random base64 it sometimes did, by the luck of its values (erlen.cookie_sessions.COMPRESS_FROM)."""
    create_user("ada@example.com")
    session_cookie = set_cookies(log_in(client, "ada@example.com"))["session"]
    assert session_cookie.startswith("session=") and not session_cookie.startswith("session=."), session_cookie


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


def test_a_page_that_does_not_use_the_session_is_not_marked_as_varying_by_cookie(auth_app):
    # Flask-Login's after-request function read the session on every response: Flask then added "Vary: Cookie"
    # (and saved the session) even for a public page that never touched it, so no cache could keep the page.
    app = auth_app()

    @app.get("/public")
    def public() -> str:
        return "hello"

    response = app.test_client().get("/public")
    assert response.status_code == 200
    assert "Cookie" not in response.headers.get("Vary", "")
    assert response.headers.get("Set-Cookie") is None


def test_remember_cookie_is_still_set_at_log_in_and_cleared_at_log_out(client, create_user):
    create_user("ada@example.com")
    assert "remember_token" in set_cookies(log_in(client, "ada@example.com", remember=True))
    assert client.get("/auth/password").status_code == 200
    logged_out = set_cookies(post_form(client, "/auth/logout"))
    assert "remember_token=;" in logged_out["remember_token"]
    assert client.get_cookie("remember_token") is None


def test_remember_cookie_refreshed_on_each_request_when_asked(auth_app, db_session_for):
    app = auth_app(config={"REMEMBER_COOKIE_REFRESH_EACH_REQUEST": True})
    db_session_for(app)
    from erlen_auth.testing import make_user

    make_user(app, "ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com", remember=True)
    assert "remember_token" in set_cookies(client.get("/auth/password"))

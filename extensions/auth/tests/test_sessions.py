"""Sessions: a log-in session row per log-in, rotated at log-in, deleted at log-out, ended by password changes."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form, set_cookies

from erlen_auth.models import LoginSession
from erlen_auth.sessions import hash_key, utc
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
    page = here.get("/auth/logout-everywhere")
    assert page.status_code == 200
    assert '<button type="submit" class="erlen-button-danger">Log out everywhere else</button>' in page.text
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
    user.is_active = False  # as the admin's form does, not through erlen_auth.deactivate
    db_session.commit()
    assert not is_logged_in(client)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 0
    user.is_active = True
    db_session.commit()
    assert not is_logged_in(client)  # activated again, the old cookies stay dead


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


# Log-in sessions kept on the server: a cookie is worth what its auth_session row is.


def _copy_cookie(source, target, name: str) -> None:
    """Give ``target`` the cookie ``name`` of ``source``, as a thief or a shared computer would."""
    cookie = source.get_cookie(name)
    assert cookie is not None, name
    target.set_cookie(name, cookie.value)


def test_a_session_cookie_copied_before_log_out_is_refused_after_it(app, create_user):
    create_user("ada@example.com")
    browser, copy = app.test_client(), app.test_client()
    log_in(browser, "ada@example.com")
    _copy_cookie(browser, copy, "session")
    assert is_logged_in(copy)
    post_form(browser, "/auth/logout")
    assert not is_logged_in(browser)
    assert not is_logged_in(copy)


def test_a_remember_cookie_copied_before_log_out_is_refused_after_it(app, create_user):
    create_user("ada@example.com")
    browser, copy = app.test_client(), app.test_client()
    log_in(browser, "ada@example.com", remember=True)
    _copy_cookie(browser, copy, "remember_token")  # the remember-me cookie alone, no session
    assert is_logged_in(copy)
    post_form(browser, "/auth/logout")
    assert not is_logged_in(copy)
    # Logging in again makes a new session: the old cookie stays dead.
    log_in(browser, "ada@example.com", remember=True)
    copy.delete_cookie("session")
    assert not is_logged_in(copy)


def test_each_log_in_makes_a_session_row_with_the_device_and_log_out_deletes_it(app, create_user, db_session):
    user = create_user("ada@example.com")
    browser = app.test_client()
    browser.environ_base.update(HTTP_USER_AGENT="Firefox/140 " + "x" * 400, REMOTE_ADDR="192.0.2.7")
    log_in(browser, "ada@example.com")
    row = db_session.scalars(sa.select(LoginSession)).one()
    assert (row.user_id, row.address) == (user.id, "192.0.2.7")
    assert row.user_agent.startswith("Firefox/140 ") and len(row.user_agent) == 255
    assert row.created_at is not None and row.last_seen_at is not None
    with browser.session_transaction() as session:
        assert hash_key(session["_user_id"]) == row.key_hash  # the cookie has the key, the table only its hash
    assert len(row.key_hash) == 64 and row.key_hash not in str(row.id)
    log_in(browser, "ada@example.com")  # a new log-in on the same browser replaces its session
    rows = db_session.scalars(sa.select(LoginSession).execution_options(populate_existing=True)).all()
    assert len(rows) == 1 and rows[0].id != row.id
    post_form(browser, "/auth/logout")
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 0


def test_password_change_keeps_this_browser_in_a_new_session_and_ends_the_others(app, create_user, db_session):
    _, here, elsewhere, remembered = _two_sessions(app, create_user)
    copy = app.test_client()
    _copy_cookie(here, copy, "session")
    change = {"current": "correct horse battery staple", "password": "a new long password"}
    response = post_form(here, "/auth/password", {**change, "confirm": change["password"]})
    assert response.status_code == 302
    assert is_logged_in(here)
    assert not is_logged_in(copy)  # this browser's session was rotated: its old key is dead
    assert not is_logged_in(elsewhere) and not is_logged_in(remembered)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 1


def test_a_password_reset_ends_every_session(auth_app, db_session_for):
    pytest.importorskip("erlen_mail", reason="erlen-mail is not installed: reset needs it")
    from flask import url_for

    from erlen_auth import tokens
    from erlen_auth.testing import make_user

    app = auth_app(["mail"], {"MAIL_DEFAULT_SENDER": "noreply@example.com"})
    db = db_session_for(app)
    user = make_user(app, "ada@example.com")
    here, remembered = app.test_client(), app.test_client()
    log_in(here, "ada@example.com")
    log_in(remembered, "ada@example.com", remember=True)
    remembered.delete_cookie("session")
    with app.test_request_context():
        link = url_for("auth.reset_password", token=tokens.make_token(tokens.RESET, user))
    done = post_form(here, link, {"password": "a brand new password", "confirm": "a brand new password"})
    assert done.status_code == 302
    assert not is_logged_in(here) and not is_logged_in(remembered)
    assert db.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 0


def test_deactivating_a_user_ends_every_session(app, create_user, db_session):
    from erlen_auth import deactivate

    user = create_user("ada@example.com")
    browser = app.test_client()
    log_in(browser, "ada@example.com", remember=True)
    with app.app_context():
        deactivate(user, db=db_session)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 0
    user.is_active = True  # even let back in, the old cookies log nobody in
    db_session.commit()
    assert not is_logged_in(browser)


def test_a_logged_in_request_costs_one_query(app, create_user, count_queries):
    create_user("ada@example.com")
    browser = app.test_client()
    log_in(browser, "ada@example.com")
    with count_queries() as counted:
        assert browser.get("/auth/password").status_code == 200
    assert counted.count == 1, counted


def test_a_remembered_request_costs_one_query(app, create_user, count_queries):
    create_user("ada@example.com")
    browser = app.test_client()
    log_in(browser, "ada@example.com", remember=True)
    browser.delete_cookie("session")
    with count_queries() as counted:
        assert browser.get("/auth/password").status_code == 200
    assert counted.count == 1, counted


def _age(db_session, **ago: float) -> None:
    """Make every session look last used ``ago`` (timedelta arguments) in the past."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(**ago)
    db_session.execute(sa.update(LoginSession).values(last_seen_at=past))
    db_session.commit()


def _last_seen(db_session) -> dt.datetime:
    return utc(db_session.scalars(sa.select(LoginSession).execution_options(populate_existing=True)).one().last_seen_at)


def test_last_seen_is_written_at_most_once_an_interval(app, create_user, db_session, count_queries):
    create_user("ada@example.com")
    browser = app.test_client()
    log_in(browser, "ada@example.com")
    logged_in_at = _last_seen(db_session)
    assert is_logged_in(browser)
    assert _last_seen(db_session) == logged_in_at  # used again within AUTH_LAST_SEEN_INTERVAL: not written
    _age(db_session, seconds=app.config["AUTH_LAST_SEEN_INTERVAL"] + 1)
    aged = _last_seen(db_session)
    with count_queries() as counted:
        assert is_logged_in(browser)
    assert counted.count == 2, counted  # the look-up and one UPDATE
    assert _last_seen(db_session) > aged
    with count_queries() as counted:
        assert is_logged_in(browser)
    assert counted.count == 1, counted


@pytest.mark.parametrize("remember", [False, True])
def test_a_session_unused_for_longer_than_the_remember_days_is_refused(app, create_user, db_session, remember):
    create_user("ada@example.com")
    browser = app.test_client()
    log_in(browser, "ada@example.com", remember=remember)
    _age(db_session, days=app.config["AUTH_REMEMBER_DAYS"], seconds=-60)
    assert is_logged_in(browser)
    _age(db_session, days=app.config["AUTH_REMEMBER_DAYS"], seconds=60)
    assert not is_logged_in(browser)


def test_idle_sessions_are_purged_at_the_next_log_in_and_by_the_command(app, create_user, db_session):
    create_user("ada@example.com")
    create_user("bob@example.com")
    for email in ("ada@example.com", "bob@example.com", "bob@example.com"):
        log_in(app.test_client(), email)
    _age(db_session, days=app.config["AUTH_REMEMBER_DAYS"], seconds=60)
    log_in(app.test_client(), "ada@example.com")  # purges Ada's idle session, not Bob's
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 3
    result = app.test_cli_runner().invoke(args=["user", "sessions", "purge"])
    assert result.exit_code == 0, result.output
    assert "Purged 2 log-in sessions unused for more than 30 days." in result.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 1


def test_get_id_without_a_log_in_session_says_how_to_log_in(app, create_user):
    from erlen_auth import AuthError

    user = create_user("ada@example.com")
    with pytest.raises(AuthError, match=r"erlen_auth.login\(user\)"):
        user.get_id()


def _app_whose_views_use_the_database_first(auth_app):
    from flask_login import current_user

    from erlen_auth import Role
    from erlen_auth.testing import make_user
    from erlen_db import get_session

    app = auth_app(create_all=True)

    @app.get("/reads-then-commits")
    def reads_then_commits() -> str:
        get_session().execute(sa.select(1))
        get_session().commit()
        return str(current_user.email)

    @app.get("/writes-without-commit")
    def writes_without_commit() -> str:
        get_session().add(Role(name="never-committed"))
        get_session().flush()
        return str(current_user.email)

    make_user(app, "ada@example.com")
    return app


@pytest.mark.parametrize("path", ["/reads-then-commits", "/writes-without-commit"])
def test_last_seen_is_written_after_a_view_that_used_the_database_first_and_commits_none_of_its_work(auth_app, path):
    from erlen_auth import Role
    from erlen_db import database_of

    app = _app_whose_views_use_the_database_first(auth_app)
    browser = app.test_client()
    log_in(browser, "ada@example.com")
    with database_of(app).session_scope() as db:
        _age(db, seconds=app.config["AUTH_LAST_SEEN_INTERVAL"] + 60)
        aged = _last_seen(db)
    assert browser.get(path).text == "ada@example.com"
    with database_of(app).session_scope() as db:
        assert db.scalar(sa.select(Role).where(Role.name == "never-committed")) is None
        if path == "/writes-without-commit" and db.get_bind().dialect.name == "sqlite":
            # The view's open write transaction holds the file's one write lock: a later request records it.
            assert _last_seen(db) == aged
        else:
            assert _last_seen(db) > aged


def _app_whose_views_use_the_logged_in_user(auth_app):
    from flask_login import current_user

    from erlen_auth import User
    from erlen_auth.testing import make_user
    from erlen_db import get_session

    app = auth_app(create_all=True)

    @app.get("/loaded-first")
    def loaded_first() -> str:
        # The view loads the user before Flask-Login does: the loader gives back the session's instance.
        mine = get_session().scalar(sa.select(User).where(User.email == "ada@example.com"))
        return str(mine is current_user._get_current_object())

    @app.get("/roles")
    def roles() -> str:
        return ",".join(role.name for role in current_user.roles)

    @app.post("/rename")
    def rename() -> str:
        current_user.set_email("ada.lovelace@example.com")
        get_session().commit()
        return "renamed"

    make_user(app, "ada@example.com", roles=["editor"])
    return app


def test_the_loaded_user_behaves_as_one_the_orm_loaded(auth_app):
    # The user loader reads the user's columns with a Core statement and attaches the user to the request's
    # session: the view's own query gives the same instance, relationships load lazily, changes are saved.
    from erlen_auth import User
    from erlen_db import database_of

    app = _app_whose_views_use_the_logged_in_user(auth_app)
    browser = app.test_client()
    log_in(browser, "ada@example.com")
    assert browser.get("/loaded-first").text == "True"
    assert browser.get("/roles").text == "editor"
    assert post_form(browser, "/rename").text == "renamed"
    with database_of(app).session_scope() as db:
        assert db.scalars(sa.select(User.email)).all() == ["ada.lovelace@example.com"]
    assert browser.get("/roles").text == "editor"  # still logged in: the same log-in session


def test_a_page_that_only_shows_the_user_makes_no_orm_session(auth_app):
    # The loader reads on the request's connection and the user waits to join the session: a page that needs
    # nothing else of the database never builds the ORM session (its cost is most of such a page's database work).
    from flask_login import current_user

    from erlen_auth.testing import make_user
    from erlen_db import database_of

    app = auth_app(create_all=True)
    database = database_of(app)

    @app.get("/whoami")
    def whoami() -> str:
        return f"{current_user.email} {database.current_session is None}"

    make_user(app, "ada@example.com", roles=["editor"])
    browser = app.test_client()
    log_in(browser, "ada@example.com")
    assert browser.get("/whoami").text == "ada@example.com True"
    assert database.engine.pool.checkedout() == 0


def test_the_template_context_of_a_page_imports_nothing(auth_app):
    # Every rendered page runs the context processors; an import statement in one cost every page a trip
    # through the import machinery (some fifteen thousand instructions).
    import builtins

    from flask_login import current_user

    app = auth_app()
    imported: list[str] = []
    real_import = builtins.__import__

    def counting_import(name, *args, **kwargs):
        imported.append(name)
        return real_import(name, *args, **kwargs)

    with app.test_request_context("/"):
        app.update_template_context({})  # a first page may import what is used once, as plugins do lazily
        context: dict[str, object] = {}
        builtins.__import__ = counting_import
        try:
            app.update_template_context(context)
        finally:
            builtins.__import__ = real_import
    assert context["current_user"] is current_user
    assert imported == []


def _client_headers(address: str, agent: str) -> dict[str, t.Any]:
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": {"User-Agent": agent}}


def test_a_session_keeps_working_and_fresh_from_another_address_and_browser(app, create_user):
    """Flask-Login's session protection is off by default: a phone moving between networks stays logged in,
    and the session cookie does not carry Flask-Login's 128-character identifier of the address and browser."""
    create_user("ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com", **_client_headers("192.0.2.1", "Firefox"))
    with client.session_transaction() as session:
        assert session["_id"] == ""
        assert session["_fresh"] is True
    page = client.get("/auth/password", **_client_headers("198.51.100.7", "Firefox on a phone"))
    assert page.status_code == 200
    with client.session_transaction() as session:
        assert session["_fresh"] is True


@pytest.mark.parametrize("mode", ["basic", "strong"])
def test_session_protection_configured_as_in_flask_login(auth_app, db_session_for, mode):
    app = auth_app(config={"SESSION_PROTECTION": mode})
    db_session_for(app)
    from erlen_auth.testing import make_user

    make_user(app, "ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com", **_client_headers("192.0.2.1", "Firefox"))
    with client.session_transaction() as session:
        assert len(session["_id"]) == 128  # Flask-Login's SHA-512 of the address and browser
    assert client.get("/auth/password", **_client_headers("192.0.2.1", "Firefox")).status_code == 200
    elsewhere = client.get("/auth/password", **_client_headers("198.51.100.7", "Firefox"))
    if mode == "basic":
        assert elsewhere.status_code == 200
        with client.session_transaction() as session:
            assert session["_fresh"] is False
    else:
        assert elsewhere.status_code == 302  # logged out
        assert not is_logged_in(client)

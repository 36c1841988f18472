"""The notification hooks: registered, logged in, logged out, login failed, password changed."""

from __future__ import annotations

import logging

import pytest
from auth_helpers import log_in, post_form

import erlen
from erlen.testing import assert_valid_plugin
from erlen_auth import hookspecs, plugin


@pytest.fixture
def erlen_plugins():
    return ["db", "forms", "auth", "auth_sample_plugins.blog"]


def test_the_plugin_is_valid():
    from erlen_db import hookspecs as db_hookspecs
    from erlen_forms import hookspecs as forms_hookspecs

    modules = [db_hookspecs, forms_hookspecs]
    try:
        from erlen_migrate import hookspecs as migrate_hookspecs
    except ImportError:
        pass
    else:
        modules.append(migrate_hookspecs)
    assert_valid_plugin(plugin, hookspec_modules=modules, name="auth")
    assert plugin.PLUGIN.name == "auth"
    assert plugin.PLUGIN.requires == ("db", "forms")
    assert set(plugin.PLUGIN.integrates_with) == {"mail", "migrate"}


def test_every_hook_has_a_documented_specification():
    names = [name for name in dir(hookspecs) if name.startswith("erlen_auth_")]
    assert len(names) >= 7
    for name in names:
        assert getattr(hookspecs, name).__doc__


def test_events_reach_plugins(app, client, db_session):
    events = app.extensions.setdefault("blog_events", [])
    post_form(
        client,
        "/auth/register",
        {"email": "ada@example.com", "password": "long enough pw", "confirm": "long enough pw", "nickname": "a"},
    )
    post_form(client, "/auth/logout")
    log_in(client, "ada@example.com", "wrong password")
    log_in(client, "nobody@example.com", "wrong password")
    log_in(client, "ada@example.com", "long enough pw", remember=True)
    post_form(
        client, "/auth/password", {"current": "long enough pw", "password": "newer long pw", "confirm": "newer long pw"}
    )
    assert events == [
        ("registered", "ada@example.com", "a"),
        ("logged_in", "ada@example.com", False),  # registering logs in
        ("logged_out", "ada@example.com"),
        ("login_failed", "ada@example.com", "ada@example.com", "password"),
        ("login_failed", "nobody@example.com", None, "unknown"),
        ("logged_in", "ada@example.com", True),
        ("password_changed", "ada@example.com", "change"),
    ]


def test_a_failing_hook_does_not_break_the_log_in(app, client, create_user, monkeypatch, caplog):
    import auth_sample_plugins.blog as blog

    def broken(user, remember):
        raise RuntimeError("listener down")

    monkeypatch.setattr(blog, "erlen_auth_logged_in", broken)
    registry = erlen.plugins_of(app)
    implementation = next(i for i in registry.implementations("erlen_auth_logged_in"))
    monkeypatch.setattr(implementation, "function", broken)
    create_user("ada@example.com")
    with caplog.at_level(logging.ERROR):
        assert log_in(client, "ada@example.com").status_code == 302
    assert "erlen_auth_logged_in" in caplog.text


def test_a_hook_whose_write_fails_does_not_break_the_registration(app, client, db_session, monkeypatch, caplog):
    from erlen_auth.models import User
    from erlen_db import session

    def broken(user, form):
        session.add(User(email=user.email, password_hash="x"))  # the same address again: the flush fails
        session.flush()

    registry = erlen.plugins_of(app)
    implementation = next(i for i in registry.implementations("erlen_auth_user_registered"))
    monkeypatch.setattr(implementation, "function", broken)
    data = {
        "email": "ada@example.com",
        "nickname": "ada",
        "password": "a long enough password",
        "confirm": "a long enough password",
    }
    with caplog.at_level(logging.ERROR):
        assert post_form(client, "/auth/register", data).status_code == 302
    assert "erlen_auth_user_registered" in caplog.text
    assert [user.email for user in db_session.query(User)] == ["ada@example.com"]

"""Links that plugins add to the account menu (``erlen_auth_account_links``): who sees each, at no query's cost."""

from __future__ import annotations

import re
import typing as t

import pytest
import sqlalchemy as sa

import erlen
import erlen_db
from erlen_auth import Role, grant
from erlen_auth.testing import login_as, make_user

#: erlen-auth's own links of the menu for a user with a password, before the plugins'.
OWN_LINKS = ["Security", "Change password", "Your sessions"]


@pytest.fixture
def links_app(auth_app: t.Any, db_session_for: t.Any) -> t.Any:
    app = auth_app(["auth_sample_plugins.account_links"])
    db_session_for(app)
    return app


def menu_links(html: str) -> list[str]:
    """The labels of the account menu's links, in order."""
    menu = re.search(r'<details class="erlen-menu".*?</details>', html, re.DOTALL)
    assert menu is not None, html[:2000]
    return re.findall(r'<li><a href="[^"]+">([^<]+)</a></li>', menu.group(0))


def user_with(app: t.Any, email: str, *permissions: str, superuser: bool = False) -> t.Any:
    """A user whose one role grants ``permissions`` (no role at all without any)."""
    role_name = email.split("@")[0]
    user = make_user(app, email, roles=[role_name] if permissions else [], superuser=superuser)
    if permissions:
        with app.app_context():
            role = erlen_db.session.scalar(sa.select(Role).where(Role.name == role_name))
            grant(role, *permissions, app=app)
            erlen_db.session.commit()
    return user


def test_each_user_sees_the_links_their_roles_allow_after_auths_own_at_no_querys_cost(links_app):
    users = {
        "no role": (user_with(links_app, "plain@example.com"), ["Your posts"]),
        "moderator": (user_with(links_app, "mod@example.com", "forum.moderate"), ["Your posts", "Moderation"]),
        "both": (
            user_with(links_app, "both@example.com", "forum.moderate", "forum.reports"),
            ["Your posts", "Moderation", "Reports"],
        ),
        "reporter": (user_with(links_app, "rep@example.com", "forum.reports"), ["Your posts", "Reports"]),
        "superuser": (
            user_with(links_app, "root@example.com", superuser=True),
            ["Your posts", "Moderation", "Reports"],
        ),
    }
    queries = {}
    for name, (user, expected) in users.items():
        client = login_as(links_app.test_client(), user)
        client.get("/auth/security")  # the first page after logging in may record the session's use
        with erlen_db.count_queries(links_app) as counter:
            page = client.get("/auth/security")
        assert page.status_code == 200, name
        assert menu_links(page.text) == [*OWN_LINKS, *expected], name
        queries[name] = len(counter.statements)
    # The permissions were read with the user, in the loader's one statement: roles or none, the same queries.
    assert len(set(queries.values())) == 1, queries


def test_an_error_page_shows_the_links_known_without_a_query(links_app):
    moderator = user_with(links_app, "mod@example.com", "forum.moderate")
    client = login_as(links_app.test_client(), moderator)
    client.get("/forum/mine")
    with erlen_db.count_queries(links_app) as counter:
        failed = client.get("/forum/broken")  # the user is loaded, then the view fails: a 500 page
    assert failed.status_code == 500
    assert menu_links(failed.text) == [*OWN_LINKS, "Your posts", "Moderation"]
    # Only the user loader's statement: the error page itself touched no database.
    assert len(counter.statements) == 1, counter.report()


def test_a_link_requiring_a_permission_nobody_declares_stops_the_app_naming_the_plugin(auth_app):
    with pytest.raises(erlen.PluginError, match=r"auth_sample_plugins\.undeclared_link.*'forum\.moderat'.*declare"):
        auth_app(["auth_sample_plugins.undeclared_link"])


def test_a_link_naming_its_permission_other_than_by_one_name_names_the_plugin(auth_app):
    # A list of permissions (meaning "any of these") failed at start-up with "TypeError: unhashable type: 'list'",
    # naming neither the plugin nor the link.
    with pytest.raises(erlen.PluginError, match=r"several_permissions_link.*'Moderation'.*one permission's name"):
        auth_app(["auth_sample_plugins.several_permissions_link"])


def test_something_else_than_a_link_names_the_plugin(auth_app):
    with pytest.raises(erlen.PluginError, match=r"auth_sample_plugins\.bad_link.*erlen_auth\.AccountLink"):
        auth_app(["auth_sample_plugins.bad_link"])


def test_without_links_the_loader_reads_the_user_alone(auth_app, db_session_for):
    app = auth_app()
    db_session_for(app)
    client = login_as(app.test_client(), make_user(app, "plain@example.com"))
    client.get("/auth/security")
    with erlen_db.count_queries(app) as counter:
        assert client.get("/auth/security").status_code == 200
    (loader,) = [s for s in counter.statements if "key_hash" in s]
    assert "exists" not in loader.lower()


def show_the_first_menu(app: t.Any, db_session_for: t.Any) -> None:
    """Log a user in to ``app`` and ask for a page with the account menu, the first of the app."""
    db_session_for(app)
    client = login_as(app.test_client(), make_user(app, "plain@example.com"))
    client.get("/auth/security")


def test_a_link_to_an_endpoint_the_app_lacks_names_the_plugin_and_the_endpoint(auth_app, db_session_for):
    # A typo in a plugin's endpoint was werkzeug's BuildError on every page of every signed-in user, naming
    # neither the plugin nor the link (and the error page, which shows the menu too, lost its header).
    with pytest.raises(erlen.PluginError, match=r"typo_forum.*'Your posts'.*'forum\.mien'"):
        show_the_first_menu(auth_app(["auth_sample_plugins.missing_endpoint_link"]), db_session_for)


def test_a_request_of_an_access_token_shows_only_the_links_its_scopes_allow(links_app):
    # can() honours the token's scopes (erlen_auth.access_tokens); the menu answered a superuser, or a user whose
    # answers the loader had read, without them: "Moderation" for a token that may not moderate.
    from erlen_auth import AccountLink, User
    from erlen_auth.account_links import remember, shown_to

    root = user_with(links_app, "root@example.com", superuser=True)
    moderator = user_with(links_app, "mod@example.com", "forum.moderate")
    moderation = AccountLink("Moderation", "forum.moderation", permission="forum.moderate")
    with links_app.test_request_context():
        for user_id in (root.id, moderator.id):
            user = erlen_db.session.get(User, user_id)
            remember(user, {"forum.moderate": True})
            user.restrict_to_token_scopes(frozenset({"auth.manage_users"}))
            assert not user.can("forum.moderate")
            assert shown_to(user, [moderation]) == [], user.email
            user.restrict_to_token_scopes(frozenset({"forum.moderate"}))
            assert shown_to(user, [moderation]) == [moderation], user.email


def test_a_link_to_a_view_that_needs_a_value_in_its_url_names_the_plugin(auth_app, db_session_for):
    # AccountLink has no values for the URL: url_for failed on every signed-in page, naming neither.
    with pytest.raises(erlen.PluginError, match=r"people.*'Your profile'.*'people\.profile'.*person"):
        show_the_first_menu(auth_app(["auth_sample_plugins.argument_link"]), db_session_for)


def test_a_link_whose_url_value_a_url_processor_fills_in_is_shown(auth_app, db_session_for):
    # Flask's URL processors (url_defaults) give url_for the values a link does not: a link to /<lang>/reading,
    # whose blueprint fills in the language, stopped the first menu with a PluginError saying it needed lang.
    app = auth_app(["auth_sample_plugins.url_defaults_link"])
    db_session_for(app)
    client = login_as(app.test_client(), make_user(app, "plain@example.com"))
    page = client.get("/auth/security")
    assert page.status_code == 200
    assert 'href="/shelf/en/reading"' in page.get_data(as_text=True)


def test_a_link_to_a_view_that_answers_no_get_names_the_plugin(auth_app, db_session_for):
    # A link is followed with a GET: one to a POST-only view (a form's action) was shown on every signed-in page
    # and answered 405 Method Not Allowed to whoever followed it.
    with pytest.raises(erlen.PluginError, match=r"drafts.*'New draft'.*'drafts\.new'.*GET"):
        show_the_first_menu(auth_app(["auth_sample_plugins.post_only_link"]), db_session_for)

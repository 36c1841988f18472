"""Permissions from plugins, roles, superusers; decorators and templates; unknown names fail loudly."""

from __future__ import annotations

import pytest
from auth_helpers import log_in

import erlen
from erlen_auth import (
    PermissionDeclarationError,
    Role,
    UnknownPermissionError,
    User,
    grant,
    permission_required,
    permissions_of,
    require_known,
)
from erlen_auth.testing import login_as


@pytest.fixture
def erlen_plugins():
    return ["db", "forms", "auth", "auth_sample_plugins.blog"]


def test_plugins_contribute_permissions_with_descriptions(app):
    known = permissions_of(app)
    assert known["blog.publish"].plugin == "blog"
    assert known["blog.publish"].description == "Publish posts"
    assert known["auth.manage_users"].plugin == "auth"
    assert list(known) == sorted(known)


def test_the_app_declares_its_own_permissions(auth_app):
    app = auth_app(config={"AUTH_PERMISSIONS": {"app.export": "Export everything"}})
    assert permissions_of(app)["app.export"].plugin == "app"


def test_a_permission_declared_twice_stops_the_app(auth_app):
    with pytest.raises(PermissionDeclarationError, match="declared twice"):
        auth_app(["auth_sample_plugins.blog", "auth_sample_plugins.dupe"])


def test_permissions_returned_as_a_list_name_the_plugin(auth_app):
    with pytest.raises(erlen.PluginError) as caught:
        auth_app(["auth_sample_plugins.listed"])
    assert caught.value.plugin == "listed"
    assert str(caught.value) == (
        "Plugin 'listed': erlen_auth_permissions returned list; return a dict of permission names to descriptions."
    )


@pytest.mark.parametrize(
    ("declared", "match"),
    [({"Publish": "x"}, "dotted lower-case"), ({"nodot": "x"}, "dotted lower-case"), ({"app.x": " "}, "description")],
)
def test_malformed_declarations_stop_the_app(auth_app, declared, match):
    with pytest.raises(PermissionDeclarationError, match=match):
        auth_app(config={"AUTH_PERMISSIONS": declared})


def test_a_view_requiring_an_unknown_permission_stops_the_app(auth_app):
    with pytest.raises(UnknownPermissionError, match=r"typo\.view.*'blog\.publsh'"):
        auth_app(["auth_sample_plugins.blog", "auth_sample_plugins.typo"])


def test_an_unknown_permission_in_code_raises(app, create_user):
    user = create_user("ada@example.com", superuser=True)
    with app.app_context():
        with pytest.raises(UnknownPermissionError, match=r"Known permissions: auth\.manage_roles"):
            user.can("blog.publsh")
        with pytest.raises(UnknownPermissionError):
            require_known("nothing.here")


def test_an_unknown_permission_in_a_template_is_an_error_not_a_deny(app, client, create_user):
    app.testing = False  # see the 500 page rather than the exception
    assert client.get("/blog/typo").status_code == 500
    login_as(client, create_user("ada@example.com", superuser=True))
    assert client.get("/blog/typo").status_code == 500


def test_decorator_refuses_malformed_names():
    with pytest.raises(ValueError, match="not a permission name"):
        permission_required("Publish")
    with pytest.raises(ValueError, match="at least one"):
        permission_required()


def test_permission_required(client, create_user, db_session):
    assert client.get("/blog/publish").status_code == 302  # anonymous: log in first
    user = create_user("ada@example.com")
    login_as(client, user)
    assert client.get("/blog/publish").status_code == 403
    role = Role(name="editor")
    with client.application.app_context():
        grant(role, "blog.publish")
    db_session.add(role)
    user.roles.append(role)
    db_session.commit()
    assert client.get("/blog/publish").text == "published"


def test_any_of(client, create_user, db_session):
    user = create_user("ada@example.com", roles=["moderator"])
    login_as(client, user)
    assert client.get("/blog/either").status_code == 403
    user.roles[0].grant("blog.moderate")
    db_session.commit()
    assert client.get("/blog/either").text == "either"
    assert client.get("/blog/publish").status_code == 403


def test_superusers_can_do_everything(client, create_user):
    login_as(client, create_user("root@example.com", superuser=True))
    assert client.get("/blog/publish").status_code == 200
    assert client.get("/blog/menu").text == "[publish][moderate][root@example.com]"


def test_templates_ask_current_user(client, create_user, db_session):
    assert client.get("/blog/menu").text == "[anonymous]"
    user = create_user("ada@example.com", roles=["editor"])
    user.roles[0].grant("blog.publish")
    db_session.commit()
    log_in(client, "ada@example.com")
    assert client.get("/blog/menu").text == "[publish][ada@example.com]"


def test_grant_refuses_unknown_permissions(app):
    with app.app_context(), pytest.raises(UnknownPermissionError):
        grant(Role(name="x"), "blog.publsh")


def test_roles_and_users(app, create_user, db_session):
    user = create_user("ada@example.com", roles=["editor", "moderator"])
    user.roles[0].grant("blog.publish")
    user.roles[1].grant("blog.moderate")
    user.roles[1].grant("blog.publish")
    db_session.commit()
    with app.app_context():
        assert user.permissions == {"blog.publish", "blog.moderate"}
        assert user.has_role("editor") and not user.has_role("admin")
        user.roles[1].revoke("blog.moderate")
        assert not user.can("blog.moderate")
        user.is_active = False
        assert not user.can("blog.publish")


def test_the_permission_set_is_built_once_and_again_only_when_roles_or_grants_change(app, create_user, db_session):
    from erlen_auth.models import RolePermission

    user = create_user("ada@example.com", roles=["editor"])
    editor = user.roles[0]
    editor.grant("blog.publish")
    db_session.commit()
    with app.app_context():
        first = user.permissions
        assert first == {"blog.publish"}
        assert user.permissions is first  # kept: the admin asks can() many times per page
        assert user.can("blog.publish") and user.permissions is first
        editor.grant("blog.moderate")  # a grant of one of the user's roles
        assert user.can("blog.moderate")
        editor.grants.append(RolePermission(permission="auth.manage_users"))  # the list itself
        assert user.can("auth.manage_users")
        editor.revoke("blog.publish")
        assert not user.can("blog.publish")
        moderator = Role(name="moderator")
        moderator.grant("blog.publish")
        user.roles.append(moderator)  # a role given
        assert user.can("blog.publish")
        user.roles.remove(moderator)  # and taken
        assert not user.can("blog.publish")
        user.roles[:] = []
        assert user.permissions == frozenset()
        db_session.commit()
        user.roles.append(editor)
        db_session.commit()
        cached = user.permissions
        db_session.execute(RolePermission.__table__.delete())  # behind the ORM's back, then reloaded
        db_session.commit()
        db_session.expire(editor)
        assert user.permissions == frozenset() and cached == {"blog.moderate", "auth.manage_users"}


def test_views_added_after_create_app_are_checked_by_erlen_check(app):
    from erlen.checks import run_checks

    @app.get("/late")
    @permission_required("blog.publsh")
    def late() -> str:
        return "late"

    found = [message for message in run_checks(app) if message.id == "auth.E003"]
    assert len(found) == 1
    assert "'late'" in found[0].message and "'blog.publsh'" in found[0].message
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code != 0
    assert "auth.E003" in result.output


def test_an_authenticated_request_costs_one_query(client, create_user, max_queries):
    login_as(client, create_user("ada@example.com"))
    with max_queries(1):
        assert client.get("/blog/private").text == "private"
    login_as(client, create_user("root@example.com", superuser=True))
    with max_queries(1):
        assert client.get("/blog/publish").status_code == 200


def test_the_roles_of_a_user_asked_can_cost_one_query_with_their_grants(client, create_user, db_session, max_queries):
    """Not a superuser: ``can()`` loads the user's roles and each role's grants in one query (lazy loads took two,
    the roles then their grants); ``has_role()`` the same, and neither again once loaded."""
    user = create_user("ada@example.com", roles=["editor", "moderator", "reader"])
    user.roles[0].grant("blog.publish")
    user.roles[1].grant("blog.moderate")
    user.roles[1].grant("blog.publish")
    db_session.commit()
    login_as(client, user)
    with max_queries(2):  # the log-in session with its user, then the roles with their grants
        assert client.get("/blog/publish").text == "published"
    with max_queries(2):
        assert client.get("/blog/menu").text == "[publish][moderate][ada@example.com]"
    db_session.expunge_all()
    with client.application.app_context():
        ada = db_session.get(User, user.id)
        with max_queries(1):
            assert ada.has_role("reader") and not ada.has_role("admin")
            assert ada.permissions == {"blog.publish", "blog.moderate"}
            assert [role.name for role in ada.roles] == ["editor", "moderator", "reader"]


def test_permissions_may_depend_on_the_app(auth_app):
    app = auth_app(["auth_sample_plugins.per_app"], config={"PERAPP_THINGS": ["books", "films"]})
    known = permissions_of(app)
    assert known["perapp.books"].plugin == "perapp"
    assert known["perapp.films"].description == "Manage films"


def test_granting_to_a_role_its_closed_session_loaded_is_refused_not_lost(auth_app):
    """make_user(app, ...) without ``db`` closes its session: its roles are detached, and a permission granted to
    one was kept in memory only, with no error, while the app's session committed nothing."""
    import sqlalchemy as sa

    from erlen_auth import AuthError
    from erlen_auth.models import RolePermission
    from erlen_auth.testing import make_user
    from erlen_db import get_session

    app = auth_app(["auth_sample_plugins.blog"], create_all=True)
    staff = make_user(app, "staff@example.com", roles=["staff"])
    with app.app_context():
        with pytest.raises(AuthError, match=r"'staff'.*session that has closed.*merge"):
            grant(staff.roles[0], "blog.publish")
        with pytest.raises(AuthError, match="revoke"):
            staff.roles[0].revoke("blog.publish")
        # Loaded in the session that commits, it is saved.
        session = get_session()
        grant(session.merge(staff.roles[0]), "blog.publish")
        session.commit()
        assert session.scalars(sa.select(RolePermission.permission)).all() == ["blog.publish"]

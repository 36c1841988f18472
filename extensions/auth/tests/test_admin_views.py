"""Users, roles, sessions and history in erlen-admin, registered by erlen-auth through the admin's hooks.

Run on SQLite and PostgreSQL (the ``database_url`` fixture). Skipped when
erlen-admin is not installed (nox's tests-auth session installs erlen-auth
alone); the integration session runs them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
import sqlalchemy as sa

pytest.importorskip("erlen_admin", reason="erlen-admin is not installed: these tests run in the integration session")

from auth_helpers import log_in, post_form

from erlen_admin import plugin_title
from erlen_auth import LoginSession, Role, User, state_of
from erlen_auth.testing import DEFAULT_PASSWORD, login_as
from erlen_forms.model_forms import is_sensitive
from erlen_forms.testing import csrf_token_for

USERS = "/admin/m/users/"
ROLES = "/admin/m/roles/"
GOOD = "a long and unusual pass"


@pytest.fixture
def erlen_plugins():
    return ["db", "forms", "auth", "admin"]


@pytest.fixture
def superuser(create_user):
    return create_user("root@example.com", superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    """A client logged in as the superuser, sending a CSRF token with every POST."""
    login_as(client, superuser)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    return client


def entries(db_session, **where):
    from erlen_admin.models import AuditEntry

    statement = sa.select(AuditEntry).order_by(AuditEntry.id)
    for key, value in where.items():
        statement = statement.where(getattr(AuditEntry, key) == value)
    return list(db_session.scalars(statement))


def reload(db_session, user):
    db_session.expire_all()
    return db_session.get(User, user.id)


def listed(client, query=""):
    """The emails on the users list page for ``query``."""
    html = client.get(USERS + query).text
    html = html[html.index("<tbody>") : html.index("</tbody>")]  # not the header's "logged in as"
    return {
        email for email in ("ada@example.com", "bob@example.com", "cy@example.com", "root@example.com") if email in html
    }


def test_a_newly_registered_account_is_visible_in_the_admin(app, admin_client, db_session):
    visitor = app.test_client()
    response = post_form(
        visitor, "/auth/register", {"email": "newcomer@example.com", "password": GOOD, "confirm": GOOD}
    )
    assert response.status_code == 302, response.text
    page = admin_client.get(USERS)
    assert page.status_code == 200
    assert "newcomer@example.com" in page.text
    user = db_session.scalar(sa.select(User).where(User.email == "newcomer@example.com"))
    detail = admin_client.get(f"{USERS}{user.id}/")
    assert detail.status_code == 200 and "newcomer@example.com" in detail.text
    assert admin_client.get(f"{USERS}?q=NEWCOMER").text.count("newcomer@example.com") >= 1
    assert "/admin/m/users/" in admin_client.get("/admin/").text  # on the dashboard


def test_search_and_filters(admin_client, create_user, db_session):
    import datetime as dt

    create_user("ada@example.com", roles=["editors"])
    bob = create_user("bob@example.com", active=False)
    create_user("cy@example.com", confirmed=False, roles=["support"])
    assert bob.email_confirmed_at is not None
    editors = db_session.scalar(sa.select(Role).where(Role.name == "editors"))
    everyone = {"ada@example.com", "bob@example.com", "cy@example.com", "root@example.com"}
    assert listed(admin_client) == everyone
    assert listed(admin_client, "?q=ada") == {"ada@example.com"}
    assert listed(admin_client, "?f_is_active=0") == {"bob@example.com"}
    assert listed(admin_client, "?f_is_superuser=1") == {"root@example.com"}
    assert listed(admin_client, f"?f_role={editors.id}") == {"ada@example.com"}
    assert listed(admin_client, "?f_confirmed=0") == {"cy@example.com"}
    assert listed(admin_client, "?f_confirmed=1&f_is_active=1") == {"ada@example.com", "root@example.com"}
    # A value that is not one of the choices is ignored, with a message, not a 500.
    page = admin_client.get(USERS + "?f_role=999999&f_confirmed=maybe")
    assert page.status_code == 200 and "was ignored" in page.text
    # The list shows the last log-in, and the filters' selects offer the roles by name.
    root = db_session.scalar(sa.select(User).where(User.email == "root@example.com"))
    root.last_login_at = dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC)
    db_session.commit()
    html = admin_client.get(USERS).text
    assert "Last login" in html and "2026-03-04 05:06 UTC" in html
    assert f'<option value="{editors.id}">editors</option>' in html
    export = admin_client.get(USERS + "export.csv?f_role=" + str(editors.id)).text
    assert [row[1] for row in csv.reader(io.StringIO(export))][1:] == ["ada@example.com"]


def test_no_secret_reaches_a_page_or_the_export(app, admin_client, superuser, create_user, db_session):
    ada = create_user("ada@example.com", roles=["editors"])
    login_as(app.test_client(), ada)  # a session of hers, with a key hash in the table
    key_hashes = list(db_session.scalars(sa.select(LoginSession.key_hash)))
    assert key_hashes
    secrets = [ada.password_hash, ada.session_token, superuser.password_hash, superuser.session_token, *key_hashes]
    role = db_session.scalar(sa.select(Role))
    pages = [
        USERS,
        f"{USERS}{ada.id}/",
        f"{USERS}{ada.id}/edit",
        f"{USERS}new",
        f"{USERS}export.csv",
        f"{USERS}{superuser.id}/",
        ROLES,
        f"{ROLES}{role.id}/",
        f"{ROLES}export.csv",
    ]
    for path in pages:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        for secret in secrets:
            assert secret not in response.text, path
        for name in ("password_hash", "session_token", "key_hash", "email_key"):
            assert name not in response.text, (path, name)
    assert "argon2" not in admin_client.get(f"{USERS}export.csv").text


def test_the_views_show_only_what_the_one_sensitive_rule_lets_through(app):
    """The admin's rule (erlen-forms' ``is_sensitive``) names every secret column of erlen-auth's tables, and
    nothing the users and sessions pages show is one."""
    from erlen_admin import registry_of
    from erlen_auth.admin_views import SESSION_COLUMNS

    for column in ("password_hash", "session_token", "email_key"):
        assert is_sensitive(column) and column in User.__table__.columns
    assert is_sensitive("key_hash") and "key_hash" in LoginSession.__table__.columns
    users = registry_of(app).models["users"]
    shown = [*users.list_columns, *users.detail_columns, *SESSION_COLUMNS]
    assert shown and not [name for name in shown if is_sensitive(name)]
    assert set(SESSION_COLUMNS) <= set(LoginSession.__table__.columns.keys())


def test_create_a_user_with_a_password_form(admin_client, db_session, create_user):
    create_user("taken@example.com", roles=["editors"])
    editors = db_session.scalar(sa.select(Role).where(Role.name == "editors"))
    form = admin_client.get(USERS + "new").text
    assert 'name="password"' in form and 'name="confirm"' in form and 'type="password"' in form
    assert 'name="password_hash"' not in form and 'name="roles"' in form

    def create(**changes):
        data = {"email": "ada@example.com", "password": GOOD, "confirm": GOOD, "roles": [str(editors.id)], **changes}
        return admin_client.post(USERS + "new", data=data)

    assert "The passwords differ." in create(confirm="something else entirely").text
    assert "most common" in create(password="password123", confirm="password123").text
    assert "Use at least" in create(password="short", confirm="short").text
    assert "exists already" in create(email="TAKEN@example.com").text
    assert db_session.scalar(sa.select(User).where(User.email == "ada@example.com")) is None
    response = create(email_confirmed_at="y")
    assert response.status_code == 302, response.text
    ada = db_session.scalar(sa.select(User).where(User.email == "ada@example.com"))
    assert ada.password_hash.startswith("$argon2id$")
    assert state_of(admin_client.application).passwords.verify(ada.password_hash, GOOD)
    assert [role.name for role in ada.roles] == ["editors"] and ada.email_confirmed_at is not None
    assert ada.email_key == "ada@example.com" and not ada.is_superuser
    (entry,) = entries(db_session, action="create", model="users")
    assert entry.object_repr == "ada@example.com" and GOOD not in str(entry.changes)
    assert ada.password_hash not in str(entry.changes)
    visitor = admin_client.application.test_client()
    assert log_in(visitor, "ada@example.com", GOOD).status_code == 302


def test_edit_keeps_the_address_key_in_step_and_never_shows_the_password(admin_client, create_user, db_session):
    ada = create_user("ada@example.com")
    form = admin_client.get(f"{USERS}{ada.id}/edit").text
    assert 'name="email"' in form and 'name="password' not in form
    data = {"email": "Ada.New@Example.com", "is_active": "y", "email_confirmed_at": "y"}
    response = admin_client.post(f"{USERS}{ada.id}/edit", data=data)
    assert response.status_code == 302, response.text
    ada = reload(db_session, ada)
    assert (ada.email, ada.email_key) == ("Ada.New@Example.com", "ada.new@example.com")
    (entry,) = entries(db_session, action="edit", model="users")
    assert entry.changes["email"] == ["ada@example.com", "Ada.New@Example.com"]
    visitor = admin_client.application.test_client()
    assert log_in(visitor, "ada.new@example.com").status_code == 302


def test_an_address_whose_key_is_too_long_is_refused_by_the_new_and_edit_forms(admin_client, create_user, db_session):
    # Valid and 32 characters, but NFKC makes a key of 372 of it: before, PostgreSQL refused the insert (a 500).
    long_address = "\ufdfa" * 20 + "@example.com"
    ada = create_user("ada@example.com")
    data = {"email": long_address, "password": GOOD, "confirm": GOOD}
    created = admin_client.post(USERS + "new", data=data)
    assert created.status_code == 200 and "too long once normalised" in created.text
    edited = admin_client.post(f"{USERS}{ada.id}/edit", data={"email": long_address, "is_active": "y"})
    assert edited.status_code == 200 and "too long once normalised" in edited.text
    assert db_session.scalar(sa.select(User).where(User.email == long_address)) is None
    assert reload(db_session, ada).email == "ada@example.com"


def test_the_last_active_superuser_cannot_be_demoted_or_deactivated(admin_client, superuser, create_user, db_session):
    edit = f"{USERS}{superuser.id}/edit"
    demoted = admin_client.post(edit, data={"email": superuser.email, "is_active": "y", "email_confirmed_at": "y"})
    assert demoted.status_code == 200 and "last active superuser" in demoted.text
    own = admin_client.post(edit, data={"email": superuser.email, "is_superuser": "y"})
    assert own.status_code == 200 and "cannot deactivate your own account" in own.text
    refused = admin_client.post(f"{USERS}{superuser.id}/do/deactivate", follow_redirects=True)
    assert "cannot deactivate your own account" in refused.text
    bulk = admin_client.post(
        USERS + "action", data={"action": "deactivate", "ids": [str(superuser.id)], "confirmed": "1"}
    )
    assert bulk.status_code == 302
    root = reload(db_session, superuser)
    assert root.is_active and root.is_superuser
    assert entries(db_session) == []
    # A manager of users who is not a superuser cannot deactivate the only superuser either.
    manager = create_user("manager@example.com", roles=["managers"])
    managers = db_session.scalar(sa.select(Role).where(Role.name == "managers"))
    for name in ("admin.access", "admin.users.view", "auth.manage_users"):
        managers.grant(name)
    db_session.commit()
    other = admin_client.application.test_client()
    login_as(other, manager)
    other.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(other)
    answer = other.post(f"{USERS}{superuser.id}/do/deactivate", follow_redirects=True)
    assert "last active superuser" in answer.text
    assert reload(db_session, superuser).is_active
    # With a second superuser, the first may be demoted.
    create_user("second@example.com", superuser=True)
    ok = admin_client.post(edit, data={"email": superuser.email, "is_active": "y", "email_confirmed_at": "y"})
    assert ok.status_code == 302, ok.text
    assert not reload(db_session, superuser).is_superuser


def test_deactivate_ends_the_sessions_and_is_audited(app, admin_client, create_user, db_session):
    ada = create_user("ada@example.com")
    browser = login_as(app.test_client(), ada)
    assert browser.get("/auth/sessions").status_code == 200
    token = ada.session_token
    page = admin_client.get(f"{USERS}{ada.id}/").text
    assert "Deactivate" in page and "End all sessions" in page
    response = admin_client.post(f"{USERS}{ada.id}/do/deactivate")
    assert response.status_code == 302
    ada = reload(db_session, ada)
    assert not ada.is_active and ada.session_token != token
    assert (
        db_session.scalar(sa.select(sa.func.count()).select_from(LoginSession).where(LoginSession.user_id == ada.id))
        == 0
    )
    assert browser.get("/auth/sessions").status_code == 302  # logged out
    (entry,) = entries(db_session, action="action:deactivate")
    assert entry.changes["is_active"] == [True, False] and entry.object_id == str(ada.id)
    assert entry.changes.get("session_token") is None  # masked on both sides: no change recorded
    assert admin_client.post(f"{USERS}{ada.id}/do/activate").status_code == 302
    assert reload(db_session, ada).is_active


def test_sessions_panel_ends_one_session_or_all(app, admin_client, create_user, db_session):
    ada = create_user("ada@example.com")
    first, second = login_as(app.test_client(), ada), login_as(app.test_client(), ada)
    ids = sorted(db_session.scalars(sa.select(LoginSession.id).where(LoginSession.user_id == ada.id)))
    assert len(ids) == 2
    page = admin_client.get(f"{USERS}{ada.id}/").text
    assert "Sessions" in page and page.count('name="session_id"') == 2
    response = admin_client.post(f"{USERS}{ada.id}/do/end_session", data={"session_id": str(ids[0])})
    assert response.status_code == 302
    assert first.get("/auth/sessions").status_code == 302 and second.get("/auth/sessions").status_code == 200
    again = admin_client.post(
        f"{USERS}{ada.id}/do/end_session", data={"session_id": str(ids[0])}, follow_redirects=True
    )
    assert "ended already" in again.text
    assert admin_client.post(f"{USERS}{ada.id}/do/end_sessions").status_code == 302
    assert second.get("/auth/sessions").status_code == 302
    assert [e.action for e in entries(db_session)] == ["action:end_session", "action:end_sessions"]
    assert entries(db_session)[1].changes["sessions_ended"] == [None, 1]


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def test_sessions_panel_names_the_browser_as_the_sessions_page_does(app, admin_client, create_user, db_session):
    ada = create_user("ada@example.com")
    browser = app.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = FIREFOX
    login_as(browser, ada)
    page = admin_client.get(f"{USERS}{ada.id}/").text
    # the person reads the browser's name; the raw header stays for the operator, in the cell's title
    assert '<td data-label="Browser" title="' + FIREFOX + '">Firefox on Linux</td>' in page
    (session_id,) = db_session.scalars(sa.select(LoginSession.id).where(LoginSession.user_id == ada.id))
    admin_client.post(f"{USERS}{ada.id}/do/end_session", data={"session_id": str(session_id)})
    (entry,) = entries(db_session, action="action:end_session")
    assert entry.changes["session_ended"] == [f"#{session_id} (Firefox on Linux)", None]


def test_roles_of_a_user_are_edited_and_audited(admin_client, create_user, db_session):
    ada = create_user("ada@example.com", roles=["editors"])
    create_user("bob@example.com", roles=["support"])
    support = db_session.scalar(sa.select(Role).where(Role.name == "support"))
    page = admin_client.get(f"{USERS}{ada.id}/").text
    assert 'name="roles"' in page and "editors" in page and "support" in page
    response = admin_client.post(f"{USERS}{ada.id}/do/set_roles", data={"roles": [str(support.id)]})
    assert response.status_code == 302
    assert [role.name for role in reload(db_session, ada).roles] == ["support"]
    (entry,) = entries(db_session, action="action:set_roles")
    assert entry.changes == {"roles": [["editors"], ["support"]]}
    refused = admin_client.post(f"{USERS}{ada.id}/do/set_roles", data={"roles": ["999999"]}, follow_redirects=True)
    assert "no longer exists" in refused.text
    history = admin_client.get(f"{USERS}{ada.id}/").text
    assert "Changes to this account" in history and "action:set_roles" in history and "editors → support" in history


def test_the_history_panel_writes_times_as_the_admin_does(admin_client, create_user, db_session):
    """Found walking the admin as a staff user: a user's History panel showed a confirmation's time as the ISO text
    the audit entry stores (``2026-12-07T06:38:12.123456+00:00``), where the entry's own page and every other admin
    page write ``2026-12-07 06:38 UTC`` in a ``<time>`` element. Text that looks like a time stays text."""
    ada = create_user("ada@example.com", confirmed=False)
    response = admin_client.post(
        f"{USERS}{ada.id}/edit", data={"email": "ada@example.com", "is_active": "y", "email_confirmed_at": "y"}
    )
    assert response.status_code == 302, response.text
    (entry,) = entries(db_session, action="edit", model="users")
    stored = entry.changes["email_confirmed_at"][1]
    moment = dt.datetime.fromisoformat(stored).astimezone(dt.UTC)
    page = admin_client.get(f"{USERS}{ada.id}/").text
    cells = re.findall(r'<td data-label="Changes">(.*?)</td>', page, re.DOTALL)
    assert any(
        re.search(
            r"Email confirmed: — → <time datetime=\"[^\"]+\" title=\"[^\"]+\">"
            + re.escape(moment.strftime("%Y-%m-%d %H:%M UTC"))
            + "</time>",
            cell,
        )
        for cell in cells
    ), cells
    # Each column named by its heading, as on the entry's own page (the panel wrote the stored key).
    assert not any("email_confirmed_at" in cell for cell in cells), cells
    assert stored not in page
    from erlen_admin.models import AuditEntry

    looks_like_a_time = "2026-12-07T06:38:12+00:00"
    db_session.add(
        AuditEntry(
            action="edit",
            model="users",
            object_id=str(ada.id),
            object_repr="ada@example.com",
            changes={"email": [looks_like_a_time, "ada@example.com"]},
        )
    )
    db_session.commit()
    assert f"Email: {looks_like_a_time} → ada@example.com" in admin_client.get(f"{USERS}{ada.id}/").text


def test_changing_accounts_needs_manage_users_and_csrf(app, create_user, db_session, superuser):
    ada = create_user("ada@example.com")
    viewer = create_user("viewer@example.com", roles=["viewers"])
    viewers = db_session.scalar(sa.select(Role).where(Role.name == "viewers"))
    for name in ("admin.access", "admin.users.view"):
        viewers.grant(name)
    db_session.commit()
    client = app.test_client()
    login_as(client, viewer)
    page = client.get(f"{USERS}{ada.id}/")
    assert page.status_code == 200 and "ada@example.com" in page.text
    assert "Deactivate" not in page.text and 'name="roles"' not in page.text
    assert client.get(f"{USERS}new").status_code == 403
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    for action in ("deactivate", "end_sessions", "set_roles"):
        assert client.post(f"{USERS}{ada.id}/do/{action}").status_code == 403
    assert client.get(ROLES).status_code == 403  # admin.roles.view not granted
    # Without a CSRF token, a superuser's POST is refused too.
    root = app.test_client()
    login_as(root, superuser)
    assert root.post(f"{USERS}{ada.id}/do/deactivate").status_code == 400
    assert reload(db_session, ada).is_active
    from erlen_auth import permissions_of

    known = permissions_of(app)
    assert known["auth.manage_users"].plugin == "auth" and "admin.users.view" in known
    assert "admin.users.edit" not in known  # borrowed: auth.manage_users is what editing takes


def staff_client(app, create_user, db_session, email: str, *permissions: str):
    """A client logged in as a staff user whose one role (named after the address) grants ``permissions``."""
    user = create_user(email, roles=[email.split("@")[0]])
    role = db_session.scalar(sa.select(Role).where(Role.name == email.split("@")[0]))
    for name in permissions:
        role.grant(name)
    db_session.commit()
    client = app.test_client()
    login_as(client, user)
    return client


def admin_links(html: str) -> set[str]:
    """The admin pages the main part of a page links to (not the layout's menus)."""
    main = html[html.index("<main") : html.index("</main>")]
    return {href.replace("&amp;", "&") for href in re.findall(r'<a [^>]*href="(/admin/[^"]*)"', main)}


def test_a_staff_user_who_may_view_users_but_not_roles_sees_role_names_without_links(app, create_user, db_session):
    """Found walking the admin as a staff user who may view users but not roles: no link on a user's page may lead
    to a page the viewer cannot open (the roles panel's empty state linked the roles list). The names of a user's
    roles are shown as text (as Django's user page shows groups); a viewer who may open a role's page gets a link
    to it."""
    ada = create_user("ada@example.com", roles=["editors"])
    editors = db_session.scalar(sa.select(Role).where(Role.name == "editors"))
    viewers = {
        "users only": staff_client(
            app, create_user, db_session, "usersonly@example.com", "admin.access", "admin.users.view"
        ),
        "users and roles": staff_client(
            app, create_user, db_session, "both@example.com", "admin.access", "admin.users.view", "admin.roles.view"
        ),
    }
    for who, client in viewers.items():
        page = client.get(f"{USERS}{ada.id}/")
        assert page.status_code == 200, who
        for link in admin_links(page.text):
            assert client.get(link).status_code != 403, (who, link)
        if who == "users only":
            assert "<li>editors</li>" in page.text and ROLES not in page.text, who
        else:
            assert f'<li><a href="{ROLES}{editors.id}/">editors</a></li>' in page.text, who


def test_a_user_without_roles_is_said_so_in_a_sentence(app, create_user, db_session):
    """Found walking the admin as a staff user: a user without roles had a list of one item, "No roles."; an empty
    state is a sentence, styled as the admin's other empty states."""
    bob = create_user("bob@example.com")
    client = staff_client(app, create_user, db_session, "usersonly@example.com", "admin.access", "admin.users.view")
    page = client.get(f"{USERS}{bob.id}/").text
    assert '<p class="empty">bob@example.com has no roles.</p>' in page
    assert "<li>No roles.</li>" not in page


def test_a_staff_user_who_may_view_roles_but_not_users_sees_how_many_have_a_role(app, create_user, db_session):
    """The other way round: a role's page linked its users' pages (403 without admin.users.view) and showed their
    addresses, which are the users' pages' to show. It says how many have the role instead."""
    create_user("ada@example.com", roles=["editors"])
    create_user("bob@example.com", roles=["editors"])
    editors = db_session.scalar(sa.select(Role).where(Role.name == "editors"))
    client = staff_client(app, create_user, db_session, "rolesonly@example.com", "admin.access", "admin.roles.view")
    page = client.get(f"{ROLES}{editors.id}/")
    assert page.status_code == 200
    for link in admin_links(page.text):
        assert client.get(link).status_code != 403, link
    assert "2 users have this role. Seeing who needs the permission admin.users.view." in page.text
    assert "ada@example.com" not in page.text and USERS not in page.text
    both = staff_client(
        app, create_user, db_session, "both@example.com", "admin.access", "admin.users.view", "admin.roles.view"
    )
    assert ">ada@example.com</a>" in both.get(f"{ROLES}{editors.id}/").text


def test_a_viewer_who_may_not_change_a_role_reads_its_permissions_as_a_list(app, create_user, db_session):
    """Found walking the admin as a staff user: a role's page showed a viewer without admin.roles.edit every
    permission as a disabled checkbox, dim and announced as controls that do nothing. It lists those the role
    grants, by plugin, and says when it grants none."""
    create_user("ada@example.com", roles=["editors", "empty"])
    editors = db_session.scalar(sa.select(Role).where(Role.name == "editors"))
    editors.grant("admin.access")
    editors.grant("auth.manage_users")
    db_session.commit()
    empty = db_session.scalar(sa.select(Role).where(Role.name == "empty"))
    client = staff_client(app, create_user, db_session, "reader@example.com", "admin.access", "admin.roles.view")
    page = client.get(f"{ROLES}{editors.id}/").text
    panel = page[page.index("<code>") - 200 :]
    assert 'type="checkbox"' not in page and "Save permissions" not in page
    # Each name may break after its dots and underscores on a phone (erlen_admin's admin_breakable_name).
    assert "<code>admin.<wbr>access</code>" in panel and "<code>auth.<wbr>manage_<wbr>users</code>" in panel
    assert "<code>admin.<wbr>users.<wbr>view</code>" not in panel  # not granted: not listed
    assert (
        "<h3>Admin</h3>" in page and "<h3>Accounts</h3>" in page
    )  # as the dashboard heads them (erlen_admin.plugin_title)
    assert "This role grants no permissions." in client.get(f"{ROLES}{empty.id}/").text


def test_role_permissions_as_checkboxes_grouped_by_plugin(admin_client, db_session):
    response = admin_client.post(ROLES + "new", data={"name": "editors", "description": "Edit things"})
    assert response.status_code == 302, response.text
    role = db_session.scalar(sa.select(Role).where(Role.name == "editors"))
    page = admin_client.get(f"{ROLES}{role.id}/").text
    assert "<legend>Accounts</legend>" in page and "<legend>Admin</legend>" in page
    assert page.index("<legend>Accounts</legend>") < page.index('value="auth.manage_users"')
    assert page.index("<legend>Admin</legend>") < page.index('value="admin.access"')
    data = {"permissions": ["admin.access", "admin.users.view"]}
    assert admin_client.post(f"{ROLES}{role.id}/do/set_permissions", data=data).status_code == 302
    db_session.expire_all()
    assert db_session.get(Role, role.id).permissions == {"admin.access", "admin.users.view"}
    (entry,) = entries(db_session, action="action:set_permissions")
    assert entry.changes == {"permissions": [[], ["admin.access", "admin.users.view"]]}
    refused = admin_client.post(
        f"{ROLES}{role.id}/do/set_permissions", data={"permissions": ["nope.nothing"]}, follow_redirects=True
    )
    assert "not a permission any enabled plugin declares" in refused.text
    db_session.expire_all()
    assert db_session.get(Role, role.id).permissions == {"admin.access", "admin.users.view"}


def test_reset_and_confirmation_links_are_queued_in_the_outbox(auth_app, db_session_for):
    pytest.importorskip("erlen_mail", reason="erlen-mail is not installed: mail is tested in the integration session")
    from erlen_auth.testing import make_user
    from erlen_mail.outbox.models import OutboxMessage

    app = auth_app(
        ["mail", "admin"],
        {"MAIL_DEFAULT_SENDER": "noreply@example.com", "AUTH_EMAIL_CONFIRMATION": True},
        create_all=True,
    )
    db = db_session_for(app)
    root = make_user(app, "root@example.com", superuser=True, db=db)
    ada = make_user(app, "ada@example.com", confirmed=False, db=db)
    client = login_as(app.test_client(), root)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    page = client.get(f"{USERS}{ada.id}/").text
    assert "Resend confirmation link" in page and "Send password reset link" in page
    assert client.post(f"{USERS}{ada.id}/do/send_reset").status_code == 302
    assert client.post(f"{USERS}{ada.id}/do/resend_confirmation").status_code == 302
    rows = list(db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [json.loads(row.recipients) for row in rows] == [["ada@example.com"], ["ada@example.com"]]
    assert b"/auth/reset/" in rows[0].raw and b"/auth/confirm/" in rows[1].raw
    actions = [entry.action for entry in entries(db)]
    assert actions == ["action:send_reset", "action:resend_confirmation"]
    # A confirmed account is not offered the confirmation link, nor is it sent.
    assert "Resend confirmation link" not in client.get(f"{USERS}{root.id}/").text
    refused = client.post(f"{USERS}{root.id}/do/resend_confirmation", follow_redirects=True)
    assert "does not apply" in refused.text
    assert len(list(db.scalars(sa.select(OutboxMessage)))) == 2


def test_without_mail_there_is_no_reset_or_confirmation_action(admin_client, create_user):
    ada = create_user("ada@example.com", confirmed=False)
    page = admin_client.get(f"{USERS}{ada.id}/").text
    assert "Send password reset link" not in page and "Resend confirmation link" not in page
    assert DEFAULT_PASSWORD not in page


def test_permission_groups_are_headed_as_the_dashboard_heads_plugins(app, admin_client, db_session):
    """Found walking the example app: a role's permission groups were headed by the plugins' identifiers
    (``<legend>auth</legend>``) where the dashboard and the sidebar read "Auth". Both headings now come from
    one function, erlen_admin.plugin_title: the plugin's declared title ("Accounts", which erlen-auth declares),
    else its name made a word ("Admin")."""
    admin_client.post(ROLES + "new", data={"name": "editors", "description": "Edit things"})
    role = db_session.scalar(sa.select(Role).where(Role.name == "editors"))
    page = admin_client.get(f"{ROLES}{role.id}/").text
    dashboard = admin_client.get("/admin/").text
    for plugin, title in (("auth", "Accounts"), ("admin", "Admin")):
        assert plugin_title(plugin, app) == title
        assert f">{title}</h2>" in dashboard and f"<legend>{title}</legend>" in page
        assert f"<legend>{plugin}</legend>" not in page
    assert ">Auth</h2>" not in dashboard and "<legend>Auth</legend>" not in page

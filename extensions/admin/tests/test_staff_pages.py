"""What a staff user (admin.access through a role, not a superuser) meets around the admin: the account menu's
link to it, and the pages it refuses."""

from __future__ import annotations

import re
import typing as t

import pytest
import sqlalchemy as sa

from erlen_auth.testing import login_as

ADMIN_LINK = '<a href="/admin/">Admin</a>'


@pytest.fixture
def with_role(app: t.Any, create_user: t.Any, db_session: t.Any) -> t.Any:
    """Make a user whose one role (named after the address) grants ``names``."""
    from erlen_auth import Role, grant

    def make(email: str, *names: str) -> t.Any:
        role_name = email.split("@")[0]
        user = create_user(email, roles=[role_name])
        role = db_session.scalar(sa.select(Role).where(Role.name == role_name))
        grant(role, *names, app=app)
        db_session.commit()
        return user

    return make


def header_of(html: str) -> str:
    return html.split("<main", 1)[0]


def test_the_account_menu_links_the_admin_for_staff_without_a_query_of_its_own(
    app, client, create_user, with_role, count_queries
):
    """Found walking the admin as a staff user: the menu linked the admin for superusers only, so a user whose
    role lets them in had to know its address. Deciding it costs no query: users without roles (most) pay
    nothing, and neither do those with roles."""
    users = {
        "staff": with_role("staff@example.com", "admin.access", "admin.library_book.view"),
        "role without admin": with_role("reader@example.com", "admin.library_book.view"),
        "no role": create_user("plain@example.com"),
        "superuser": create_user("root@example.com", superuser=True),
    }
    queries = {}
    for name, user in users.items():
        login_as(client, user)
        client.get("/auth/security")  # the first page after logging in may record the session's use
        with count_queries() as counter:
            page = client.get("/auth/security")
        assert page.status_code == 200, name
        assert (ADMIN_LINK in header_of(page.text)) == (name in ("staff", "superuser")), name
        queries[name] = len(counter.statements)
    assert len(set(queries.values())) == 1, queries


def test_an_error_page_in_the_admin_links_the_admin_for_staff(app, client, with_role):
    staff = with_role("staff@example.com", "admin.access")
    login_as(client, staff)
    refused = client.get("/admin/m/library_book/")  # the roles are loaded to refuse it
    assert refused.status_code == 403
    assert ADMIN_LINK in header_of(refused.text)


def test_a_refused_admin_page_names_the_permission_and_leads_back_to_the_dashboard(client, with_role):
    """Found walking the admin as a staff user: a refused page named the permission but offered only the site's
    home page, out of the admin."""
    login_as(client, with_role("staff@example.com", "admin.access", "admin.library_book.view"))
    refused = client.get("/admin/m/library_author/")
    assert refused.status_code == 403
    text = refused.text
    assert "&#39;admin.library_author.view&#39; (Admin: view authors)" in text
    assert '<a class="erlen-button" href="/admin/">Go to the admin dashboard</a>' in text
    # Someone who may not enter the admin is not sent to its dashboard.
    login_as(client, with_role("reader@example.com", "admin.library_book.view"))
    outside = client.get("/admin/")
    assert outside.status_code == 403
    assert "&#39;admin.access&#39; (Enter the admin interface)" in outside.text
    assert "Go to the admin dashboard" not in outside.text


def buttons_of(html: str) -> list[tuple[str, str]]:
    """The buttons of a page's main part, in order: ``(text, "primary" or "secondary")``."""
    main = html[html.index("<main") : html.index("</main>")]
    return [
        (text, "secondary" if "erlen-button-secondary" in classes.split() else "primary")
        for classes, text in re.findall(r'<a class="(erlen-button[^"]*)" href="[^"]*">([^<]*)</a>', main)
    ]


def test_a_refused_admin_page_has_one_primary_button(client, with_role):
    """Found walking the admin as a staff user: the 403 page showed "Go to the admin dashboard" and "Go back" (or
    "Go to the home page") as buttons of equal weight. Inside the admin the dashboard is the likely next step: the
    one primary button, the other beside it as a secondary one."""
    login_as(client, with_role("staff@example.com", "admin.access", "admin.library_book.view"))
    came_from = {"Referer": "http://localhost/admin/m/library_book/"}
    assert buttons_of(client.get("/admin/m/library_author/", headers=came_from).text) == [
        ("Go to the admin dashboard", "primary"),
        ("Go back", "secondary"),
    ]
    assert buttons_of(client.get("/admin/m/library_author/").text) == [
        ("Go to the admin dashboard", "primary"),
        ("Go to the home page", "secondary"),
    ]
    # Someone who may not enter the admin gets Erlen's error page as it is: going back is the likely step.
    login_as(client, with_role("reader@example.com", "admin.library_book.view"))
    assert buttons_of(client.get("/admin/", headers={"Referer": "http://localhost/auth/security"}).text) == [
        ("Go back", "primary"),
        ("Go to the home page", "secondary"),
    ]


def test_a_users_history_panel_shows_only_the_audit_entries_the_viewer_may_see(
    client, superuser, with_role, db_session
):
    """Found walking the admin as a staff user: a user's page listed every change the user made, those of roles
    too, to someone who may view users and the audit log but not roles (the audit log itself hid them, and the
    panel's links to them answered 404)."""
    from erlen_admin.models import AuditEntry

    def entry(model: str, object_repr: str) -> None:
        db_session.add(
            AuditEntry(
                action="edit",
                model=model,
                object_id="1",
                object_repr=object_repr,
                user_id=superuser.id,
                user_email=superuser.email,
                changes={},
            )
        )

    entry("users", "an account seen")
    entry("roles", "a role not seen")
    db_session.commit()
    login_as(client, with_role("staff@example.com", "admin.access", "admin.users.view", "admin.audit.view"))
    page = client.get(f"/admin/m/users/{superuser.id}/").text
    assert "an account seen" in page
    assert "a role not seen" not in page

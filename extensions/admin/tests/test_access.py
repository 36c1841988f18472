"""Access control: admin.access to enter, a permission per model and operation, 403s, 404s and log-in redirects."""

from __future__ import annotations

import pytest

from erlen_auth import permissions_of
from erlen_auth.testing import login_as


@pytest.fixture
def staff(app, create_user, db_session):
    """Users with admin access and some model permissions, by role."""
    import sqlalchemy as sa

    from erlen_auth import Role, grant

    def make(email: str, *names: str):
        user = create_user(email, roles=[email.split("@")[0]])
        role = db_session.scalar(sa.select(Role).where(Role.name == email.split("@")[0]))
        grant(role, *names, app=app)
        db_session.commit()
        return user

    return make


def test_permissions_are_registered_with_auth(app, db_session):
    known = permissions_of(app)
    assert "admin.access" in known
    for operation in ("view", "create", "edit", "delete"):
        assert known[f"admin.library_book.{operation}"].plugin == "admin"
    assert "admin.audit.view" in known


def test_read_only_views_declare_only_the_operations_they_offer(app, db_session):
    """The audit log cannot be created, edited or deleted through the admin: a role's page offered
    admin.audit.create, .edit and .delete all the same, each granting nothing."""
    from erlen_admin import registry_of

    known = permissions_of(app)
    for operation in ("create", "edit", "delete"):
        assert f"admin.audit.{operation}" not in known
    for view in registry_of(app).models.values():
        for operation in ("view", "create", "edit", "delete", "export"):
            name = view.permission(operation)
            if view.offers(operation):
                assert name in known, (view.slug, operation)
            elif name.startswith(f"admin.{view.slug}."):
                assert name not in known, (view.slug, operation)


def test_anonymous_users_are_sent_to_log_in(client, db_session):
    for path in ("/admin/", "/admin/m/library_book/", "/admin/m/library_book/1/", "/admin/m/nothing/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/auth/login" in response.headers["Location"]


def test_anonymous_posts_are_refused(client, db_session):
    from erlen_forms.testing import csrf_token_for

    token = csrf_token_for(client)
    response = client.post("/admin/m/library_book/action", data={"action": "delete", "ids": "1", "csrf_token": token})
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_users_without_admin_access_get_403(client, create_user, db_session):
    login_as(client, create_user("plain@example.com"))
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/m/library_book/").status_code == 403


def test_model_permissions(app, client, staff, books):
    user = staff("viewer@example.com", "admin.access", "admin.library_book.view")
    login_as(client, user)
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200
    assert "/admin/m/library_book/" in dashboard.text
    assert "/admin/m/library_author/" not in dashboard.text  # no permission: not shown
    assert client.get("/admin/m/library_author/").status_code == 403
    listing = client.get("/admin/m/library_book/")
    assert listing.status_code == 200
    assert "Add book" not in listing.text
    assert "Delete selected" not in listing.text
    ident = books[0].id
    assert client.get(f"/admin/m/library_book/{ident}/").status_code == 200
    assert client.get("/admin/m/library_book/new").status_code == 403
    assert client.get(f"/admin/m/library_book/{ident}/edit").status_code == 403
    assert client.get(f"/admin/m/library_book/{ident}/delete").status_code == 403
    from erlen_forms.testing import csrf_token_for

    token = csrf_token_for(client)
    response = client.post(f"/admin/m/library_book/{ident}/delete", data={"csrf_token": token})
    assert response.status_code == 403
    response = client.post(
        "/admin/m/library_book/action", data={"action": "delete", "ids": str(ident), "csrf_token": token}
    )
    assert response.status_code == 403


def test_editor_can_edit_but_not_delete(app, client, staff, books):
    user = staff("editor@example.com", "admin.access", "admin.library_book.view", "admin.library_book.edit")
    login_as(client, user)
    ident = books[0].id
    assert client.get(f"/admin/m/library_book/{ident}/edit").status_code == 200
    assert client.get(f"/admin/m/library_book/{ident}/delete").status_code == 403
    page = client.get("/admin/m/library_book/").text
    assert 'value="publish"' in page
    assert 'value="delete"' not in page


def test_superusers_can_do_everything(admin_client, books):
    ident = books[0].id
    for path in (
        "/admin/",
        "/admin/m/library_book/",
        "/admin/m/library_book/new",
        f"/admin/m/library_book/{ident}/",
        f"/admin/m/library_book/{ident}/edit",
        f"/admin/m/library_book/{ident}/delete",
        "/admin/m/audit/",
        "/admin/p/statistics",
    ):
        assert admin_client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "path",
    [
        "/admin/m/nothing/",
        "/admin/m/nothing/1/",
        "/admin/m/nothing/new",
        "/admin/m/library_book/999999/",
        "/admin/m/library_book/999999/edit",
        "/admin/m/library_book/999999/delete",
        "/admin/m/library_book/not-a-number/",
        "/admin/m/library_book/99999999999999999999999/",  # beyond every database's integers
        "/admin/m/library_book/99999999999999999999999/edit",
        "/admin/m/library_book/-9223372036854775809/delete",
        "/admin/m/library_book/2147483648/",  # beyond PostgreSQL's integer
        "/admin/m/library_book/1%27%20OR%201=1--/",
        "/admin/p/nothing",
        "/admin/m/audit/new",  # the audit log cannot be written through the admin
    ],
)
def test_unknown_models_and_objects_are_404(admin_client, books, path):
    assert admin_client.get(path).status_code == 404


def test_audit_log_cannot_be_edited_or_deleted(admin_client, books, db_session):
    import sqlalchemy as sa

    from erlen_admin.models import AuditEntry

    admin_client.post(f"/admin/m/library_book/{books[0].id}/delete")
    session = db_session
    entry = session.scalars(sa.select(AuditEntry)).first()
    assert entry is not None
    assert admin_client.get(f"/admin/m/audit/{entry.id}/").status_code == 200
    assert admin_client.get(f"/admin/m/audit/{entry.id}/edit").status_code == 404
    assert admin_client.post(f"/admin/m/audit/{entry.id}/delete").status_code == 404
    response = admin_client.post("/admin/m/audit/action", data={"action": "delete", "ids": str(entry.id)})
    assert response.status_code == 302  # no such action: back to the list, nothing done
    assert session.get(AuditEntry, entry.id) is not None


def test_fk_search_is_open_to_those_who_may_see_the_model(app, client, staff, admin_client, books):
    assert admin_client.get("/_forms/fk/library_book/author_id?q=Ad").status_code == 200
    assert "Ada" in admin_client.get("/_forms/fk/library_book/author_id?q=Ad").text
    # A viewer filters the list by author, whose labels the list shows anyway.
    viewer = staff("viewer@example.com", "admin.access", "admin.library_book.view")
    other = app.test_client()
    login_as(other, viewer)
    assert other.get("/_forms/fk/library_book/author_id?q=Ad").status_code == 200
    stranger = staff("stranger@example.com", "admin.access", "admin.library_author.view")
    third = app.test_client()
    login_as(third, stranger)
    assert third.get("/_forms/fk/library_book/author_id?q=Ad").status_code == 403
    assert app.test_client().get("/_forms/fk/library_book/author_id?q=Ad").status_code == 403


def test_the_users_audit_entries_are_exported_and_anonymised_with_the_account(
    app, admin_client, superuser, books, db_session
):
    import sqlalchemy as sa

    from erlen_admin.models import AuditEntry
    from erlen_auth import delete_account, export_user

    admin_client.post(f"/admin/m/library_book/{books[0].id}/delete")
    user_id = superuser.id
    with app.test_request_context():
        (entry,) = export_user(superuser)["data"]["admin"]["audit_log"]
        assert entry["action"] == "delete" and entry["model"] == "library_book"
        assert "changes" not in entry  # what was changed is others' data
        delete_account(superuser, notice=False)
    db_session.expire_all()
    (kept,) = db_session.scalars(sa.select(AuditEntry)).all()
    assert kept.action == "delete" and kept.user_id is None and kept.user_email is None
    left = sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.user_id == user_id)
    assert db_session.scalar(left) == 0


def test_a_403_names_the_missing_permission_and_how_to_grant_it(client, staff, books):
    """A bare "You do not have permission to see this page" left the person, and the administrator they asked,
    guessing which of admin.access and the model's permissions was missing."""
    from erlen_forms.testing import csrf_token_for

    login_as(client, staff("plain@example.com"))
    refused = client.get("/admin/")
    assert refused.status_code == 403
    assert "lacks the permission &#39;admin.access&#39;" in refused.text
    assert "Ask an administrator to grant it to one of your roles." in refused.text
    # A command line helps only whom may grant roles: a person who may not is not shown one.
    assert "erlen role grant" not in refused.text

    login_as(client, staff("granter@example.com", "admin.access", "auth.manage_roles"))
    helped = client.get("/admin/m/library_author/")
    assert helped.status_code == 403
    assert "on the role&#39;s page in the admin, or with erlen role grant ROLE admin.library_author.view" in helped.text

    login_as(client, staff("viewer@example.com", "admin.access", "admin.library_book.view"))
    for url, permission in [
        ("/admin/m/library_author/", "admin.library_author.view"),
        ("/admin/m/library_book/new", "admin.library_book.create"),
        (f"/admin/m/library_book/{books[0].id}/edit", "admin.library_book.edit"),
        (f"/admin/m/library_book/{books[0].id}/delete", "admin.library_book.delete"),
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert f"lacks the permission &#39;{permission}&#39;" in response.text, url
    token = csrf_token_for(client)
    bulk = client.post(
        "/admin/m/library_book/action", data={"action": "delete", "ids": str(books[0].id), "csrf_token": token}
    )
    assert bulk.status_code == 403
    assert "lacks the permission &#39;admin.library_book.delete&#39;" in bulk.text
    # JSON clients get it as the problem's detail.
    answer = client.get("/admin/m/library_author/", headers={"Accept": "application/json"})
    assert answer.status_code == 403 and "admin.library_author.view" in answer.get_data(as_text=True)

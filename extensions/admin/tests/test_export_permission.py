"""Who may export: ``view`` is enough unless the app (``ADMIN_EXPORT_PERMISSION``) or the view asks for more."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from erlen_admin import ModelView
from erlen_auth import Role, grant, permissions_of
from erlen_auth.testing import FAST_HASHING, login_as

BOOKS = "/admin/m/library_book/"
EXPORT_BUTTON = "Export CSV"


@pytest.fixture(params=[False, True], ids=["view-exports", "export-permission"])
def separate(request: pytest.FixtureRequest) -> bool:
    """``ADMIN_EXPORT_PERMISSION``: off (the default, as before) and on."""
    return t.cast(bool, request.param)


@pytest.fixture
def erlen_config(database_url: str, separate: bool) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING, "ADMIN_EXPORT_PERMISSION": separate}


@pytest.fixture
def login_with(app, client, create_user, db_session):
    """Log ``client`` in as a new user whose one role has ``names``."""

    def log_in(email: str, *names: str) -> None:
        role_name = email.split("@")[0]
        user = create_user(email, roles=[role_name])
        grant(db_session.scalar(sa.select(Role).where(Role.name == role_name)), *names, app=app)
        db_session.commit()
        login_as(client, user)

    return log_in


def test_who_may_export(app, client, login_with, books, separate):
    known = permissions_of(app)
    assert ("admin.library_book.export" in known) is separate
    assert ("admin.audit.export" in known) is separate
    login_with("viewer@example.com", "admin.access", "admin.library_book.view")
    listing = client.get(BOOKS)
    assert listing.status_code == 200
    export = client.get(BOOKS + "export.csv")
    if not separate:
        # The default, as before: the roles that may view may export, and see the button.
        assert EXPORT_BUTTON in listing.text
        assert export.status_code == 200 and export.get_data(as_text=True).startswith("Id,Title")
        return
    # Before, ADMIN_EXPORT_PERMISSION did not exist: viewing was always enough to export the whole table.
    assert EXPORT_BUTTON not in listing.text
    assert export.status_code == 403
    assert "lacks the permission &#39;admin.library_book.export&#39;" in export.text
    assert known["admin.library_book.export"].plugin == "admin"


@pytest.mark.parametrize("separate", [True], ids=["export-permission"])
def test_the_export_permission_needs_view_too(app, client, login_with, books, separate):
    login_with("exporter@example.com", "admin.access", "admin.library_book.view", "admin.library_book.export")
    assert EXPORT_BUTTON in client.get(BOOKS).text
    rows = client.get(BOOKS + "export.csv").get_data(as_text=True).splitlines()
    assert len(rows) == 46
    # The export alone does not show rows the user may not view.
    login_with("blind@example.com", "admin.access", "admin.library_book.export")
    refused = client.get(BOOKS + "export.csv")
    assert refused.status_code == 403
    assert "lacks the permission &#39;admin.library_book.view&#39;" in refused.text


@pytest.mark.parametrize("separate", [True], ids=["export-permission"])
def test_superusers_export_whatever_the_setting(admin_client, books, separate):
    assert admin_client.get(BOOKS + "export.csv").status_code == 200
    assert admin_client.get("/admin/m/audit/export.csv").status_code == 200


def test_a_view_chooses_for_itself(models):
    # The app's setting is applied by the registry to views that leave it to the app (None, the default).
    follows = ModelView(models.Book)
    assert follows.separate_export_permission is None and follows.permission("export") == "admin.library_book.view"
    own = ModelView(models.Book, separate_export_permission=True)
    assert own.permission("export") == "admin.library_book.export"
    assert "admin.library_book.export" in own.permissions()
    borrowed = ModelView(models.Book, permissions={"export": "library.export_books"})
    assert borrowed.permission("export") == "library.export_books"
    assert "library.export_books" not in borrowed.permissions()  # the plugin declares it
    never = ModelView(models.Book, separate_export_permission=True, can_export=False)
    assert "admin.library_book.export" not in never.permissions()


@pytest.mark.parametrize("separate", [True], ids=["export-permission"])
def test_a_view_may_keep_view_enough_under_the_setting(app, separate):
    from erlen_admin import registry_of

    registry = registry_of(app)
    assert registry.models["library_book"].permission("export") == "admin.library_book.export"
    kept = ModelView(registry.models["library_book"].model, slug="kept", separate_export_permission=False)
    assert kept.permission("export") == "admin.kept.view"

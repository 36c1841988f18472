"""Secret-looking columns (password hashes, session tokens) never reach the browser through the admin's pages."""

from __future__ import annotations

import pytest
from conftest import PLUGINS


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.accounts"]


def test_forms_leave_out_secret_columns_by_default(admin_client, superuser):
    for path in (
        f"/admin/m/sample_users/{superuser.id}/edit",
        "/admin/m/sample_users/new",
        f"/admin/m/sample_users/{superuser.id}/",
    ):
        html = admin_client.get(path).text
        assert 'name="email"' in html or path.endswith("/")
        assert superuser.password_hash not in html
        assert superuser.session_token not in html
        assert 'name="password_hash"' not in html
        assert 'name="session_token"' not in html


def test_editing_without_the_secret_fields_keeps_them(admin_client, superuser, db_session):
    from erlen_auth.models import User

    password_hash, token = superuser.password_hash, superuser.session_token
    form = {"email": "boss@example.com", "email_key": "boss@example.com", "is_active": "y", "is_superuser": "y"}
    response = admin_client.post(f"/admin/m/sample_users/{superuser.id}/edit", data=form)
    assert response.status_code == 302, response.text
    db_session.expire_all()
    user = db_session.get(User, superuser.id)
    assert (user.email, user.password_hash, user.session_token) == ("boss@example.com", password_hash, token)


def test_listing_a_secret_column_in_form_columns_puts_it_in_the_form(app):
    from erlen_admin import ModelView
    from erlen_auth.models import User

    with app.app_context():
        form = ModelView(User, form_columns=["email", "session_token"]).form_class()
        assert "session_token" in form()._fields

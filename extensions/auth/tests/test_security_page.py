"""The account's security page: one page with every section, the plugin's and other plugins'."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from auth_helpers import log_in, post_form

import erlen
from erlen_auth.testing import DEFAULT_PASSWORD


@pytest.fixture
def erlen_plugins():
    return ["db", "forms", "auth", "auth_sample_plugins.security_extra"]


def test_the_page_shows_every_section_in_order(app, client, create_user, db_session):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    page = client.get("/auth/security")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    titles = re.findall(r'<h2 id="security-\d+-title">([^<]+)</h2>', page.text)
    assert titles.index("Blog authors") < titles.index("Password") < titles.index("Sessions")
    assert '<p id="sample-section">Blog author since' in page.text
    assert 'href="/auth/password"' in page.text and 'href="/auth/sessions"' in page.text
    assert "ada@example.com" in page.text


def test_anonymous_users_log_in_first(client):
    response = client.get("/auth/security")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login?next=/auth/security"


def test_a_section_that_is_not_a_section_names_the_plugin(make_db_app):
    with pytest.raises(erlen.PluginError, match=r"auth_sample_plugins\.bad_section.*SecuritySection"):
        make_db_app(["forms", "auth", "auth_sample_plugins.bad_section"])


mail = pytest.importorskip("erlen_mail", reason="notices need erlen-mail: tested in the integration session")


@pytest.fixture
def mail_app(auth_app):
    return auth_app(["mail"], {"MAIL_DEFAULT_SENDER": "noreply@example.com", "MAIL_BACKEND": "memory"}, create_all=True)


def _outbox(app):
    from erlen_db import database_of
    from erlen_mail.outbox.models import OutboxMessage

    with database_of(app).session_scope() as session:
        return [(row.recipients, row.subject) for row in session.scalars(sa.select(OutboxMessage))]


def test_a_password_change_queues_a_notice_with_the_change(mail_app):
    from erlen_auth.testing import make_user

    make_user(mail_app, "ada@example.com")
    client = mail_app.test_client()
    log_in(client, "ada@example.com")
    new = "another long passphrase"
    post_form(client, "/auth/password", {"current": DEFAULT_PASSWORD, "password": new, "confirm": new})
    assert [subject for _, subject in _outbox(mail_app)] == ["Your password was changed"]


def test_no_notice_when_notices_are_off(auth_app):
    from erlen_auth.testing import make_user

    app = auth_app(
        ["mail"],
        {"MAIL_DEFAULT_SENDER": "noreply@example.com", "MAIL_BACKEND": "memory", "AUTH_SECURITY_NOTICES": False},
        create_all=True,
    )
    make_user(app, "ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    new = "another long passphrase"
    post_form(client, "/auth/password", {"current": DEFAULT_PASSWORD, "password": new, "confirm": new})
    assert _outbox(app) == []

"""Re-authentication for sensitive actions: a recent proof of who the user is, kept on the log-in session."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from auth_helpers import log_in, post_form

from erlen_auth import reauthentication_required, recently_authenticated
from erlen_auth.models import LoginSession
from erlen_auth.testing import DEFAULT_PASSWORD


@pytest.fixture
def erlen_config(erlen_config):
    return {**erlen_config, "AUTH_THROTTLE_ACCOUNT_LIMIT": 3}


@pytest.fixture
def sensitive(app):
    @app.route("/sensitive", methods=["GET", "POST"])
    @reauthentication_required
    def sensitive_view():
        return "done"

    return "/sensitive"


def _age_proofs(db_session, minutes: int) -> None:
    """Make every session's last proof ``minutes`` old, as if the user had logged in that long ago."""
    db_session.execute(
        sa.update(LoginSession).values(reauthenticated_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes))
    )
    db_session.commit()


def test_logging_in_counts_as_a_recent_proof(app, client, create_user, db_session, sensitive):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    assert client.get(sensitive).text == "done"


def test_an_old_proof_sends_to_the_password_page_and_back(app, client, create_user, db_session, sensitive):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    _age_proofs(db_session, 11)
    response = client.get(sensitive + "?tab=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/reauthenticate?next=/sensitive?tab%3D2"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "Confirm it is you" in page.text
    assert 'autocomplete="current-password"' in page.text
    done = post_form(client, "/auth/reauthenticate", {"password": DEFAULT_PASSWORD, "next": "/sensitive?tab=2"})
    assert done.status_code == 302 and done.headers["Location"] == "/sensitive?tab=2"
    assert client.get(sensitive).text == "done"


def test_a_posted_form_without_a_recent_proof_is_not_submitted(app, client, create_user, db_session, sensitive):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    _age_proofs(db_session, 60)
    response = post_form(client, sensitive)
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/reauthenticate")


def test_json_clients_get_a_401(app, client, create_user, db_session, sensitive):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    _age_proofs(db_session, 60)
    response = client.get(sensitive, headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.json["error"] == "reauthentication_required"


def test_anonymous_users_log_in_first(app, client, sensitive):
    response = client.get(sensitive)
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login?next=")


def test_a_wrong_password_is_refused_and_counted_as_a_failed_log_in(app, client, create_user, db_session, sensitive):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    _age_proofs(db_session, 60)
    for _ in range(3):
        page = post_form(client, "/auth/reauthenticate", {"password": "not it", "next": sensitive})
        assert page.status_code == 200 and "This is not your password." in page.text
    throttled = post_form(client, "/auth/reauthenticate", {"password": DEFAULT_PASSWORD, "next": sensitive})
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers
    assert client.get(sensitive).status_code == 302


def test_the_next_page_must_be_of_this_site(app, client, create_user, db_session):
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    done = post_form(client, "/auth/reauthenticate", {"password": DEFAULT_PASSWORD, "next": "https://evil.example/"})
    assert done.status_code == 302 and done.headers["Location"] == "/auth/security"


def test_the_proof_belongs_to_one_session(app, create_user, db_session, sensitive):
    create_user("ada@example.com")
    here, there = app.test_client(), app.test_client()
    log_in(here, "ada@example.com")
    log_in(there, "ada@example.com")
    _age_proofs(db_session, 60)
    post_form(here, "/auth/reauthenticate", {"password": DEFAULT_PASSWORD})
    assert here.get(sensitive).text == "done"
    assert there.get(sensitive).status_code == 302


def test_the_window_is_a_setting(app, client, create_user, db_session, sensitive):
    app.config["AUTH_REAUTH_MINUTES"] = 120
    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    _age_proofs(db_session, 60)
    assert client.get(sensitive).text == "done"


def test_recently_authenticated_outside_a_log_in_is_false(app):
    with app.test_request_context():
        assert recently_authenticated() is False


def test_the_setting_is_checked(make_app):
    import erlen

    with pytest.raises(erlen.ConfigError, match="AUTH_REAUTH_MINUTES"):
        make_app(["db", "forms", "auth"], {"AUTH_REAUTH_MINUTES": 0})

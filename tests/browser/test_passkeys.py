"""Passkeys in a real browser: Chromium's virtual authenticator (through the DevTools protocol) stands for the
phone or laptop. A user adds a passkey, logs out, signs in with it and no password, confirms a sensitive
action with it, and removes it.

The app (db, forms, auth) runs outside testing and debug mode, served by werkzeug on 127.0.0.1 and visited
as http://localhost:<port>: a secure context for WebAuthn, whose relying party id must be a domain
("localhost"), never an IP address; a loopback host is one the passkeys may take the origin from.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

EMAIL = "ada@example.com"


class Site:
    """An app with db, forms and auth on SQLite, with one user, served on 127.0.0.1 in a thread."""

    def __init__(self, tmp_path: Path) -> None:
        from werkzeug.serving import make_server

        import erlen
        from erlen.testing import TESTING_SECRET_KEY
        from erlen_auth.testing import FAST_HASHING, make_user
        from erlen_db import database_of

        self.app = erlen.create_app(
            "passkeys_browser_app",
            {
                "PLUGINS": ["db", "forms", "auth"],
                "SECRET_KEY": TESTING_SECRET_KEY,
                "DB_URL": f"sqlite:///{tmp_path / 'passkeys.sqlite3'}",
                # Plain HTTP on localhost: the cookies must travel without TLS.
                "SESSION_COOKIE_SECURE": False,
                "REMEMBER_COOKIE_SECURE": False,
                **FAST_HASHING,
            },
            environ={},
            instance_path=str(tmp_path / "instance"),
        )
        database_of(self.app).create_all()
        make_user(self.app, EMAIL)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://localhost:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="passkeys-e2e", daemon=True)
        self.thread.start()

    def age_reauthentication(self) -> None:
        """Make the user's proof of identity older than ``AUTH_REAUTH_MINUTES``, as time passing would."""
        import sqlalchemy as sa

        from erlen_auth.models import LoginSession
        from erlen_db import database_of

        with self.app.app_context():
            session = database_of(self.app).session
            old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
            session.execute(sa.update(LoginSession).values(reauthenticated_at=old))
            session.commit()

    def close(self) -> None:
        from erlen_db import database_of

        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        database_of(self.app).dispose()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    served = Site(tmp_path)
    try:
        yield served
    finally:
        served.close()


def _with_authenticator(browser: t.Any) -> tuple[t.Any, t.Any, t.Any, str]:
    """A new context and page with Chromium's virtual authenticator: resident keys, user verified."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]
    return context, page, cdp, authenticator


def _log_in_and_add_a_passkey(page: t.Any, site: Site, name: str) -> None:
    from erlen_auth.testing import DEFAULT_PASSWORD

    page.goto(site.url + "/auth/login?next=/auth/security")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_role("link", name="Add a passkey").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Add the passkey").click()
    page.get_by_text(f"The passkey “{name}” was added.").wait_for()


def test_add_a_passkey_sign_in_with_it_and_remove_it(browser: t.Any, site: Site) -> None:
    from erlen_auth.testing import DEFAULT_PASSWORD

    context, page, cdp, authenticator = _with_authenticator(browser)

    # Log in with the password and add a passkey from the security page.
    page.goto(site.url + "/auth/login?next=/auth/security")
    page.get_by_role("button", name="Log in with a passkey").wait_for()  # the browser has WebAuthn
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_role("heading", name="Passkeys").wait_for()
    assert "You have no passkey." in page.content()
    page.get_by_role("link", name="Add a passkey").click()
    page.get_by_label("Name").fill("This laptop")
    page.get_by_role("button", name="Add the passkey").click()
    page.get_by_text("The passkey “This laptop” was added.").wait_for()
    assert page.url == site.url + "/auth/security"
    assert "never used" in page.content()
    (stored,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert stored["isResidentCredential"] and stored["rpId"] == "localhost"

    # Log out, then sign in with the passkey alone: no email, no password.
    page.goto(site.url + "/auth/sessions")
    page.locator("#erlen-account-menu > summary").click()  # the account menu holds "Log out"
    page.locator("#erlen-account-menu").get_by_role("button", name="Log out").click()
    page.goto(site.url + "/auth/login?next=/auth/security")
    page.get_by_role("button", name="Log in with a passkey").click()
    page.get_by_role("heading", name="Passkeys").wait_for()
    assert page.url == site.url + "/auth/security"
    assert "last used" in page.content() and "This laptop" in page.content()

    # Removing it is sensitive: once the proof of identity is old, the passkey confirms it is the user.
    site.age_reauthentication()
    page.get_by_role("link", name="Remove").click()
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    page.get_by_role("button", name="Confirm with a passkey").click()
    page.get_by_role("heading", name="Remove the passkey “This laptop”?").wait_for()
    page.get_by_role("button", name="Remove the passkey").click()
    page.get_by_text("The passkey “This laptop” was removed.").wait_for()
    assert "You have no passkey." in page.content()

    # The authenticator still holds it, but the site no longer knows it: signing in with it is refused.
    page.goto(site.url + "/auth/sessions")
    page.locator("#erlen-account-menu > summary").click()  # the account menu holds "Log out"
    page.locator("#erlen-account-menu").get_by_role("button", name="Log out").click()
    page.goto(site.url + "/auth/login")
    page.get_by_role("button", name="Log in with a passkey").click()
    page.get_by_text("This passkey is not registered on this site.").wait_for()
    context.close()


def test_a_passkey_answers_the_second_step_of_a_password_sign_in(browser: t.Any, site: Site) -> None:
    import pyotp
    import sqlalchemy as sa

    from erlen_auth import totp
    from erlen_auth.models import User
    from erlen_auth.testing import DEFAULT_PASSWORD
    from erlen_db import database_of

    context, page, _, _ = _with_authenticator(browser)
    _log_in_and_add_a_passkey(page, site, "Phone")
    page.goto(site.url + "/auth/sessions")
    page.locator("#erlen-account-menu > summary").click()  # the account menu holds "Log out"
    page.locator("#erlen-account-menu").get_by_role("button", name="Log out").click()
    # The user turns TOTP on (here in code: its own pages are tested with TOTP), so password sign-ins ask for more.
    with site.app.test_request_context():
        user = database_of(site.app).session.scalar(sa.select(User).where(User.email_key == EMAIL))
        assert user is not None
        assert totp.verify_enrolment(user, pyotp.TOTP(totp.start_enrolment(user)).now())

    page.goto(site.url + "/auth/login?next=/auth/security")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_role("heading", name="Two-factor authentication").wait_for()
    page.get_by_role("button", name="Use a passkey").click()
    page.get_by_role("heading", name="Passkeys").wait_for()
    assert page.url == site.url + "/auth/security"
    assert "last used" in page.content()
    context.close()

"""Signing in with an OpenID Connect provider in a real browser: the example app and a provider on loopback.

The example app (``examples/notes``) is served by werkzeug on 127.0.0.1 with
``AUTH_OIDC_PROVIDERS`` naming :class:`erlen_auth.testing_oidc.TestProvider`,
a real provider served on another port: Chromium follows every redirect
between the two, as it would with Google. Without Chromium or Playwright
the test skips, unless ``ERLEN_REQUIRE_SERVICES=1`` (CI), where it fails.
"""

from __future__ import annotations

import json
import re
import threading
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest


class Site:
    """The example app with a test provider, migrated, with its demo admin, served on 127.0.0.1."""

    def __init__(self, tmp_path: Path) -> None:
        import notes_app
        from werkzeug.serving import make_server

        from erlen_auth.testing import FAST_HASHING
        from erlen_auth.testing_oidc import TestProvider

        self.provider = TestProvider(redirect_uris=()).start()
        environ = {
            "ERLEN_DB_URL": f"sqlite:///{tmp_path / 'notes.sqlite3'}",
            "ERLEN_MAIL_BACKEND": "file",
            "ERLEN_MAIL_FILE_PATH": str(tmp_path / "mail"),
            "ERLEN_AUTH_OIDC_PROVIDERS": json.dumps({"test": self.provider.config(label="Test ID")}),
            **{f"ERLEN_{key}": str(value) for key, value in FAST_HASHING.items()},
        }
        self.app = notes_app.create_app(environ, instance_path=str(tmp_path / "instance"))
        demo = self.app.test_cli_runner().invoke(args=["demo", "--no-serve"])
        assert demo.exit_code == 0, demo.output
        found = re.search(r"email: +(\S+)\n +password: +(\S+)", demo.output)
        assert found, demo.output
        self.admin_email, self.admin_password = found.groups()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.provider.redirect_uris.append(f"{self.url}/auth/oidc/test/callback")
        self.thread = threading.Thread(target=self.server.serve_forever, name="oidc-e2e", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.provider.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")
    served = Site(tmp_path)
    try:
        yield served
    finally:
        served.close()


def test_a_visitor_signs_up_with_a_provider_and_an_owner_links_one(browser: t.Any, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)

    # A new visitor signs in with the provider: an account is made, and they land where they were going.
    site.provider.sign_in("grace-1", "grace@example.com")
    page.goto(site.url + "/")
    assert page.url.startswith(site.url + "/auth/login")
    page.get_by_role("button", name="Sign in with Test ID").click()
    page.get_by_role("link", name="Write a note").wait_for()
    page.goto(site.url + "/auth/security")
    page.get_by_role("heading", name="Linked accounts").wait_for()
    assert "grace@example.com" in page.content()
    assert "This is the only way into your account" in page.content()
    page.locator("#erlen-account-menu > summary").click()  # the account menu holds "Log out"
    page.get_by_role("button", name="Log out").first.click()

    # The provider vouches for the admin's address: the admin's password is asked before anything is linked.
    site.provider.sign_in("admin-at-provider", site.admin_email)
    page.goto(site.url + "/auth/login")
    page.get_by_role("button", name="Sign in with Test ID").click()
    page.get_by_role("heading", name="An account with this email exists").wait_for()
    page.get_by_label("Password").fill(site.admin_password)
    page.get_by_role("button", name="Log in and link Test ID").click()
    page.get_by_role("link", name="Write a note").wait_for()
    page.goto(site.url + "/auth/security")
    assert "admin-at-provider" not in page.content()  # the subject is not shown; the address is
    assert page.get_by_role("button", name="Unlink").count() == 1

    # Signed out, the provider alone now signs the admin in.
    page.locator("#erlen-account-menu > summary").click()  # the account menu holds "Log out"
    page.get_by_role("button", name="Log out").first.click()
    page.goto(site.url + "/auth/login")
    page.get_by_role("button", name="Sign in with Test ID").click()
    page.locator("#erlen-account-menu a[href$='/admin/']").wait_for(state="attached")  # in the account menu
    context.close()

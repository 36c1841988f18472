"""Personal access tokens in a real browser: a user makes one on the security page, sees it once, a script uses
it, and the user revokes it.

A small app (db, forms, auth on a fresh SQLite file) with one route that accepts tokens is served by werkzeug on
127.0.0.1 in a thread; Playwright drives Debian's Chromium (``/usr/bin/chromium``, or ``ERLEN_CHROMIUM``) and its
API client plays the script. Without Chromium or Playwright the test skips, unless ``ERLEN_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import re
import threading
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import jsonify
from test_example_e2e import PASSWORD

import erlen
from erlen.testing import TESTING_SECRET_KEY


class TokenSite:
    """The app, with the user ada@example.com (role "editor": notes.read and notes.write), served on 127.0.0.1."""

    def __init__(self, tmp_path: Path) -> None:
        from werkzeug.serving import make_server

        from erlen_auth import Role, current_user, token_auth
        from erlen_auth.testing import FAST_HASHING, make_user
        from erlen_db import database_of

        config = {
            "PLUGINS": ["db", "forms", "auth"],
            "SECRET_KEY": TESTING_SECRET_KEY,
            "DB_URL": f"sqlite:///{tmp_path / 'tokens.sqlite3'}",
            "AUTH_PERMISSIONS": {"notes.read": "Read notes", "notes.write": "Write notes"},
            "SESSION_COOKIE_SECURE": False,  # plain HTTP on 127.0.0.1
            "REMEMBER_COOKIE_SECURE": False,
            **FAST_HASHING,
        }
        self.app = app = erlen.create_app(__name__, config, environ={})

        @app.post("/api/notes")
        @token_auth(scopes=["notes.write"])
        def write_note() -> t.Any:
            return jsonify(author=current_user.email)

        database_of(app).create_all()
        user = make_user(app, "ada@example.com", password=PASSWORD, roles=["editor"])
        with app.app_context():
            from erlen_db import get_session

            db = get_session()
            role = db.query(Role).filter_by(name="editor").one()
            role.grant("notes.read")
            role.grant("notes.write")
            db.commit()
        self.user_id = user.id
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="tokens-e2e", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[TokenSite]:
    served = TokenSite(tmp_path)
    try:
        yield served
    finally:
        served.close()


def test_a_user_makes_a_token_a_script_uses_it_and_the_user_revokes_it(browser: t.Any, site: TokenSite) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)

    page.goto(site.url + "/auth/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(site.url + "/")

    page.goto(site.url + "/auth/security")
    page.get_by_role("heading", name="Access tokens").wait_for()
    assert "You have no access tokens." in page.content()
    page.get_by_role("link", name="Create a token").click()
    page.get_by_label("Name").fill("nightly export")
    page.get_by_label(re.compile(r"^notes\.write")).check()
    page.get_by_label("Expires").select_option("30")
    page.get_by_role("button", name="Create the token").click()
    page.get_by_role("heading", name="Your new access token").wait_for()
    token = page.locator("#auth-access-token").input_value()
    assert re.fullmatch(r"erlen_pat_[0-9a-f]{12}_[0-9a-f]{64}", token)

    # A script (no cookies) uses it; the browser's cookies are not needed, nor a CSRF token.
    api = browser.new_context().request  # a context of its own: none of the browser's cookies
    answer = api.post(site.url + "/api/notes", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200, answer.text()
    assert answer.json() == {"author": "ada@example.com"}
    assert "set-cookie" not in {name.lower() for name in answer.headers}
    refused = api.post(site.url + "/api/notes", headers={"Authorization": "Bearer erlen_pat_nope"})
    assert refused.status == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]

    # Never shown again: the list has its prefix only, with its last use.
    page.goto(site.url + "/auth/security")
    listing = page.locator(".erlen-auth-access-tokens").inner_text()
    assert "nightly export" in listing and token[:22] in listing and token not in page.content()
    assert "last used" in listing

    page.get_by_role("button", name="Revoke").click()
    page.get_by_text("The token 'nightly export' was revoked.").wait_for()
    assert "(revoked)" in page.locator(".erlen-auth-access-tokens").inner_text()
    again = api.post(site.url + "/api/notes", headers={"Authorization": f"Bearer {token}"})
    assert again.status == 401 and again.json()["message"] == "The access token was revoked."
    context.close()

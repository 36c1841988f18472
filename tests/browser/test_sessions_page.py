"""The "Your sessions" page in a real browser, as its user sees it with the account menu open.

The app (db, forms, auth) is served by werkzeug on 127.0.0.1 in a thread, on SQLite, with one user
logged in from two browsers: this one and another.
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

EMAIL = "ada@example.com"
#: The other browser the user is logged in from: Firefox on Linux.
OTHER_BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


class Site:
    """An app with db, forms and auth on SQLite, with one user, served on 127.0.0.1 in a thread."""

    def __init__(self, tmp_path: Path) -> None:
        from werkzeug.serving import make_server

        import erlen
        from erlen.testing import TESTING_SECRET_KEY
        from erlen_auth.testing import FAST_HASHING, make_user
        from erlen_db import database_of

        self.app = erlen.create_app(
            "sessions_browser_app",
            {
                "PLUGINS": ["db", "forms", "auth"],
                "SECRET_KEY": TESTING_SECRET_KEY,
                "DB_URL": f"sqlite:///{tmp_path / 'sessions.sqlite3'}",
                # Plain HTTP on 127.0.0.1: the cookies must travel without TLS.
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
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="sessions-e2e", daemon=True)
        self.thread.start()

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


def _logged_in_page(browser: t.Any, site: Site, **context_options: t.Any) -> t.Any:
    """A page of a new browser context, logged in as the user through the log-in form."""
    from erlen_auth.testing import DEFAULT_PASSWORD

    page = browser.new_context(**context_options).new_page()
    page.goto(site.url + "/auth/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(site.url + "/")
    return page


@pytest.mark.parametrize("width", [1280, 360])
def test_with_the_account_menu_open_one_log_out_shows(browser: t.Any, site: Site, width: int) -> None:
    """The account menu's "Log out" is the only one: this device's entry has no second button doing the same."""
    _logged_in_page(browser, site, user_agent=OTHER_BROWSER)
    page = _logged_in_page(browser, site, viewport={"width": width, "height": 800})
    page.goto(site.url + "/auth/sessions")
    page.locator("#erlen-account-menu > summary").click()
    log_outs = page.get_by_role("button", name="Log out", exact=True)
    assert log_outs.count() == 1
    assert page.locator("#erlen-account-menu").get_by_role("button", name="Log out", exact=True).is_visible()
    # The other device keeps its own button, named for what it does there.
    assert page.get_by_role("button", name="Log out this device").count() == 1

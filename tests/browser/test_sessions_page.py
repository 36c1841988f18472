"""The "Your sessions" page in a real browser, as its user sees it with the account menu open.

The app (db, forms, auth) is served as in ``test_passkeys.py`` (werkzeug in a thread, on SQLite, one user),
the user logged in from two browsers: this one and another.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_passkeys import EMAIL, Site

#: The other browser the user is logged in from: Firefox on Linux.
OTHER_BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


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

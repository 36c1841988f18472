"""Two-factor authentication in a real browser: the admin of the example app must have it, sets it up from the
QR code page, and signs in again with a code of the app and then with a recovery code.

Served and driven as in ``test_example_e2e.py`` (werkzeug on 127.0.0.1 in a thread, Debian's Chromium). The
codes are computed with pyotp from the secret the page shows, for the server's own clock: nothing waits.
"""

from __future__ import annotations

import re
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_example_e2e import Site

pyotp = pytest.importorskip("pyotp")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")
    served = Site(tmp_path, AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS='["admin.access"]')
    try:
        yield served
    finally:
        served.close()


def _log_in(page: t.Any, site: Site, next_path: str = "/") -> None:
    page.goto(site.url + "/auth/login?next=" + next_path)
    page.get_by_label("Email").fill(site.admin_email)
    page.get_by_label("Password").fill(site.admin_password)
    page.get_by_role("button", name="Log in", exact=True).click()


def test_the_admin_must_set_up_two_factor_then_signs_in_with_a_code_and_with_a_recovery_code(
    browser: t.Any,
    site: Site,
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)

    # The admin holds admin.access: after the password, every page leads to the set-up page.
    _log_in(page, site, "/admin/")
    page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
    assert "/auth/two-factor/setup" in page.url
    page.goto(site.url + "/admin/")
    page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
    page.goto(site.url + "/auth/two-factor/setup?next=/admin/")
    qr = page.locator("svg.erlen-auth-qr-code")
    assert qr.is_visible() and qr.bounding_box()["width"] > 100  # drawn on the page, from the server's SVG
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.get_by_text("This code is not right").wait_for()
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    codes = [item.inner_text() for item in page.locator("#recovery-codes code").all()]
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}", code) for code in codes)
    page.get_by_role("link", name="I have saved them, continue").click()
    page.wait_for_url(site.url + "/admin/")
    page.get_by_role("button", name="Log out").first.click()

    # Signing in again: the password, then a code of the app (the next step's: the first was used already).
    _log_in(page, site, "/admin/")
    page.get_by_role("heading", name="Two-factor authentication").wait_for()
    page.goto(site.url + "/admin/")  # not logged in yet
    assert "/auth/login" in page.url
    _log_in(page, site, "/admin/")
    page.get_by_label("Code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(site.url + "/admin/")
    page.get_by_role("button", name="Log out").first.click()

    # And with a recovery code, once.
    _log_in(page, site, "/admin/")
    page.get_by_label("Code").fill(codes[0].upper())
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(site.url + "/admin/")
    page.goto(site.url + "/auth/security")
    page.get_by_text("9 recovery codes left.").wait_for()
    page.locator("#erlen-account-menu > summary").click()  # the account menu holds "Log out"
    page.get_by_role("button", name="Log out").first.click()
    _log_in(page, site, "/admin/")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_text("This code is not right, or was used already.").wait_for()
    context.close()

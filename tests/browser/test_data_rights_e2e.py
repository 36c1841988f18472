"""The users' data rights in a real browser, on the example app: download my data, delete my account, cancel by mail.

Served as in :mod:`test_example_e2e` (its ``Site`` and fixtures): werkzeug on
127.0.0.1, SQLite, the ``file`` mail backend, Debian's Chromium.
"""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import test_example_e2e
from test_example_e2e import PASSWORD, Site, _text

# The example app's browser and site, as that module serves them.
site = test_example_e2e.site


def _log_in(page: t.Any, site: Site, email: str) -> None:
    page.goto(site.url + "/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/auth/login" not in url)  # logged in: a goto now would not cancel the POST


def test_a_user_downloads_their_data_deletes_the_account_and_takes_it_back(browser: t.Any, site: Site) -> None:
    from erlen_auth.testing import make_user

    make_user(site.app, "ada@example.com", password=PASSWORD)
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    _log_in(page, site, "ada@example.com")
    page.get_by_role("link", name="Write a note").click()
    page.get_by_label("Title").fill("Analytical engines")
    page.get_by_label("Note").fill("They weave algebraic patterns.")
    page.get_by_role("button", name="Save the note").click()
    page.get_by_role("heading", name="Analytical engines").wait_for()

    # Download my data, from the security page: a JSON file with every plugin's part.
    page.goto(site.url + "/auth/security")
    page.get_by_role("heading", name="Your data").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    assert re.fullmatch(r"notes_app-data-\d+-\d{4}-\d\d-\d\d\.json", download.value.suggested_filename)
    document = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert document["data"]["auth"]["account"]["email"] == "ada@example.com"
    assert document["data"]["notes"]["notes"][0]["title"] == "Analytical engines"

    # Delete my account: the address typed again, then the deletion is scheduled and the browser signed out.
    page.get_by_role("link", name="Delete my account").click()
    page.get_by_label("Type your email address to confirm").fill("ada@example.com")
    page.get_by_role("button", name="Delete my account").click()
    page.get_by_role("heading", name="Your account will be deleted").wait_for()
    page.goto(site.url + "/notes/")
    assert page.url.startswith(site.url + "/auth/login")

    # The mail's link takes it back: a page that asks, then the button.
    (scheduled,) = [m for m in site.mails_to("ada@example.com") if m["Subject"] == "Your account will be deleted"]
    link = re.search(r"http://\S+/auth/delete/cancel/\S+", _text(scheduled))
    assert link, _text(scheduled)
    page.goto(link.group(0))
    page.get_by_role("button", name="Keep my account").click()
    page.get_by_text("Your account will not be deleted.").wait_for()
    _log_in(page, site, "ada@example.com")
    page.goto(site.url + "/notes/")
    page.get_by_text("Analytical engines").first.wait_for()
    context.close()

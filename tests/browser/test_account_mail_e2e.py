"""The password policy, the email change and its undo in a real browser, on the example app.

Every check after a click waits (``expect``), as the page it looks at may still be loading.
The site and the browser are those of ``test_example_e2e`` (werkzeug on
127.0.0.1, the ``file`` mail backend, Debian's Chromium); the links are read
from the mail the worker delivered.
"""

from __future__ import annotations

import re
import typing as t

import test_example_e2e
from test_example_e2e import Site, _text

# The fixtures of the example app's end-to-end test: its browser and its site.
site = test_example_e2e.site

NEW_PASSWORD = "owner is back again"


def _link(site: Site, address: str, path: str) -> str:
    for message in reversed(site.mails_to(address)):
        found = re.search(rf"http://[^/\s]+({re.escape(path)}\S+)", _text(message))
        if found:
            return site.url + found.group(1)
    raise AssertionError(f"no mail to {address} with a link to {path}")


def test_the_register_form_shows_the_policy_and_refuses_a_common_password(browser: t.Any, site: Site) -> None:
    from playwright.sync_api import expect  # installed: the browser fixture skips without it

    page = browser.new_page()
    page.goto(site.url + "/auth/register")
    field = page.locator("input[name=password]")
    assert field.get_attribute("minlength") == "10"
    described = field.get_attribute("aria-describedby")
    assert described == "password-help"
    help_text = page.locator(f"#{described}")
    expect(help_text).to_have_text(re.compile(r"^At least 10 characters\. Not a common password\."))
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Display name").fill("Grace")
    page.locator("input[name=password]").fill("1234567890")
    page.locator("input[name=confirm]").fill("1234567890")
    page.get_by_role("button", name=re.compile("Create|Register|Submit", re.I)).click()
    expect(page.get_by_text("This password is one of the most common ones")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/auth/register$"))


def test_the_email_change_is_confirmed_by_the_new_address_and_undone_by_the_old(browser: t.Any, site: Site) -> None:
    from playwright.sync_api import expect  # installed: the browser fixture skips without it

    old, new = site.admin_email, "admin.new@example.org"
    page = browser.new_page()
    page.goto(site.url + "/auth/login")
    page.get_by_label("Email").fill(old)
    page.get_by_label("Password").fill(site.admin_password)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/auth/login" not in url)  # logged in: a goto now would not cancel the POST
    page.goto(site.url + "/auth/security")
    page.get_by_role("link", name="Change your email address").click()
    page.get_by_label("New email address").fill(new)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text(f"We sent a message to {new}")).to_be_visible()

    phone = browser.new_context().new_page()  # the mail is read elsewhere: no session needed
    phone.goto(_link(site, new, "/auth/email/confirm/"))
    phone.get_by_role("button", name="Change my address").click()
    expect(phone.get_by_text(f"Your email address is now {new}.")).to_be_visible()
    page.goto(site.url + "/auth/security")
    expect(page.get_by_text(f"Your address is {new}")).to_be_visible()  # still signed in

    owner = browser.new_context().new_page()
    owner.goto(_link(site, old, "/auth/email/undo/"))
    owner.get_by_role("button", name="Restore my address").click()
    expect(owner.get_by_text("every device was logged out")).to_be_visible()
    owner.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    owner.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    owner.get_by_role("button", name=re.compile("password", re.I)).click()
    expect(owner).to_have_url(re.compile("/auth/login"))

    page.goto(site.url + "/auth/security")
    expect(page).to_have_url(re.compile("/auth/login"))  # the first browser was signed out
    page.get_by_label("Email").fill(old)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/auth/login" not in url)  # logged in: a goto now would not cancel the POST
    page.goto(site.url + "/auth/security")
    expect(page.get_by_text(f"Your address is {old}")).to_be_visible()

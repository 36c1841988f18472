"""The example app in a real browser, as a new user meets it: register, confirm by mail, log in, write a note;
then the demo admin finds the note in the admin.

The app (``examples/notes``, installed with ``examples/profiles``) is served by
werkzeug on 127.0.0.1 in a thread, on a fresh SQLite database, with the ``file``
mail backend: the test reads the confirmation link from the ``.eml`` file, as a
developer reads it from the folder. Playwright drives Debian's Chromium
(``/usr/bin/chromium``, or ``ERLEN_CHROMIUM``). Without Chromium or Playwright
the test skips, unless ``ERLEN_REQUIRE_SERVICES=1`` (CI), where it fails.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

PASSWORD = "correct horse battery staple"


class Site:
    """The example app, migrated, with its demo admin, served on 127.0.0.1."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        import notes_app
        from werkzeug.serving import make_server

        from erlen_auth.testing import FAST_HASHING

        self.mail = tmp_path / "mail"
        environ = {
            "ERLEN_DB_URL": f"sqlite:///{tmp_path / 'notes.sqlite3'}",
            "ERLEN_MAIL_BACKEND": "file",
            "ERLEN_MAIL_FILE_PATH": str(self.mail),
            **{f"ERLEN_{key}": str(value) for key, value in FAST_HASHING.items()},
            **{f"ERLEN_{key}": value for key, value in settings.items()},
        }
        self.app = notes_app.create_app(environ, instance_path=str(tmp_path / "instance"))
        demo = self.app.test_cli_runner().invoke(args=["demo", "--no-serve"])
        assert demo.exit_code == 0, demo.output
        found = re.search(r"email: +(\S+)\n +password: +(\S+)", demo.output)
        assert found, demo.output
        self.admin_email, self.admin_password = found.groups()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="notes-e2e", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def mails_to(self, address: str) -> list[email.message.EmailMessage]:
        """The messages the file backend wrote for ``address``, oldest first, once the outbox worker ran."""
        from erlen_mail.testing import deliver_outbox

        deliver_outbox(self.app)  # the app queues its mail; `erlen mail worker` sends it in production
        found = []
        for path in sorted(self.mail.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in str(message["To"]):
                found.append(t.cast(email.message.EmailMessage, message))
        return found


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")
    served = Site(tmp_path)
    try:
        yield served
    finally:
        served.close()


def _text(message: email.message.EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _log_in(page: t.Any, site_url: str, email: str, password: str) -> None:
    """Log in through the log-in page's form."""
    page.goto(site_url + "/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def test_a_new_user_registers_confirms_writes_and_the_admin_sees_it(browser: t.Any, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)

    # A visitor is sent to the log-in page, and goes to create an account.
    page.goto(site.url + "/")
    assert page.url.startswith(site.url + "/auth/login")
    page.get_by_role("link", name="Create an account").first.click()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Display name").fill("Ada Lovelace")  # the field of the third-party plugin
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    page.get_by_role("heading", name="Check your email").wait_for()

    # The confirmation mail, as the file backend wrote it.
    (confirmation,) = site.mails_to("ada@example.com")
    link = re.search(r"http://\S+/auth/confirm/\S+", _text(confirmation))
    assert link, _text(confirmation)
    page.goto(link.group(0))
    page.get_by_role("button", name="Confirm").click()

    # Log in and write a note.
    _log_in(page, site.url, "ada@example.com", PASSWORD)
    page.get_by_role("link", name="Write a note").click()
    page.get_by_label("Title").fill("Analytical engines")
    page.get_by_label("Note").fill("They weave algebraic patterns.")
    page.get_by_role("button", name="Save the note").click()
    page.get_by_role("heading", name="Analytical engines").wait_for()
    assert "Ada Lovelace" in page.content()
    assert page.get_by_role("link", name="Admin", exact=True).count() == 0
    page.locator("#erlen-account-menu > summary").click()  # the account menu holds "Log out"
    page.get_by_role("button", name="Log out").click()

    # The admins were told by mail.
    (notification,) = site.mails_to(site.admin_email)
    assert notification["Subject"] == "New note: Analytical engines"

    # The demo admin logs in with the printed credentials and finds the note in the admin.
    _log_in(page, site.url, site.admin_email, site.admin_password)
    page.locator("#erlen-account-menu > summary").click()  # the account menu holds "Admin"
    page.get_by_role("link", name="Admin", exact=True).click()
    page.locator("a[href$='/admin/m/notes_note/']").first.click()
    page.get_by_text("Analytical engines").first.wait_for()
    page.locator("a[href*='/admin/m/notes_note/1/']").first.click()
    page.get_by_text("They weave algebraic patterns.").first.wait_for()
    assert page.url.startswith(site.url + "/admin/m/notes_note/1/")
    context.close()


def test_a_note_with_a_long_unbroken_word_keeps_the_list_within_the_page(browser: t.Any, site: Site) -> None:
    """Found by walking the example app: a note whose body held a long URL made the list of notes wider than the
    page, at every width (2,292 px at 360): the excerpt's unbroken word sized the list's grid column."""
    from erlen_auth.testing import make_user

    make_user(site.app, "ada@example.com", password=PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    _log_in(page, site.url, "ada@example.com", PASSWORD)
    page.get_by_role("link", name="Write a note").click()
    page.get_by_label("Title").fill("W" * 200)
    page.get_by_label("Note").fill("https://example.com/" + "a" * 400)
    page.get_by_role("button", name="Save the note").click()
    page.get_by_text("The note is saved.").wait_for()
    note_path = page.url.removeprefix(site.url)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 800})
        for path in ("/notes/", note_path):
            page.goto(site.url + path)
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{path} at {width} px is {scroll_width} px wide"
    context.close()

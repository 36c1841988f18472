"""Browser tests: the admin served by a real WSGI server on 127.0.0.1, driven by Playwright and Debian's Chromium.

Browsers cannot be downloaded here: Playwright launches ``/usr/bin/chromium``
(``ERLEN_CHROMIUM`` to use another). Without it the tests skip, unless
``ERLEN_REQUIRE_SERVICES=1`` (CI), where they fail. Screenshots of each step go
to ``extensions/admin/.browser-artifacts/<test>/``; the path is printed in the
test summary and recorded as the test's ``screenshots`` property.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from erlen.testing import service_unavailable

CHROMIUM = os.environ.get("ERLEN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".browser-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
_folders: list[Path] = []


@pytest.fixture(scope="session")
def browser() -> Iterator[t.Any]:
    if not Path(CHROMIUM).exists():
        service_unavailable(f"Chromium not found at {CHROMIUM} (install Debian's chromium, or set ERLEN_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_unavailable("playwright is not installed (pip install 'erlen-admin[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=30000
        )
        try:
            yield launched
        finally:
            launched.close()


class LiveServer:
    """The admin app served by werkzeug in a thread."""

    def __init__(self, app: t.Any) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="admin-live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh SQLite file database with a superuser and 45 books, served on 127.0.0.1."""
    import erlen
    import erlen_db
    from erlen.testing import TESTING_SECRET_KEY
    from erlen_auth.testing import FAST_HASHING, make_user

    app = erlen.create_app(
        "erlen_admin_browser_app",
        {
            "PLUGINS": ["db", "forms", "auth", "admin", "admin_sample.library", "admin_sample.extra_actions"],
            "DB_URL": f"sqlite:///{tmp_path / 'browser.sqlite3'}",
            "SECRET_KEY": TESTING_SECRET_KEY,
            "SESSION_COOKIE_SECURE": False,  # plain HTTP on 127.0.0.1
            "REMEMBER_COOKIE_SECURE": False,
            **FAST_HASHING,
        },
        environ={},
        instance_path=str(tmp_path / "instance"),
    )
    database = erlen_db.database_of(app)
    database.create_all()
    make_user(app, "root@example.com", password=PASSWORD, superuser=True)
    from admin_sample.library import Author, Book

    with database.session_scope() as session:
        ada, grace = Author(name="Ada"), Author(name="Grace")
        session.add_all([ada, grace])
        session.flush()
        session.add_all(
            Book(title=f"Book {n:02d}", pages=n * 10, author_id=(ada if n % 2 else grace).id) for n in range(1, 46)
        )
    with LiveServer(app) as server:
        yield server
    database.dispose()


class Shots:
    """Numbered screenshots of one test."""

    def __init__(self, page: t.Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0

    def __call__(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


@pytest.fixture
def page(browser: t.Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[t.Any]:
    """A page in a fresh browser context, with a ``shot(name)`` attribute saving screenshots."""
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _folders.append(folder)
    request.node.user_properties.append(("screenshots", str(folder)))
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10000)
    opened = context.new_page()
    opened.shot = Shots(opened, folder)
    try:
        yield opened
    finally:
        context.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker, hand the screenshot folders to the controller (tests/conftest.py names them)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["erlen_admin_screenshot_dirs"] = [str(folder) for folder in _folders]


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    if _folders:
        terminalreporter.write_sep("-", "admin browser screenshots")
        for folder in _folders:
            terminalreporter.write_line(f"{folder} ({len(list(folder.glob('*.png')))} screenshots)")

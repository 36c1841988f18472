"""What every browser test here shares: Debian's Chromium, driven by Playwright.

Chromium is ``/usr/bin/chromium`` or ``ERLEN_CHROMIUM``; without it, or without
Playwright, the tests skip with the reason (and fail in CI, where
``ERLEN_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from erlen.testing import service_unavailable

CHROMIUM = os.environ.get("ERLEN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> Iterator[t.Any]:
    """Launch Chromium under Playwright for as long as the generator runs, or skip saying what is missing."""
    if not Path(CHROMIUM).exists():
        service_unavailable(f"Chromium not found at {CHROMIUM} (install Debian's chromium, or set ERLEN_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_unavailable("playwright is not installed (pip install './examples/notes[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser() -> Iterator[t.Any]:
    """A Chromium of the test's own."""
    yield from _chromium()


@pytest.fixture(scope="module")
def module_browser() -> Iterator[t.Any]:
    """One Chromium shared by the tests of a module, for modules that visit many pages (give each test a context)."""
    yield from _chromium()


#: The folders screenshots went to in this run, named at the end of the test report.
_SCREENSHOT_DIRS = pytest.StashKey[list[Path]]()


@pytest.fixture(scope="session")
def screenshot_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder for this run's screenshots: ``ERLEN_SCREENSHOT_DIR``, or ``screenshots`` under pytest's basetemp.

    The report's summary names it, so that a person (or CI's artifact upload) finds the pictures.
    """
    configured = os.environ.get("ERLEN_SCREENSHOT_DIR")
    if configured:
        folder = Path(configured).resolve()
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("screenshots", numbered=False)
    request.config.stash.setdefault(_SCREENSHOT_DIRS, []).append(folder)
    return folder


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker, hand the screenshot folders to the controller (tests/conftest.py names them)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        folders = session.config.stash.get(_SCREENSHOT_DIRS, [])
        workeroutput["erlen_screenshot_dirs"] = [str(folder) for folder in folders]


def pytest_terminal_summary(terminalreporter: t.Any, exitstatus: int, config: pytest.Config) -> None:
    for folder in config.stash.get(_SCREENSHOT_DIRS, []):
        terminalreporter.write_sep("-", "screenshots")
        terminalreporter.write_line(f"Screenshots of the pages are in {folder}")

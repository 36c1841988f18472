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


@pytest.fixture
def browser() -> Iterator[t.Any]:
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

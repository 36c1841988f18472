"""Naming a browser from its ``User-Agent``, as the "Your sessions" page shows it."""

from __future__ import annotations

import pytest

from erlen_auth.user_agents import describe


@pytest.mark.parametrize(
    ("user_agent", "described"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0"
            " Safari/537.36",
            "Chrome on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
            " Safari/537.36 Edg/124.0.0.0",
            "Edge on Windows",
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on macOS"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
            " Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
            " Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0"
            " Mobile/15E148 Safari/604.1",
            "Chrome on iPad",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
            " Safari/537.36 OPR/109.0.0.0",
            "Opera on ChromeOS",
        ),
    ],
)
def test_a_known_browser_is_named_with_its_system(user_agent: str, described: str) -> None:
    assert describe(user_agent) == described


def test_what_is_not_a_known_browser_is_shown_as_sent() -> None:
    """A script or an unknown browser keeps its own words; an empty one is an unknown device."""
    assert describe("curl/8.5.0") == "curl/8.5.0"
    assert describe("python-requests/2.32 (Linux)") == "python-requests/2.32 (Linux)"
    assert describe("") == "Unknown device"

"""Helpers shared by the tests."""

from __future__ import annotations

import re

from flask.testing import FlaskClient


def token_in(html: str) -> str:
    """The CSRF token of the first hidden ``csrf_token`` input of a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token in the page:\n{html}"
    return match.group(1)


def page_token(client: FlaskClient, path: str) -> str:
    """Load ``path`` and return the CSRF token its form holds."""
    response = client.get(path)
    assert response.status_code == 200, response.data
    return token_in(response.get_data(as_text=True))

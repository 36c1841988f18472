"""Helpers shared by the tests."""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from pathlib import Path

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


def write_plugin(folder: Path, name: str, source: str) -> str:
    """Write the plugin module ``name`` into ``folder`` (put on ``sys.path``) and return its name."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
    return name

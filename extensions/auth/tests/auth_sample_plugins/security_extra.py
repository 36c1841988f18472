"""A plugin adding a section to the security page."""

from __future__ import annotations

from pathlib import Path

import erlen
from erlen_auth import SecuritySection


@erlen.hookimpl
def erlen_template_folders():
    return [str(Path(__file__).parent / "templates")]


@erlen.hookimpl
def erlen_auth_security_sections():
    return [SecuritySection("sample/security_section.html", order=15, title="Blog authors")]

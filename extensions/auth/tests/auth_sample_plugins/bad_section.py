"""A plugin returning a template name where a SecuritySection belongs."""

from __future__ import annotations

import erlen


@erlen.hookimpl
def erlen_auth_security_sections():
    return ["sample/security_section.html"]

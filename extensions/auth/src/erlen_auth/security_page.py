"""The account's security page, ``/auth/security``: one place for the password, second factors, passkeys,
linked providers, sessions, access tokens and the user's data.

Each feature of the auth plugin adds its section to ``AuthState.security_sections``
while the app is made; other plugins add theirs through the hook
``erlen_auth_security_sections``.
"""

from __future__ import annotations

import typing as t

from flask import Flask, render_template

import erlen

from .permissions import login_required
from .state import SecuritySection, state_of

#: The sections every app has.
BUILT_IN = (
    SecuritySection("auth/security/password.html", 20, "Password"),
    SecuritySection("auth/security/sessions.html", 60, "Sessions"),
)

#: The section of two-factor authentication (TOTP), whose pages :mod:`erlen_auth.totp_views` serves: defined
#: here so that the app adds it without importing those views.
TWO_FACTOR_SECTION = SecuritySection("auth/security/two_factor.html", 30, "Two-factor authentication")

#: The section of the user's data (export, deletion), whose pages :mod:`erlen_auth.data_rights_views` serves:
#: defined here so that the app adds it without importing those views.
DATA_SECTION = SecuritySection("auth/data/section.html", 90, "Your data")


def collect(app: Flask) -> list[SecuritySection]:
    """The built-in sections and those of every plugin, in order.

    :raises erlen.PluginError: a plugin's section is not a :class:`SecuritySection`.
    """
    found = list(BUILT_IN)
    for plugin, result in erlen.plugins_of(app).call_each("erlen_auth_security_sections"):
        for section in erlen.hook_items(plugin.name, "erlen_auth_security_sections", result, "SecuritySection objects"):
            if not isinstance(section, SecuritySection):
                raise erlen.PluginError(
                    f"Plugin {plugin.name!r}: erlen_auth_security_sections returned {section!r}; "
                    "it must return erlen_auth.SecuritySection objects.",
                    plugin=plugin.name,
                )
            found.append(section)
    return found


def add(app: Flask, *sections: SecuritySection) -> None:
    """Add sections to the page of ``app`` (a feature of the auth plugin, while the app is made)."""
    state = state_of(app)
    state.security_sections = sorted([*state.security_sections, *sections], key=lambda section: section.order)


@login_required
def security_page() -> t.Any:
    """Every security setting of the current user's account, section by section."""
    state = state_of()
    return render_template("auth/security.html", sections=state.security_sections, reset_enabled=state.reset_enabled)

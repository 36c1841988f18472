"""The errors of the auth plugin."""

from __future__ import annotations

import erlen


class AuthError(erlen.ErlenError):
    """Something about the auth plugin's setup is wrong."""


class UnknownPermissionError(AuthError, LookupError):
    """A permission name that no enabled plugin declares: a typo, or a plugin that is not enabled."""


class PermissionDeclarationError(erlen.PluginError):
    """A plugin declares a permission badly: a malformed name, no description, or a name another plugin declares."""

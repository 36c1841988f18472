"""Errors of the ``migrate`` plugin; each names the plugin and the file at fault and says what to do."""

from __future__ import annotations

import erlen


class MigrationError(erlen.PluginError):
    """Migrations cannot be loaded or run.

    :param plugin: the plugin (or ``"app"``) whose migrations are at fault, when known.
    """


class MigrationScriptError(MigrationError):
    """A migration file is broken, or a branch's revisions do not form one line."""


class UnknownBranchError(MigrationError):
    """A command names a plugin that has no migrations on this app."""


class MigrationFailed(MigrationError):
    """A migration raised while it ran; its transaction was rolled back."""

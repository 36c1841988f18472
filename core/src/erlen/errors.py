"""Errors Erlen reports to the people who configure apps and write plugins.

Every message says what went wrong, names the plugin, setting or file
involved, and says what to do about it.
"""

from __future__ import annotations

import traceback


class ErlenError(Exception):
    """Base class of every error Erlen raises about configuration or plugins."""


class ConfigError(ErlenError):
    """The app's configuration cannot be read or is invalid."""


class SettingError(ConfigError):
    """A declared setting has a missing or invalid value.

    :param key: the configuration key, such as ``DB_URL``.
    :param plugin: the name of the plugin that declared the setting.
    """

    def __init__(self, message: str, *, key: str, plugin: str) -> None:
        super().__init__(message)
        self.key = key
        self.plugin = plugin


class PluginError(ErlenError):
    """A plugin cannot be found, loaded, ordered or validated.

    :param plugin: the name of the plugin at fault, when there is one.
    """

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class UnknownPluginError(PluginError):
    """``PLUGINS`` names a plugin that is neither installed nor importable."""


class DuplicatePluginError(PluginError):
    """Two plugins claim the same name."""


class MissingRequirementError(PluginError):
    """An enabled plugin requires a plugin that is not enabled."""


class PluginNotEnabledError(PluginError, ConfigError, LookupError):
    """Code asked for the per-app state of a plugin that the app does not enable.

    Raised by :func:`erlen.extension_state`, and so by every extension's
    lookup of its state (``erlen_db.database_of``, ``erlen_mail.state_of``,
    …). It is a :class:`ConfigError` too, since the fix is in ``PLUGINS``, and
    a :class:`LookupError`, as the lookup of a missing key.

    :param plugin: the name of the plugin to enable.
    """


class PluginCycleError(PluginError):
    """Plugins require each other in a cycle, so no load order exists."""


class PluginFailure(PluginError):
    """A plugin's own code raised an exception.

    The original exception is chained as ``__cause__`` and its traceback is
    part of the message, so it survives being printed by the CLI.
    """

    def __init__(self, message: str, *, plugin: str, original: BaseException) -> None:
        formatted = "".join(traceback.format_exception(original)).rstrip()
        super().__init__(f"{message}\n\nOriginal traceback:\n{formatted}", plugin=plugin)
        self.original = original


class PluginImportError(PluginFailure):
    """Importing a plugin raised an exception."""


class PluginHookError(PluginFailure):
    """A plugin's hook implementation raised an exception while the app started."""


class HookImplementationError(PluginError):
    """A hook implementation does not match any hook specification."""


class CommandConflictError(PluginError):
    """Two plugins add a CLI command with the same name."""

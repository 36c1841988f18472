"""Erlen: a Flask web framework in which every battery is a plugin."""

from __future__ import annotations

import typing as t

from .app import Erlen, close_app, create_app, plugins_of
from .cookie_sessions import KeyCachingSigner
from .deferred import defer_setup, deferring_setup, finish_setup, setup_deferred
from .errorpages import error_response, render_error_page
from .errors import (
    CommandConflictError,
    ConfigError,
    DuplicatePluginError,
    ErlenError,
    HookImplementationError,
    MissingRequirementError,
    PluginCycleError,
    PluginError,
    PluginFailure,
    PluginHookError,
    PluginImportError,
    PluginNotEnabledError,
    SettingError,
    UnknownPluginError,
)
from .hosts import split_host
from .lazy_commands import LazyCommand, when_loaded
from .lazy_exports import lazy_exports
from .lazy_views import deferred_view, lazy_view
from .markers import hookimpl, hookspec
from .plugins.declaration import Plugin
from .plugins.discovery import LoadedPlugin
from .plugins.registry import PluginRegistry, hook_items, hook_mapping
from .request_ids import request_id
from .settings import REQUIRED, Setting, at_least, greater_than
from .state import extension_state

if t.TYPE_CHECKING:
    from .checks import CheckMessage, Level
    from .gunicorn_logs import gunicorn_logconfig

__version__ = "0.1.0"

#: Names imported on first use: a worker never runs the system checks (``erlen check`` does, and the plugins'
#: ``erlen_checks`` hooks it calls), and gunicorn's configuration file, not the app, calls gunicorn_logconfig.
__getattr__ = lazy_exports(
    __name__,
    {
        "CheckMessage": f"{__name__}.checks",
        "Level": f"{__name__}.checks",
        "gunicorn_logconfig": f"{__name__}.gunicorn_logs",
    },
)

__all__ = [
    "REQUIRED",
    "CheckMessage",
    "CommandConflictError",
    "ConfigError",
    "DuplicatePluginError",
    "Erlen",
    "ErlenError",
    "HookImplementationError",
    "KeyCachingSigner",
    "LazyCommand",
    "Level",
    "LoadedPlugin",
    "MissingRequirementError",
    "Plugin",
    "PluginCycleError",
    "PluginError",
    "PluginFailure",
    "PluginHookError",
    "PluginImportError",
    "PluginNotEnabledError",
    "PluginRegistry",
    "Setting",
    "SettingError",
    "UnknownPluginError",
    "at_least",
    "close_app",
    "create_app",
    "defer_setup",
    "deferred_view",
    "deferring_setup",
    "error_response",
    "extension_state",
    "finish_setup",
    "greater_than",
    "gunicorn_logconfig",
    "hook_items",
    "hook_mapping",
    "hookimpl",
    "hookspec",
    "lazy_exports",
    "lazy_view",
    "plugins_of",
    "render_error_page",
    "request_id",
    "setup_deferred",
    "split_host",
    "when_loaded",
]

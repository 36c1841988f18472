"""Configured keys that no enabled plugin reads: a misspelt setting, or a misspelt plugin table.

``[db] ulr = ...`` in a TOML file, ``ERLEN_DB_ULR`` or a table ``[booking]``
for the plugin ``bookings`` would otherwise be ignored without a word, and
the app would run on the defaults. The app logs each on the ``erlen.config``
logger when it starts, and ``erlen check`` reports them (``erlen.W002``).
"""

from __future__ import annotations

import difflib
import logging
import re
import typing as t
from dataclasses import dataclass

from flask import Flask

from .plugins.declaration import default_prefix

if t.TYPE_CHECKING:
    from .plugins.registry import PluginRegistry

logger = logging.getLogger("erlen.config")

#: The source of a key set in a table of a TOML file, as :mod:`erlen.config` records it: ``erlen.toml [db] url``.
_TABLE_SOURCE = re.compile(r"^(?P<file>\S+) \[(?P<table>[^\]]+)\] ")


@dataclass(frozen=True)
class UnknownSetting:
    """A configured key that has no effect.

    :param key: the configuration key, such as ``DB_ULR``.
    :param source: where it was set, such as ``erlen.toml [db] ulr``.
    :param message: what is wrong, naming the key (and the table) and where it was set.
    :param hint: the closest valid name, and what is valid.
    """

    key: str
    source: str
    message: str
    hint: str


def _prefixes(registry: PluginRegistry) -> list[tuple[str, str]]:
    """Each enabled plugin's settings prefix and name, longest prefix first (``DB_POOL_`` owns before ``DB_``)."""
    prefixes = []
    for plugin in registry:
        prefix = plugin.declaration.settings_prefix
        prefix = default_prefix(plugin.name) if prefix is None else prefix
        if prefix:
            prefixes.append((prefix, plugin.name))
    prefixes.sort(key=lambda item: -len(item[0]))
    return prefixes


def unknown_settings(registry: PluginRegistry) -> list[UnknownSetting]:
    """The keys of ``registry``'s app configuration that no enabled plugin reads, sorted by key.

    Two kinds are found: a key in an enabled plugin's namespace that the
    plugin does not declare (``DB_ULR``), and a key of a TOML table whose name
    is close to an enabled plugin's table but is none (``[booking]`` for
    ``[bookings]``). Keys outside every plugin's namespace may be the app's
    own, and are left alone.

    :param registry: the plugin registry of an app, with its loaded configuration.
    """
    prefixes = _prefixes(registry)
    tables = sorted({prefix.rstrip("_").lower() for prefix, _ in prefixes})
    found = []
    for key in sorted(registry.loaded_config):
        if key in registry.settings or key in Flask.default_config:
            continue
        source = registry.config_sources.get(key)
        owner = next((name for prefix, name in prefixes if key.startswith(prefix)), None)
        if owner is not None:
            declared = sorted(name for name, setting in registry.settings.items() if setting.plugin == owner)
            close = difflib.get_close_matches(key, declared, n=1)
            hint = f"Did you mean {close[0]}? " if close else ""
            hint += (
                f"Plugin {owner!r} declares: {', '.join(declared)}." if declared else f"Plugin {owner!r} declares none."
            )
            message = f"{key} (from {source}) is not a setting of plugin {owner!r}, so it has no effect."
            found.append(UnknownSetting(key, source, message, hint))
            continue
        table = _TABLE_SOURCE.match(source)
        if table is None:
            continue
        close = difflib.get_close_matches(table["table"].lower(), tables, n=1)
        if not close:
            continue
        found.append(
            UnknownSetting(
                key,
                source,
                f"{key} (from {source}) has no effect: the table [{table['table']}] of {table['file']} configures "
                "no enabled plugin.",
                f"Did you mean [{close[0]}]? The enabled plugins' tables: {', '.join(f'[{t}]' for t in tables)}.",
            )
        )
    return found


def warn_unknown_settings(registry: PluginRegistry) -> None:
    """Log a warning on the ``erlen.config`` logger for each configured key that has no effect.

    :param registry: the plugin registry of an app that has just loaded its configuration.
    """
    for unknown in unknown_settings(registry):
        logger.warning("%s %s", unknown.message, unknown.hint)

"""Looking up a plugin's per-app state, which it keeps in ``app.extensions``.

Every plugin keeps its state on the app it serves (see the statelessness
rule in the architecture guide) and offers a lookup of it, such as
``erlen_db.database_of(app)``. :func:`extension_state` is that lookup, with
one error for every plugin when the app does not enable it.
"""

from __future__ import annotations

import typing as t

from flask import Flask, current_app

from .app import EXTENSION_KEY as REGISTRY_KEY
from .errors import PluginNotEnabledError
from .plugins.discovery import installed_plugins
from .plugins.registry import PluginRegistry


def extension_state(key: str, app: Flask | None = None, *, plugin: str | None = None) -> t.Any:
    """The state that a plugin keeps in ``app.extensions[key]``.

    A plugin's typed lookup of its own state is a one-line wrapper around it.

    :param key: the key of ``app.extensions`` under which the plugin sets up its state.
    :param app: the app; the current app by default.
    :param plugin: the name of the plugin that sets it up (as listed in ``PLUGINS``); ``key`` by default.
    :raises PluginNotEnabledError: the app does not enable the plugin (the message says
        where its ``PLUGINS`` come from and what to add), or enables it but asked for its
        state before the plugin's ``erlen_init_app`` set it up.
    """
    app = app if app is not None else t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        return app.extensions[key]
    except KeyError:
        raise PluginNotEnabledError(_not_enabled_message(app, plugin or key), plugin=plugin or key) from None


def _not_enabled_message(app: Flask, plugin: str) -> str:
    registry = t.cast(PluginRegistry | None, app.extensions.get(REGISTRY_KEY))
    if registry is None:
        return (
            f"The Flask app {app.name!r} was not created by Erlen, so it has no plugin {plugin!r}: create it with "
            f"erlen.create_app() (or attach erlen.Erlen(app)) and add {plugin!r} to PLUGINS."
        )
    if plugin in registry:
        return (
            f"The plugin {plugin!r} is enabled on the app {app.name!r} but has not set up its state yet: it does "
            f"so in its erlen_init_app. A plugin that needs it at startup must load after it: declare "
            f"requires=[{plugin!r}] (or integrates_with) in its erlen.Plugin."
        )
    distribution = _distribution_of(plugin)
    listed_in = registry.config_sources.get("PLUGINS", "")
    how = (
        f"add {plugin!r} to PLUGINS, which this app takes from {listed_in}"
        if listed_in
        else f"add {plugin!r} to PLUGINS in erlen.toml, or to the ERLEN_PLUGINS environment variable"
    )
    shipped_by = f" (the {distribution} distribution)" if (distribution := _distribution_of(plugin)) else ""
    return f"The app {app.name!r} does not enable the plugin {plugin!r}{shipped_by}: {how}."


def _distribution_of(plugin: str) -> str | None:
    """The distribution whose entry point announces ``plugin``, if exactly one does."""
    entry_points = installed_plugins().get(plugin, [])
    if len(entry_points) != 1 or entry_points[0].dist is None:
        return None
    return entry_points[0].dist.name

"""``erlen plugins``: the enabled and installed plugins, with their hooks."""

from __future__ import annotations

import json
import typing as t

import click
from flask import current_app

from ..app import plugins_of
from ..builtin import PLUGINS_HELP
from ..errors import ErlenError
from ..plugins.declaration import default_title
from ..plugins.discovery import installed_plugins, load_plugin
from ..plugins.validation import hook_implementations


@click.command("plugins", help=PLUGINS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def plugins_command(as_json: bool) -> None:
    """``erlen plugins [--json]``: see :data:`erlen.builtin.PLUGINS_HELP`."""
    rows = plugin_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ["name", "title", "enabled", "version", "distribution", "requires", "hooks"]
    table = [
        [
            row["name"],
            # Only a title that says more than the name: every plugin has a title, most its name made a word.
            row["title"] if row["title"] not in (None, default_title(row["name"])) else "-",
            "yes" if row["enabled"] else "no",
            row["version"] or "-",
            row["distribution"] or "local",
            ", ".join(row["requires"]) or "-",
            ", ".join(row["hooks"]) or (row.get("error") or "-"),
        ]
        for row in rows
    ]
    widths = [max(len(str(r[i])) for r in [headers, *table]) for i in range(len(headers) - 1)]
    for line in [headers, *table]:
        cells = [str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*cells, str(line[-1])]).rstrip())


def plugin_rows() -> list[dict[str, t.Any]]:
    """One row per enabled plugin (in load order), then per installed, disabled one.

    A row's ``title`` is the plugin's heading (:attr:`~erlen.LoadedPlugin.title`); ``None`` for a plugin that fails
    to import, whose declaration is unknown.
    """
    registry = plugins_of(current_app)
    rows = [
        {
            "name": plugin.name,
            "title": plugin.title,
            "enabled": True,
            "version": plugin.version,
            "distribution": plugin.distribution,
            "requires": list(plugin.requires),
            "integrates_with": list(plugin.integrates_with),
            "hooks": registry.hooks_of(plugin.name),
            "origin": plugin.origin,
            "description": plugin.declaration.description,
        }
        for plugin in registry
    ]
    installed = installed_plugins()
    for name in sorted(installed):
        if name in registry:
            continue
        row: dict[str, t.Any] = {"name": name, "title": None, "enabled": False, "origin": ""}
        try:
            plugin = load_plugin(name, installed, listed_in="erlen plugins")
        except ErlenError as exc:
            first_line = str(exc).splitlines()[0]
            row.update(version=None, distribution=None, requires=[], integrates_with=[], hooks=[], error=first_line)
        else:
            row.update(
                title=plugin.title,
                version=plugin.version,
                distribution=plugin.distribution,
                requires=list(plugin.requires),
                integrates_with=list(plugin.integrates_with),
                hooks=sorted(hook_implementations(plugin.obj)),
                origin=plugin.origin,
                description=plugin.declaration.description,
            )
        rows.append(row)
    return rows

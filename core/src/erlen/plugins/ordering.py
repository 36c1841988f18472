"""The load order of enabled plugins: requirements first, then config order."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ..errors import DuplicatePluginError, MissingRequirementError, PluginCycleError
from .discovery import LoadedPlugin


def resolve_order(plugins: Sequence[LoadedPlugin], *, listed_in: str) -> list[LoadedPlugin]:
    """Order ``plugins`` so that every plugin comes after those it needs.

    A plugin's requirements, and the plugins it integrates with that are
    enabled, come before it; otherwise the order of ``PLUGINS`` is kept. The
    result is the same for the same input.

    :param plugins: the enabled plugins in the order ``PLUGINS`` lists them.
    :param listed_in: where ``PLUGINS`` came from, for messages.
    :raises DuplicatePluginError: two enabled plugins share a name.
    :raises MissingRequirementError: a requirement is not enabled.
    :raises PluginCycleError: requirements form a cycle.
    """
    by_name: dict[str, LoadedPlugin] = {}
    by_object: dict[int, LoadedPlugin] = {}
    for plugin in plugins:
        if plugin.name in by_name:
            other = by_name[plugin.name]
            raise DuplicatePluginError(
                f"Two enabled plugins are named {plugin.name!r}: {other.origin} and {plugin.origin}. "
                "Remove one from PLUGINS, or give a local plugin another name with Plugin(name=...).",
                plugin=plugin.name,
            )
        by_name[plugin.name] = plugin
        # An undeclared plugin module listed by entry-point name and by dotted path
        # gets two names; pluggy would refuse the second with a bare ValueError.
        other = by_object.setdefault(id(plugin.obj), plugin)
        if other is not plugin:
            raise DuplicatePluginError(
                f"PLUGINS enables one plugin twice: as {other.spec!r} ({other.origin}) and as "
                f"{plugin.spec!r} ({plugin.origin}). List it once.",
                plugin=plugin.name,
            )

    _check_requirements(plugins, by_name, listed_in)

    ordered: list[LoadedPlugin] = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(plugin: LoadedPlugin) -> None:
        if state.get(plugin.name) == "done":
            return
        if state.get(plugin.name) == "visiting":
            cycle = [*path[path.index(plugin.name) :], plugin.name]
            raise PluginCycleError(
                f"Plugins depend on each other in a cycle: {_describe_cycle(cycle, by_name)}. "
                "Remove one of these dependencies (a plugin that only uses another when present "
                "should list it in integrates_with of one side only).",
                plugin=plugin.name,
            )
        state[plugin.name] = "visiting"
        path.append(plugin.name)
        for dependency in _dependencies(plugin, by_name):
            visit(by_name[dependency])
        path.pop()
        state[plugin.name] = "done"
        ordered.append(plugin)

    for plugin in plugins:
        visit(plugin)
    return ordered


def _dependencies(plugin: LoadedPlugin, by_name: dict[str, LoadedPlugin]) -> list[str]:
    return list(plugin.requires) + [name for name in plugin.integrates_with if name in by_name]


def _check_requirements(plugins: Sequence[LoadedPlugin], by_name: dict[str, LoadedPlugin], listed_in: str) -> None:
    for plugin in plugins:
        missing = [name for name in plugin.requires if name not in by_name]
        if missing:
            suggestion = _suggest(plugins, plugin.name, missing)
            needed = ", ".join(repr(name) for name in missing)
            raise MissingRequirementError(
                f"Plugin {plugin.name!r} requires {needed}, which {'is' if len(missing) == 1 else 'are'} "
                f"not enabled. Add {needed} to PLUGINS (from {listed_in}): PLUGINS = {suggestion} "
                "(for a local plugin, use the dotted path of the module that declares that name)",
                plugin=plugin.name,
            )


def _suggest(plugins: Sequence[LoadedPlugin], needing: str, missing: list[str]) -> str:
    names = [p.spec or p.name for p in plugins if not p.builtin]
    index = [p.name for p in plugins if not p.builtin].index(needing)
    return repr(names[:index] + missing + names[index:])


def _describe_cycle(cycle: list[str], by_name: dict[str, LoadedPlugin]) -> str:
    steps = []
    for current, following in itertools.pairwise(cycle):
        verb = "requires" if following in by_name[current].requires else "integrates with"
        steps.append(f"{current!r} {verb} {following!r}")
    return ", ".join(steps)

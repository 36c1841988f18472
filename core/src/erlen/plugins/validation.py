"""Checking hook implementations against hook specifications.

pluggy would accept a misspelt hook silently and never call it; Erlen
refuses it at startup with a message that names the plugin, the hook and
what to change. The same check backs :func:`erlen.testing.validate_plugin`.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping

from ..errors import HookImplementationError

PROJECT = "erlen"
_SPEC_ATTRIBUTE = f"{PROJECT}_spec"
_IMPL_ATTRIBUTE = f"{PROJECT}_impl"


def positional_arguments(function: Callable[..., object]) -> tuple[str, ...]:
    """The argument names a hook function accepts, without ``self``."""
    if inspect.ismethod(function):
        function = function.__func__
        names = tuple(_positional(function))[1:]
        return names
    return tuple(_positional(function))


def _positional(function: Callable[..., object]) -> Iterable[str]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return (name for name, p in inspect.signature(function).parameters.items() if p.kind in kinds)


def collect_specs(namespaces: Iterable[object]) -> dict[str, tuple[str, ...]]:
    """The hook specifications in ``namespaces`` (modules or classes): name to arguments."""
    specs: dict[str, tuple[str, ...]] = {}
    for namespace in namespaces:
        for name in dir(namespace):
            function = getattr(namespace, name)
            if inspect.isroutine(function) and getattr(function, _SPEC_ATTRIBUTE, None) is not None:
                specs[name] = positional_arguments(function)
    return specs


def hook_implementations(plugin: object) -> dict[str, Callable[..., object]]:
    """The functions of ``plugin`` marked with :data:`erlen.hookimpl`, by hook name."""
    found: dict[str, Callable[..., object]] = {}
    for name in dir(plugin):
        function = getattr(plugin, name, None)
        if inspect.isroutine(function) and isinstance(getattr(function, _IMPL_ATTRIBUTE, None), dict):
            found[getattr(function, _IMPL_ATTRIBUTE).get("specname") or name] = function
    return found


def find_problems(plugin_name: str, plugin: object, specs: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Every way ``plugin``'s hook implementations disagree with ``specs``.

    :param plugin_name: used in the messages.
    :param plugin: the plugin module or object.
    :param specs: from :func:`collect_specs`.
    :returns: one message per problem, empty when the plugin is valid.
    """
    problems = []
    implementations = hook_implementations(plugin)
    for hook, function in sorted(implementations.items()):
        options = getattr(function, _IMPL_ATTRIBUTE)
        if hook not in specs:
            if options.get("optionalhook"):
                continue
            # Compared without the prefix every hook shares: whole, any erlen_* name was "close" to some other
            # (erlen_migrate_locations to erlen_template_globals), a wrong lead for a hook of a plugin not enabled.
            bare = {name.removeprefix(f"{PROJECT}_"): name for name in specs}
            close = [
                bare[match] for match in difflib.get_close_matches(hook.removeprefix(f"{PROJECT}_"), list(bare), n=1)
            ]
            problems.append(
                f"Plugin {plugin_name!r} implements hook {hook!r}, which no hook specification defines. "
                + (f"Did you mean {close[0]!r}? " if close else "")
                + "If the hook belongs to a plugin that may not be enabled, mark the implementation "
                "@erlen.hookimpl(optionalhook=True)."
            )
            continue
        unknown = [name for name in positional_arguments(function) if name not in specs[hook]]
        if unknown:
            provided = ", ".join(specs[hook]) or "no arguments"
            problems.append(
                f"Plugin {plugin_name!r}: {hook}({', '.join(positional_arguments(function))}) takes "
                f"{', '.join(repr(n) for n in unknown)}, which hook {hook!r} does not provide. "
                f"Rename the argument: the hook provides {provided}."
            )
    for name in sorted(specs):
        candidate = getattr(plugin, name, None)
        is_spec = getattr(candidate, _SPEC_ATTRIBUTE, None) is not None
        if inspect.isroutine(candidate) and name not in implementations and not is_spec:
            problems.append(
                f"Plugin {plugin_name!r} defines {name}() without @erlen.hookimpl, so it would never be "
                "called. Decorate it with @erlen.hookimpl."
            )
    return problems


def check_plugins(plugins: Iterable[tuple[str, object]], specs: Mapping[str, tuple[str, ...]]) -> None:
    """Raise :class:`HookImplementationError` for the first invalid plugin."""
    for name, plugin in plugins:
        problems = find_problems(name, plugin, specs)
        if problems:
            raise HookImplementationError("\n".join(problems), plugin=name)

"""The plugins enabled on one app, and the means to call their hooks."""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import ModuleType

import pluggy

from .. import hookspecs
from ..config import ConfigSources
from ..errors import ErlenError, HookImplementationError, PluginError, PluginHookError
from ..settings import DeclaredSetting
from . import tracing
from .declaration import default_title
from .discovery import LoadedPlugin
from .validation import check_plugins, collect_specs, hook_implementations

logger = logging.getLogger("erlen.plugins")

#: What :meth:`PluginRegistry.wrap_implementations` calls: ``(function, hook, plugin) -> function``.
HookWrapFactory = t.Callable[[t.Callable[..., t.Any], str, str], t.Callable[..., t.Any]]


class PluginRegistry:
    """The enabled plugins of one app, in load order, and their hooks.

    Kept in ``app.extensions["erlen"]``; :func:`erlen.plugins_of` returns it.

    :param plugins: the plugins to register, in load order, the built-in
        core plugin first.
    :param config_sources: where each configuration value came from.
    :param trace: log every hook call (see :mod:`erlen.plugins.tracing`).
    """

    def __init__(
        self,
        plugins: Sequence[LoadedPlugin],
        *,
        config_sources: ConfigSources | None = None,
        trace: bool = False,
    ) -> None:
        self.plugins: tuple[LoadedPlugin, ...] = tuple(plugins)
        self.config_sources = config_sources or ConfigSources()
        #: Every declared setting, by configuration key; filled at startup.
        self.settings: dict[str, DeclaredSetting] = {}
        #: The configuration as loaded and validated at startup, before
        #: anything (Flask's CLI resetting ``DEBUG``, say) changed it.
        self.loaded_config: dict[str, t.Any] = {}
        self._by_name = {plugin.name: plugin for plugin in self.plugins}
        self.manager = pluggy.PluginManager("erlen")
        # pluggy calls the last registered implementation first; registering in
        # reverse makes hooks run in load order.
        for plugin in reversed(self.plugins):
            self.manager.register(plugin.obj, name=plugin.name)
        self.hookspec_namespaces: list[ModuleType | type] = [hookspecs]
        if trace:
            tracing.install(self)
        self._add_extension_specs()

    def _add_extension_specs(self) -> None:
        known = collect_specs(self.hookspec_namespaces)
        for plugin, namespaces in self.call_each("erlen_hookspecs"):
            for namespace in hook_items(plugin.name, "erlen_hookspecs", namespaces, "hook specification modules"):
                added = collect_specs([namespace])
                clash = set(added) & set(known)
                if clash:
                    raise PluginError(
                        f"Plugin {plugin.name!r} adds hook specifications that already exist: "
                        f"{', '.join(sorted(clash))}. Name a plugin's hooks after the plugin.",
                        plugin=plugin.name,
                    )
                known.update(added)
                self.hookspec_namespaces.append(namespace)
        check_plugins(((p.name, p.obj) for p in self.plugins), known)
        for namespace in self.hookspec_namespaces:
            self.manager.add_hookspecs(namespace)

    @property
    def hook(self) -> t.Any:
        """The hook callers, as in pluggy: ``registry.hook.erlen_init_app(app=app)``."""
        return self.manager.hook

    def __iter__(self) -> Iterator[LoadedPlugin]:
        return iter(self.plugins)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.plugins)

    def get(self, name: str) -> LoadedPlugin | None:
        """The enabled plugin called ``name``, or ``None``."""
        return self._by_name.get(name)

    def title_of(self, name: str) -> str:
        """The heading of the plugin called ``name``: its declared ``title``, else its name made a word.

        ``erlen.plugins_of(app).title_of("auth")`` is ``"Accounts"``. A name no enabled plugin has (``"app"``,
        which owns the permissions of erlen-auth's ``AUTH_PERMISSIONS``) is made a word too.

        :param name: the plugin's name (``auth``, ``my_blog``).
        """
        plugin = self.get(name)
        return plugin.title if plugin is not None else default_title(name)

    def names(self) -> list[str]:
        """The names of the enabled plugins, in load order."""
        return [plugin.name for plugin in self.plugins]

    def implements(self, hook: str) -> bool:
        """Whether any enabled plugin implements ``hook``."""
        caller = getattr(self.manager.hook, hook, None)
        return caller is not None and bool(caller.get_hookimpls())

    def hooks_of(self, name: str) -> list[str]:
        """The hooks that the plugin ``name`` implements, sorted."""
        plugin = self._by_name[name]
        return sorted(hook_implementations(plugin.obj))

    def call_each(self, hook: str, **kwargs: object) -> list[tuple[LoadedPlugin, t.Any]]:
        """Call ``hook`` and pair each result with the plugin that returned it.

        The list form of :meth:`iter_each`.
        """
        return list(self.iter_each(hook, **kwargs))

    def iter_each(self, hook: str, **kwargs: object) -> Iterator[tuple[LoadedPlugin, t.Any]]:
        """Call ``hook`` plugin by plugin, yielding each plugin with its result.

        Each implementation runs only when the previous result has been
        consumed, so a caller can act on one plugin's contribution before the
        next plugin runs (a plugin adding commands to a group that the plugin
        before it returned).

        Use it where it matters who contributed what (settings, tables,
        commands); ``registry.hook.<name>(...)`` gives only the results.
        Implementations are called in load order and ``None`` results are
        kept.

        :param hook: the hook's name.
        :param kwargs: the hook's arguments, by name.
        :raises PluginHookError: naming the plugin whose implementation
            raised, with the original traceback; an :class:`ErlenError` a
            plugin raises itself passes through unchanged.
        """
        for impl in self.implementations(hook):
            unknown = [name for name in impl.argnames if name not in kwargs]
            if unknown:
                raise HookImplementationError(
                    f"Plugin {impl.plugin_name!r}: {hook} takes {', '.join(map(repr, unknown))}, which the hook "
                    f"does not provide. It provides: {', '.join(kwargs) or 'no arguments'}.",
                    plugin=impl.plugin_name,
                )
            try:
                result = impl.function(*(kwargs[name] for name in impl.argnames))
            except ErlenError:
                raise
            except Exception as exc:
                raise PluginHookError(
                    f"Plugin {impl.plugin_name!r} failed in {hook}: {type(exc).__name__}: {exc}",
                    plugin=impl.plugin_name,
                    original=exc,
                ) from exc
            yield self._by_name[impl.plugin_name], result

    def notify(self, hook: str, **kwargs: object) -> list[tuple[LoadedPlugin, Exception]]:
        """Call ``hook`` for its side effects: every plugin, whatever the others do.

        For notifications (a message was sent, a user logged in) where one
        plugin's failure must neither stop the others nor undo what already
        happened. Each failure is logged on the ``erlen.plugins`` logger with
        the plugin's name and traceback, and returned.

        :param hook: the hook's name.
        :param kwargs: the hook's arguments, by name.
        :returns: the plugins that raised, with their exceptions.
        """
        return self._notify(hook, self.implementations(hook), kwargs)

    def notify_in_reverse(self, hook: str, **kwargs: object) -> list[tuple[LoadedPlugin, Exception]]:
        """:meth:`notify`, in the reverse of load order: for releasing what plugins set up (a plugin is closed
        before the plugins it builds on).

        :param hook: the hook's name.
        :param kwargs: the hook's arguments, by name.
        :returns: the plugins that raised, with their exceptions.
        """
        return self._notify(hook, reversed(self.implementations(hook)), kwargs)

    def _notify(
        self, hook: str, implementations: Iterable[pluggy.HookImpl], kwargs: Mapping[str, object]
    ) -> list[tuple[LoadedPlugin, Exception]]:
        failures: list[tuple[LoadedPlugin, Exception]] = []
        for impl in implementations:
            plugin = self._by_name[impl.plugin_name]
            try:
                impl.function(*(kwargs[name] for name in impl.argnames))
            except Exception as exc:
                logger.exception("Plugin %r failed in %s; the other plugins were still called", plugin.name, hook)
                failures.append((plugin, exc))
        return failures

    def implementations(self, hook: str) -> list[pluggy.HookImpl]:
        """The implementations of ``hook`` in the order they are called.

        :raises HookImplementationError: an implementation is a wrapper; a
            hook called plugin by plugin (as by :meth:`iter_each`) has no
            inner call for a wrapper to wrap.
        """
        caller = getattr(self.manager.hook, hook, None)
        if caller is None:
            return []
        implementations = list(reversed(caller.get_hookimpls()))
        for impl in implementations:
            if impl.wrapper or impl.hookwrapper:
                raise HookImplementationError(
                    f"Plugin {impl.plugin_name!r}: {hook} is called plugin by plugin, so it cannot be implemented "
                    "as a wrapper. Remove wrapper=True (or hookwrapper=True) and return the plugin's own result.",
                    plugin=impl.plugin_name,
                )
        return implementations

    def wrap_implementations(self, wrap: HookWrapFactory) -> int:
        """Replace every hook implementation's function with ``wrap(function, hook, plugin)``.

        For instrumentation that must see each plugin's own call (time per
        plugin, a span per hook call), which pluggy's hook-level monitoring
        cannot give: erlen-ops measures hook calls this way. The wrapper
        receives the implementation's arguments as pluggy passes them
        (positionally, in the order of the implementation's own signature)
        and must return what the function returns. Wrappers (``wrapper=True``)
        are left alone. Implementations registered later, and hooks called
        before this, are not wrapped.

        :param wrap: called once per implementation with the function, the
            hook's name and the plugin's name; returns the function to call
            instead.
        :returns: the number of implementations wrapped.
        """
        wrapped = 0
        for name in dir(self.manager.hook):
            caller = getattr(self.manager.hook, name)
            if not isinstance(caller, pluggy.HookCaller):
                continue
            for impl in caller.get_hookimpls():
                if impl.wrapper or impl.hookwrapper:
                    continue
                # HookImpl keeps the argument names it computed at registration, so
                # swapping the function for one taking the same arguments is safe.
                object.__setattr__(impl, "function", wrap(impl.function, name, impl.plugin_name))
                wrapped += 1
        return wrapped

    def settings_of(self, name: str, config: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The values of the settings plugin ``name`` declared, by setting name."""
        return {
            declared.setting.name: config.get(key) for key, declared in self.settings.items() if declared.plugin == name
        }


def hook_items(plugin: str, hook: str, result: object, expected: str) -> Iterable[t.Any]:
    """The items of a hook result that must be a collection, such as a list.

    A plugin returning one item where a list is expected (``return "templates"``,
    ``return blueprint``) would otherwise be iterated character by character
    or fail with a bare ``TypeError`` that names no plugin. Use it on each
    result of :meth:`PluginRegistry.call_each` for a hook whose
    implementations return lists; it checks only the container, so check
    each item where the hook expects a certain type.

    :param plugin: the name of the plugin that returned ``result``, for the message.
    :param hook: the hook's name, for the message.
    :param result: what the implementation returned; ``None`` counts as empty.
    :param expected: what the items should be, such as ``"folder paths"``.
    :raises PluginError: ``result`` is not a list-like collection.
    """
    if result is None:
        return ()
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
        shown = f" {result!r}" if isinstance(result, (str, bytes)) else ""
        raise PluginError(
            f"Plugin {plugin!r}: {hook} returned {type(result).__name__}{shown}; it must return a list of "
            f"{expected}. Wrap a single one in a list.",
            plugin=plugin,
        )
    return result


def hook_mapping(plugin: str, hook: str, result: object, expected: str = "names to values") -> Mapping[str, t.Any]:
    """A hook result that must be a mapping, such as template globals by name.

    A plugin returning a list or a single object where a dict is expected would
    otherwise fail later with a bare ``AttributeError`` (``'list' object has no
    attribute 'items'``) that names no plugin. Use it on each result of
    :meth:`PluginRegistry.call_each` for a hook whose implementations return
    dicts; it checks only the container, so check keys and values where the
    hook expects certain types.

    :param plugin: the name of the plugin that returned ``result``, for the message.
    :param hook: the hook's name, for the message.
    :param result: what the implementation returned; ``None`` counts as empty.
    :param expected: what the dict maps, such as ``"filter names to functions"``.
    :raises PluginError: ``result`` is not a mapping.
    """
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise PluginError(
            f"Plugin {plugin!r}: {hook} returned {type(result).__name__}; return a dict of {expected}.",
            plugin=plugin,
        )
    return result

"""Sphinx extension that generates Erlen's hook and settings references.

Both references are built from what is installed when the docs are built, so
they never need a hand-kept copy:

``.. erlen-hookspecs::``
    Documents the hook specifications of Erlen's core (:mod:`erlen.hookspecs`)
    and of every installed plugin that adds its own through the
    ``erlen_hookspecs`` hook. Installed plugins are found through the
    ``erlen.plugins`` entry-point group. Each module (or class) of
    specifications becomes a section with its docstring, followed by every
    hook specification in it, rendered with autodoc.

``.. erlen-settings::``
    Documents the settings that the core and every installed plugin declare
    through the ``erlen_settings`` hook: one section per plugin, one
    ``setting`` entry per configuration key with its type, default (hidden when
    the setting is secret), help and environment variable. Settings can be
    linked with the ``:setting:`KEY``` role.

Documents that use either directive are read again on every build, so that
installing or removing an extension shows up without a clean build.
"""

from __future__ import annotations

import abc
import inspect
import sys
import typing as t

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

logger = logging.getLogger(__name__)

#: Where the plugins are loaded from, as it appears in Erlen's error messages.
_LISTED_IN = "the documentation build"


# ---------------------------------------------------------------------------
# Finding the plugins


def _core_plugin() -> t.Any:
    from erlen import builtin

    return builtin.loaded()


def _installed_plugins(location: str) -> list[t.Any]:
    """Every installed plugin, loaded, sorted by name; failures are warned about."""
    from erlen.errors import ErlenError
    from erlen.plugins.discovery import installed_plugins, load_plugin

    installed = installed_plugins()
    loaded = []
    for name in sorted(installed):
        try:
            loaded.append(load_plugin(name, installed, listed_in=_LISTED_IN))
        except ErlenError as exc:
            first_line = str(exc).splitlines()[0]
            logger.warning(
                "erlen-docs: cannot load the installed plugin %r: %s",
                name,
                first_line,
                location=location,
            )
    return loaded


def _call_hook(plugin: t.Any, hook: str, location: str) -> t.Any:
    """Call ``plugin``'s implementation of an argument-less ``hook``, or return ``None``."""
    from erlen.plugins.validation import hook_implementations

    function = hook_implementations(plugin.obj).get(hook)
    if function is None:
        return None
    try:
        return function()
    except Exception as exc:
        logger.warning(
            "erlen-docs: %s of plugin %r raised %s: %s",
            hook,
            plugin.name,
            type(exc).__name__,
            exc,
            location=location,
        )
        return None


def _describe(plugin: t.Any) -> str:
    """A line saying where the plugin comes from."""
    if plugin.builtin:
        return "Built into Erlen's core."
    parts = []
    if plugin.distribution:
        version = f" {plugin.version}" if plugin.version else ""
        parts.append(f"Shipped by the distribution ``{plugin.distribution}``{version}.")
    else:
        parts.append(f"From {plugin.origin}.")
    return " ".join(parts)


def _title(text: str, underline: str) -> list[str]:
    return [text, underline * len(text), ""]


def _indent(text: str, prefix: str = "   ") -> list[str]:
    return [prefix + line if line.strip() else "" for line in inspect.cleandoc(text).splitlines()]


# ---------------------------------------------------------------------------
# Directives


class _GeneratingDirective(SphinxDirective, abc.ABC):
    """A directive whose output is reStructuredText it generates."""

    has_content = False
    required_arguments = 0
    optional_arguments = 0

    @abc.abstractmethod
    def generate(self) -> list[str]:
        """The reStructuredText lines the directive stands for."""

    def run(self) -> list[nodes.Node]:
        generated_docs(self.env).add(self.env.docname)
        source, line = self.get_source_info()
        content = StringList()
        for text in self.generate():
            content.append(text, f"{source}:<{self.name}>", line)
        if hasattr(self, "parse_text_to_nodes"):  # Sphinx 7.4 and later
            return self.parse_text_to_nodes(content, allow_section_headings=True)
        from sphinx.util.nodes import nested_parse_with_titles

        container = nodes.section()
        nested_parse_with_titles(self.state, content, container, self.content_offset)
        return list(container.children)

    @property
    def location(self) -> str:
        source, line = self.get_source_info()
        return f"{source}:{line}"


class HookspecsDirective(_GeneratingDirective):
    """``.. erlen-hookspecs::``: the hook specifications of the core and installed plugins."""

    def generate(self) -> list[str]:
        from erlen import hookspecs

        lines = _title("Core hooks", "-")
        lines += [
            "Hooks that Erlen's core defines and calls; every plugin may implement them.",
            "",
        ]
        lines += _namespace_docs(hookspecs, heading=None)
        documented = {id(hookspecs)}
        for plugin in _installed_plugins(self.location):
            namespaces = _call_hook(plugin, "erlen_hookspecs", self.location) or ()
            namespaces = [ns for ns in namespaces if id(ns) not in documented]
            if not namespaces:
                continue
            documented.update(id(ns) for ns in namespaces)
            lines += _title(f"Hooks of the plugin ``{plugin.name}``", "-")
            lines += [_describe(plugin), ""]
            if plugin.declaration.description:
                lines += [plugin.declaration.description, ""]
            for namespace in namespaces:
                heading = _qualified_name(namespace) if len(namespaces) > 1 else None
                lines += _namespace_docs(namespace, heading=heading)
        return lines


def _qualified_name(namespace: object) -> str:
    if inspect.ismodule(namespace):
        return namespace.__name__
    return f"{namespace.__module__}.{namespace.__qualname__}"  # type: ignore[attr-defined]


def _hookspec_functions(namespace: object) -> list[tuple[str, t.Any]]:
    """The hook specifications in ``namespace``, in source order."""
    from erlen.plugins.validation import collect_specs

    found = [(name, getattr(namespace, name)) for name in collect_specs([namespace])]

    def position(item: tuple[str, t.Any]) -> tuple[int, str]:
        code = getattr(inspect.unwrap(item[1]), "__code__", None)
        return (code.co_firstlineno if code is not None else sys.maxsize, item[0])

    return sorted(found, key=position)


def _namespace_docs(namespace: object, heading: str | None) -> list[str]:
    from erlen.plugins.validation import PROJECT

    name = _qualified_name(namespace)
    lines: list[str] = []
    if heading is not None:
        lines += _title(f"``{heading}``", "~")
    if inspect.ismodule(namespace):
        lines += [f".. automodule:: {name}", ""]
        member = "autofunction"
    else:
        lines += [f".. autoclass:: {name}", ""]
        member = "automethod"
    for hook, function in _hookspec_functions(namespace):
        lines += [f".. {member}:: {name}.{hook}", ""]
        options = getattr(function, f"{PROJECT}_spec", None) or {}
        if options.get("firstresult"):
            lines += [
                "   *Stops at the first result*: the first implementation that returns",
                "   something other than ``None`` wins, and later ones are not called.",
                "",
            ]
        if options.get("historic"):
            lines += ["   *Historic*: plugins registered later are called too.", ""]
    return lines


class SettingsDirective(_GeneratingDirective):
    """``.. erlen-settings::``: the settings of the core and every installed plugin."""

    def generate(self) -> list[str]:
        from erlen.config import ENV_PREFIX
        from erlen.plugins.declaration import default_prefix
        from erlen.settings import DeclaredSetting, Setting

        lines: list[str] = []
        for plugin in [_core_plugin(), *_installed_plugins(self.location)]:
            declared = _call_hook(plugin, "erlen_settings", self.location) or ()
            settings = []
            for setting in declared:
                if isinstance(setting, Setting):
                    settings.append(setting)
                else:
                    logger.warning(
                        "erlen-docs: erlen_settings of plugin %r returned %s, not an erlen.Setting",
                        plugin.name,
                        type(setting).__name__,
                        location=self.location,
                    )
            if plugin.builtin:
                lines += _title(f"Core settings (``{plugin.name}``)", "-")
            else:
                lines += _title(f"Settings of the plugin ``{plugin.name}``", "-")
            lines += [_describe(plugin), ""]
            if plugin.declaration.description and not plugin.builtin:
                lines += [plugin.declaration.description, ""]
            prefix = plugin.declaration.settings_prefix
            prefix = default_prefix(plugin.name) if prefix is None else prefix
            if not settings:
                lines += ["This plugin declares no settings.", ""]
                continue
            lines += [
                _prefix_note(plugin.name, prefix, default_prefix(plugin.name)),
                "",
            ]
            for setting in settings:
                key = prefix + setting.name
                bound = DeclaredSetting(setting, plugin.name, key)
                default = "*required*" if setting.required else f"``{bound.display(setting.default)}``"
                lines += [f".. setting:: {key}", ""]
                if setting.help:
                    lines += [*_indent(setting.help), ""]
                lines += [
                    f"   :Type: ``{setting.type_name}``",
                    f"   :Default: {default}",
                    f"   :Environment variable: ``{ENV_PREFIX}{key}``",
                ]
                if setting.secret:
                    lines += ["   :Secret: yes: its value is never shown in output or error messages"]
                lines += [""]
        return lines


def _prefix_note(name: str, prefix: str, default: str) -> str:
    """Where the plugin's keys go, in ``app.config`` and in a TOML file."""
    if not prefix:
        return "Its keys have no prefix: in a TOML file they are top-level keys, in lower case."
    if prefix == default:
        table = name
    elif prefix.endswith("_") and prefix[:-1]:
        table = prefix[:-1].lower()
    else:
        return f"Its keys start with ``{prefix}``: in a TOML file they are top-level keys, in lower case."
    return (
        f"Its keys start with ``{prefix}``: in a TOML file they go in the table ``[{table}]``, "
        "without the prefix and in lower case."
    )


# ---------------------------------------------------------------------------
# Re-exported data keeps its documentation comment


def _reexported_data_doc(app: Sphinx, what: str, name: str, obj: object, options: t.Any, lines: list[str]) -> None:
    """Give ``erlen.X`` the ``#:`` comment of the module that defines ``X``.

    autodoc reads documentation comments of data from the module the object
    is documented under; names re-exported by ``erlen/__init__.py`` (such as
    :data:`erlen.hookimpl` or :data:`erlen.REQUIRED`) would otherwise get the
    docstring of their class, or nothing.
    """
    if what != "data" or not name.startswith("erlen."):
        return
    from sphinx.pycode import ModuleAnalyzer, PycodeError

    module_name, _, attribute = name.rpartition(".")
    defining = [
        module
        for module_key, module in sorted(sys.modules.items())
        if module is not None
        and (module_key == "erlen" or module_key.startswith("erlen."))
        and module_key != module_name
        and getattr(module, attribute, None) is obj
    ]
    for module in defining:
        try:
            comments = ModuleAnalyzer.for_module(module.__name__).find_attr_docs()
        except PycodeError:
            continue
        comment = comments.get(("", attribute))
        if comment:
            lines[:] = list(comment)
            return


# ---------------------------------------------------------------------------
# Always re-read documents with generated content


def generated_docs(env: BuildEnvironment) -> set[str]:
    """The documents read again on every build, as they show what is installed or what commands print.

    :param env: the build environment.
    """
    if not hasattr(env, "erlen_generated_docs"):
        env.erlen_generated_docs = set()  # type: ignore[attr-defined]
    return env.erlen_generated_docs  # type: ignore[attr-defined,no-any-return]


def _outdated(
    app: Sphinx,
    env: BuildEnvironment,
    added: set[str],
    changed: set[str],
    removed: set[str],
) -> list[str]:
    return sorted(generated_docs(env) - removed)


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    generated_docs(env).discard(docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    generated_docs(env).update(generated_docs(other) & set(docnames))


def setup(app: Sphinx) -> dict[str, t.Any]:
    app.setup_extension("sphinx.ext.autodoc")
    app.add_object_type(
        "setting",
        "setting",
        indextemplate="pair: %s; setting",
        objname="setting",
    )
    app.add_directive("erlen-hookspecs", HookspecsDirective)
    app.add_directive("erlen-settings", SettingsDirective)
    app.connect("autodoc-process-docstring", _reexported_data_doc)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

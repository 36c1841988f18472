"""Finding plugins: installed ones through entry points, local ones by import path."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import EntryPoint, distributions

from ..errors import DuplicatePluginError, PluginError, PluginImportError, UnknownPluginError
from .declaration import DECLARATION_ATTRIBUTE, Plugin, default_title

#: The entry-point group through which distributions announce plugins.
ENTRY_POINT_GROUP = "erlen.plugins"


@dataclass
class LoadedPlugin:
    """A plugin that has been imported, with what is known about it.

    :param name: the plugin's short name.
    :param obj: the module or object whose hook implementations are registered.
    :param declaration: its :class:`~erlen.Plugin` declaration.
    :param origin: how it was found, for messages.
    :param distribution: the distribution that ships it, if installed.
    :param distribution_version: that distribution's version.
    :param builtin: part of Erlen's core.
    :param spec: the entry of ``PLUGINS`` that enabled it.
    """

    name: str
    obj: object
    declaration: Plugin
    origin: str
    spec: str = ""
    distribution: str | None = None
    distribution_version: str | None = None
    builtin: bool = False

    @cached_property
    def version(self) -> str | None:
        """The declared version, else that of the shipping distribution."""
        return self.declaration.version or self.distribution_version

    @property
    def title(self) -> str:
        """The plugin's name for people, in headings: the declared title, else its name made a word
        (:func:`~erlen.plugins.declaration.default_title`)."""
        return self.declaration.title or default_title(self.name)

    @property
    def requires(self) -> tuple[str, ...]:
        """The plugins this one requires."""
        return tuple(self.declaration.requires)

    @property
    def integrates_with(self) -> tuple[str, ...]:
        """The plugins this one uses when they are enabled."""
        return tuple(self.declaration.integrates_with)


def installed_plugins() -> dict[str, list[EntryPoint]]:
    """Every installed plugin's entry points, by plugin name.

    A name maps to several entry points when distributions clash over it.

    As :func:`importlib.metadata.entry_points` finds them (a distribution
    installed twice on ``sys.path`` counts once, the first), but only the
    distributions whose ``entry_points.txt`` has the group's section are
    parsed: every ``erlen`` command and every worker looks them up, among the
    hundreds of distributions of an environment.
    """
    found: dict[str, list[EntryPoint]] = {}
    seen: set[str] = set()
    header = f"[{ENTRY_POINT_GROUP}]"
    for dist in distributions():
        text = dist.read_text("entry_points.txt")
        # The section header is matched exactly (after stripping the line), as importlib.metadata reads it.
        if not text or header not in text:
            continue
        # What importlib.metadata.entry_points() dedupes distributions by (the name of the folder, normalized).
        key = getattr(dist, "_normalized_name", None) or dist.metadata["Name"]
        if key in seen:
            continue
        seen.add(key)
        for ep in dist.entry_points.select(group=ENTRY_POINT_GROUP):
            candidates = found.setdefault(ep.name, [])
            if all(c.value != ep.value for c in candidates):
                candidates.append(ep)
    return found


def load_plugin(spec: str, installed: dict[str, list[EntryPoint]], *, listed_in: str) -> LoadedPlugin:
    """Import the plugin that ``spec`` names in ``PLUGINS``.

    :param spec: an entry-point name (``db``) or a dotted import path
        (``myapp.plugins.blog``, or ``module:attribute``).
    :param installed: the result of :func:`installed_plugins`.
    :param listed_in: where ``PLUGINS`` came from, for messages.
    """
    if spec in installed:
        return _load_entry_point(spec, installed[spec])
    if _importable(spec):
        return _load_module_plugin(spec)
    names = sorted(installed)
    close = difflib.get_close_matches(spec, names, n=1)
    raise UnknownPluginError(
        f"Unknown plugin {spec!r} in PLUGINS (from {listed_in}). "
        + (f"Did you mean {close[0]!r}? " if close else "")
        + (f"Installed plugins: {', '.join(names)}. " if names else "No plugins are installed. ")
        + "Install the distribution that provides it, or give the dotted import path of a local plugin module.",
        plugin=spec,
    )


def _load_entry_point(name: str, eps: list[EntryPoint]) -> LoadedPlugin:
    if len(eps) > 1:
        shipped_by = " and ".join(f"{_dist_label(ep)} ({ep.value})" for ep in eps)
        raise DuplicatePluginError(
            f"Two installed distributions provide a plugin named {name!r}: {shipped_by}. Uninstall one of them.",
            plugin=name,
        )
    (ep,) = eps
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginImportError(
            f"Plugin {name!r} (entry point {ep.value!r} of {_dist_label(ep)}) failed to import: "
            f"{type(exc).__name__}: {exc}",
            plugin=name,
            original=exc,
        ) from exc
    declaration = _declaration_of(obj, name)
    if declaration.name is not None and declaration.name != name:
        raise PluginError(
            f"Plugin {name!r} of {_dist_label(ep)} declares the name {declaration.name!r}; "
            "the entry-point name and Plugin(name=...) must agree.",
            plugin=name,
        )
    # One read of the distribution's metadata: each access to Distribution.name or .version parses the file again.
    metadata = ep.dist.metadata if ep.dist else None
    distribution = metadata["Name"] if metadata else None
    distribution_version = metadata["Version"] if metadata else None
    label = f"distribution {distribution} {distribution_version}" if metadata else "an unknown distribution"
    return LoadedPlugin(
        name=name,
        obj=obj,
        declaration=declaration,
        origin=f"entry point {name} = {ep.value} of {label}",
        spec=name,
        distribution=distribution,
        distribution_version=distribution_version,
    )


def _load_module_plugin(spec: str) -> LoadedPlugin:
    module_name, _, attribute = spec.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
        if attribute:
            obj = getattr(obj, attribute)
    except Exception as exc:
        raise PluginImportError(
            f"Plugin {spec!r} failed to import: {type(exc).__name__}: {exc}",
            plugin=spec,
            original=exc,
        ) from exc
    declaration = _declaration_of(obj, spec)
    return LoadedPlugin(
        name=declaration.name or spec,
        obj=obj,
        declaration=declaration,
        origin=f"module {spec}",
        spec=spec,
    )


def _declaration_of(obj: object, name: str) -> Plugin:
    declaration = getattr(obj, DECLARATION_ATTRIBUTE, None)
    if declaration is None:
        return Plugin()
    if not isinstance(declaration, Plugin):
        raise PluginError(
            f"Plugin {name!r}: {DECLARATION_ATTRIBUTE} must be an erlen.Plugin, not {type(declaration).__name__}.",
            plugin=name,
        )
    return declaration


def _importable(spec: str) -> bool:
    module_name = spec.partition(":")[0]
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ModuleNotFoundError, ValueError):
        # find_spec imports parent packages; a missing parent means "not found".
        return False
    except Exception:
        # A parent package that exists but fails to import: report that failure.
        return True


def _dist_label(ep: EntryPoint) -> str:
    return f"distribution {ep.dist.name} {ep.dist.version}" if ep.dist else "an unknown distribution"

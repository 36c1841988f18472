"""Creating an Erlen app: a Flask app with the plugins its configuration enables."""

from __future__ import annotations

import copy
import os
import typing as t
from collections.abc import Callable, Mapping
from pathlib import Path

import click
from flask import Blueprint, Flask, Request, abort, current_app, send_from_directory
from flask.cli import with_appcontext
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader

from . import builtin, cookie_sessions
from .config import ConfigInput, ConfigSources, decode_undeclared, load_config, load_environment
from .deferred import start_deferring
from .errors import CommandConflictError, DuplicatePluginError, ErlenError, PluginError, PluginHookError, SettingError
from .hosts import register_host_check
from .lazy_commands import LazyCommand
from .lazy_views import defer_real_views
from .plugins.declaration import default_prefix
from .plugins.discovery import LoadedPlugin, installed_plugins, load_plugin
from .plugins.ordering import resolve_order
from .plugins.registry import PluginRegistry, hook_items, hook_mapping
from .plugins.tracing import tracing_enabled
from .proxies import apply_proxy_hops
from .request_bodies import GuardedRequest
from .request_ids import register_request_ids
from .routing import use_lazy_builders
from .settings import DeclaredSetting, Setting, validate_value
from .sync_functions import remember_plain_functions
from .template_cache import install as install_template_cache
from .template_search import install as install_template_search
from .templating import use_flat_globals
from .unknown_settings import warn_unknown_settings

#: The key of ``app.extensions`` under which the :class:`PluginRegistry` lives.
EXTENSION_KEY = "erlen"

#: Command names Flask's CLI provides itself; a plugin command of that name would be hidden.
_FLASK_COMMANDS = frozenset({"run", "shell", "routes"})

#: What ``erlen_template_globals`` returns, for the message when it returns something else.
_GLOBALS_EXPECTED = 'names to values, such as {"site_name": "Notes"}'


def create_app(
    import_name: str,
    config: ConfigInput = None,
    *,
    environ: Mapping[str, str] | None = None,
    **flask_options: t.Any,
) -> Flask:
    """Create a Flask app with the plugins that its configuration enables.

    :param import_name: as for :class:`flask.Flask`; pass ``__name__``.
    :param config: a mapping with upper-case keys; the name or
        :class:`os.PathLike` path of a ``.toml``, ``.py`` or ``.cfg`` file
        (relative to the app's root path; ``.cfg`` is read as Python, as
        Flask does); an object; or an object's dotted import path.
        ``PLUGINS`` in it lists the enabled plugins.
    :param environ: the environment to read ``ERLEN_*`` variables from;
        ``os.environ`` by default.
    :param flask_options: passed to :class:`flask.Flask`, such as
        ``static_folder`` or ``instance_path``.
    :raises ErlenError: with a message naming the plugin, setting or file at
        fault.
    """
    app = Flask(import_name, **flask_options)
    Erlen(app, config=config, environ=environ)
    return app


class Erlen:
    """Attach Erlen to a Flask app, in the Flask extension style.

    :func:`create_app` does this for you. For an existing app::

        app = Flask(__name__)
        app.config["PLUGINS"] = ["db"]
        Erlen(app)

    or, with an app factory, ``plugins = Erlen()`` and later
    ``plugins.init_app(app)``.

    :param app: the app to attach to now.
    :param config: configuration to load into the app first (see
        :func:`create_app`); values already in ``app.config`` are kept
        unless it sets them.
    :param environ: the environment to read ``ERLEN_*`` variables from.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        config: ConfigInput = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.environ = environ
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> PluginRegistry:
        """Load the configuration and the enabled plugins into ``app``.

        :returns: the app's plugin registry.
        """
        if EXTENSION_KEY in app.extensions:
            raise ErlenError(f"Erlen is already attached to the app {app.name!r}; attach it once per app.")
        environ = os.environ if self.environ is None else self.environ
        # Before any plugin adds a route: their URL builders are compiled when first used, not now.
        use_lazy_builders(app)
        remember_plain_functions(app)  # Flask asks whether each hook is async on every call: once is enough
        sources = ConfigSources()
        load_config(app.config, self.config, sources)
        load_environment(app.config, environ, sources)
        registry = PluginRegistry(
            resolve_order(_enabled_plugins(app, sources), listed_in=sources.get("PLUGINS")),
            config_sources=sources,
            trace=tracing_enabled(environ),
        )
        app.extensions[EXTENSION_KEY] = registry
        start_deferring(app)  # under the erlen command: plugins' erlen.defer_setup steps wait for erlen.finish_setup
        _apply_settings(app, registry)
        registry.loaded_config = dict(app.config)
        warn_unknown_settings(registry)
        # Before erlen_init_app, so request hooks (a CSRF check, say) run ahead of
        # any before_request function a plugin registers on the app itself.
        _register_per_request_hooks(app, registry)
        registry.call_each("erlen_init_app", app=app)
        _register_templates(app, registry)
        _register_blueprints(app, registry)
        _register_commands(app, registry)
        _register_static(app, registry)
        # Before erlen_app_ready's deferred steps, which may read the views' marks (required permissions).
        defer_real_views(app)
        registry.call_each("erlen_app_ready", app=app)
        # Around every middleware the plugins added, so all their log lines carry the request's id.
        register_request_ids(app)
        # Last, so the proxy fix wraps every middleware the plugins added: all of it sees the client.
        apply_proxy_hops(app)
        return registry


def plugins_of(app: Flask | None = None) -> PluginRegistry:
    """The plugin registry of ``app``, or of the current app.

    :raises ErlenError: the app was not created by Erlen.
    """
    app = app if app is not None else t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        return t.cast(PluginRegistry, app.extensions[EXTENSION_KEY])
    except KeyError:
        raise ErlenError(
            f"The Flask app {app.name!r} has no Erlen plugins: create it with erlen.create_app(), "
            "or attach Erlen with erlen.Erlen(app)."
        ) from None


def close_app(app: Flask) -> None:
    """Release what the app's plugins hold open: pooled connections, clients, threads.

    Calls every plugin's ``erlen_app_close`` in the reverse of load order, each
    one even when another fails. Call it when you are done with an app that
    you made yourself (a script, a test); the testing kit's ``make_app`` and
    ``app`` fixtures close theirs at the end of the test. The app stays
    usable: what was released is opened again when next needed.

    :param app: an app made by :func:`create_app`.
    :raises PluginHookError: a plugin's ``erlen_app_close`` raised; it names
        the first such plugin, after every plugin was called.
    :raises ErlenError: the app was not created by Erlen.
    """
    failures = plugins_of(app).notify_in_reverse("erlen_app_close", app=app)
    if failures:
        plugin, exc = failures[0]
        raise PluginHookError(
            f"Plugin {plugin.name!r} failed in erlen_app_close: {type(exc).__name__}: {exc}",
            plugin=plugin.name,
            original=exc,
        ) from exc


def _enabled_plugins(app: Flask, sources: ConfigSources) -> list[LoadedPlugin]:
    listed_in = sources.get("PLUGINS")
    plugins_setting = DeclaredSetting(builtin.PLUGINS_SETTING, builtin.PLUGIN.name or "erlen", "PLUGINS")
    specs = t.cast(list[str], validate_value(plugins_setting, app.config.get("PLUGINS", []), source=listed_in))
    app.config["PLUGINS"] = specs
    seen: set[str] = set()
    for spec in specs:
        if spec in seen:
            raise DuplicatePluginError(
                f"Plugin {spec!r} is listed twice in PLUGINS (from {listed_in}); list each plugin once.",
                plugin=spec,
            )
        seen.add(spec)
    if "erlen" in seen:
        raise PluginError("'erlen' is the core and always loaded: remove it from PLUGINS.", plugin="erlen")
    installed = installed_plugins() if specs else {}
    return [builtin.loaded()] + [load_plugin(spec, installed, listed_in=listed_in) for spec in specs]


def _apply_settings(app: Flask, registry: PluginRegistry) -> None:
    sources = registry.config_sources
    for plugin, declared in registry.call_each("erlen_settings"):
        prefix = plugin.declaration.settings_prefix
        prefix = default_prefix(plugin.name) if prefix is None else prefix
        for setting in hook_items(plugin.name, "erlen_settings", declared, "erlen.Setting objects"):
            if not isinstance(setting, Setting):
                raise PluginError(
                    f"Plugin {plugin.name!r}: erlen_settings must return erlen.Setting objects, "
                    f"not {type(setting).__name__}.",
                    plugin=plugin.name,
                )
            key = prefix + setting.name
            if key in registry.settings:
                raise PluginError(
                    f"Plugins {registry.settings[key].plugin!r} and {plugin.name!r} both declare the setting {key}. "
                    "One of them must use another name or settings_prefix.",
                    plugin=plugin.name,
                )
            registry.settings[key] = DeclaredSetting(setting, plugin.name, key)

    for key, declared in registry.settings.items():
        if key in app.config:
            app.config[key] = validate_value(declared, app.config[key], source=sources.get(key))
        elif declared.setting.required:
            raise SettingError(
                f"Setting {key} of plugin {declared.plugin!r} is required but not set. Set {key} in the app's "
                f"configuration or the environment variable ERLEN_{key}."
                + (f" {declared.setting.help}" if declared.setting.help else ""),
                key=key,
                plugin=declared.plugin,
            )
        else:
            app.config[key] = copy.deepcopy(declared.setting.default)
            sources.record(key, f"the default of plugin {declared.plugin!r}")

    for key, value in list(app.config.items()):
        if key not in registry.settings and isinstance(value, str) and sources.from_environment(key):
            app.config[key] = decode_undeclared(value)


def _register_templates(app: Flask, registry: PluginRegistry) -> None:
    # Later plugins come first so a plugin can override the templates of those it requires.
    plugin_folders = [
        (plugin.name, _plugin_path(plugin, folder))
        for plugin, result in registry.call_each("erlen_template_folders")
        for folder in hook_items(plugin.name, "erlen_template_folders", result, "folder paths")
    ][::-1]
    if plugin_folders:
        own = app.jinja_loader
        loaders: list[BaseLoader] = [own] if own is not None else []
        loaders.extend(FileSystemLoader(folder) for _, folder in plugin_folders)
        app.jinja_loader = ChoiceLoader(loaders)
    # Before any template is loaded: a page's render copies two dozen globals, at C speed with it.
    use_flat_globals(app)
    install_template_cache(app)
    install_template_search(app, plugin_folders)
    for plugin, names in registry.call_each("erlen_template_globals"):
        app.jinja_env.globals.update(hook_mapping(plugin.name, "erlen_template_globals", names, _GLOBALS_EXPECTED))
    for plugin, filters in registry.call_each("erlen_template_filters"):
        app.jinja_env.filters.update(
            hook_mapping(plugin.name, "erlen_template_filters", filters, "filter names to functions")
        )


def _plugin_path(plugin: LoadedPlugin, folder: str | os.PathLike[str]) -> str:
    path = Path(folder)
    if not path.is_absolute():
        module_file = getattr(plugin.obj, "__file__", None)
        if module_file is None:
            raise PluginError(
                f"Plugin {plugin.name!r} returned the relative folder {str(folder)!r}; return an absolute path."
            )
        path = Path(module_file).parent / path
    return str(path)


def _register_blueprints(app: Flask, registry: PluginRegistry) -> None:
    for plugin, blueprints in registry.call_each("erlen_blueprints", app=app):
        for item in hook_items(plugin.name, "erlen_blueprints", blueprints, "flask.Blueprint objects"):
            blueprint, options = item if isinstance(item, tuple) else (item, {})
            if not isinstance(blueprint, Blueprint):
                raise PluginError(
                    f"Plugin {plugin.name!r}: erlen_blueprints returned {type(blueprint).__name__}; "
                    "return flask.Blueprint objects or (blueprint, options) pairs.",
                    plugin=plugin.name,
                )
            try:
                app.register_blueprint(blueprint, **options)
            except (ValueError, TypeError) as exc:
                raise PluginError(
                    f"Plugin {plugin.name!r}: blueprint {blueprint.name!r} cannot be registered: {exc}",
                    plugin=plugin.name,
                ) from exc


def _register_commands(app: Flask, registry: PluginRegistry) -> None:
    owners: dict[str, str] = {}
    for plugin, commands in registry.iter_each("erlen_cli_commands", cli=app.cli):
        for command in hook_items(plugin.name, "erlen_cli_commands", commands, "click commands"):
            name = command.name or ""
            if name in _FLASK_COMMANDS:
                raise CommandConflictError(
                    f"Plugin {plugin.name!r} adds the command {name!r}, which Flask's CLI already provides. "
                    "Rename the command.",
                    plugin=plugin.name,
                )
            if name in owners:
                raise CommandConflictError(
                    f"Plugins {owners[name]!r} and {plugin.name!r} both add the command {name!r}. "
                    "One of them must rename it, or add subcommands to the existing group through cli.commands.",
                    plugin=plugin.name,
                )
            owners[name] = plugin.name
            app.cli.add_command(_in_app_context(command))


def _in_app_context(command: click.Command) -> click.Command:
    # Flask pushes an app context for app.cli commands only when they run
    # through FlaskGroup; wrapping keeps the hook's promise under any runner.
    if isinstance(command, LazyCommand):
        # The real command is wrapped when it is imported (its first run or help).
        command.when_loaded(_in_app_context)
        return command
    if not getattr(command, "_erlen_app_context", False):
        command.callback = with_appcontext(command.callback or (lambda: None))
        command._erlen_app_context = True  # type: ignore[attr-defined]
    return command


def _register_static(app: Flask, registry: PluginRegistry) -> None:
    folders = {
        plugin.name: _plugin_path(plugin, folder)
        for plugin, folder in registry.call_each("erlen_static_folder")
        if folder is not None
    }
    if not folders:
        return

    def plugin_static(plugin: str, filename: str) -> t.Any:
        folder = folders.get(plugin)
        if folder is None:
            abort(404)
        return send_from_directory(folder, filename)

    prefix = (app.static_url_path or "/static").rstrip("/")
    app.add_url_rule(
        f"{prefix}/plugins/<plugin>/<path:filename>", endpoint="erlen_plugin_static", view_func=plugin_static
    )


def _register_per_request_hooks(app: Flask, registry: PluginRegistry) -> None:
    # Only hooks some plugin implements get a Flask handler: an unused hook adds no work to a request.
    hook = registry.hook
    cookie_sessions.install(app)  # the session cookie's serializer made once per key, not on every request
    register_host_check(app)  # first: no hook runs for a request naming a port the app does not answer on
    headers = {name: value for name, value in app.config["SECURITY_HEADERS"].items() if value}
    if headers:
        app.wsgi_app = _with_security_headers(app.wsgi_app, headers)  # type: ignore[method-assign]
    if app.request_class is Request:  # an app's own request class is left as it is (it may subclass the guard's)
        app.request_class = GuardedRequest  # a chunked body the server cannot read is a 400, not a 500
    before = _direct_calls(registry, "erlen_before_request", {})
    if before is not None:
        app.before_request(_first_result(before))
    elif registry.implements("erlen_before_request"):
        app.before_request(lambda: hook.erlen_before_request())
    after = _direct_calls(registry, "erlen_after_request", {"response": 0})
    if after is not None:
        app.after_request(_each_on_response(after))
    elif registry.implements("erlen_after_request"):

        def after_request(response: t.Any) -> t.Any:
            hook.erlen_after_request(response=response)
            return response

        app.after_request(after_request)
    teardown = _direct_calls(registry, "erlen_teardown_request", {"exception": 0})
    if teardown is not None:
        app.teardown_request(_each_on_exception(teardown))
    elif registry.implements("erlen_teardown_request"):
        app.teardown_request(lambda exception: hook.erlen_teardown_request(exception=exception))
    if registry.implements("erlen_template_context"):
        app.context_processor(_merging(lambda: hook.erlen_template_context()))
    if registry.implements("erlen_shell_context"):
        app.shell_context_processor(_merging(lambda: hook.erlen_shell_context()))


#: A per-request hook's implementations, in calling order, each with whether it takes the hook's one argument.
_DirectCalls = tuple[tuple[Callable[..., t.Any], bool], ...]


def _direct_calls(registry: PluginRegistry, name: str, arguments: Mapping[str, int]) -> _DirectCalls | None:
    """The implementations of the per-request hook ``name``, to call without pluggy's dispatch on every request.

    Built once, when the app is made (the plugins and their hooks are fixed then): pluggy's dispatch cost a
    request more than the hooks themselves. The order is pluggy's (``tryfirst``/``trylast`` included), and
    ``ERLEN_TRACE_HOOKS`` still logs each call (tracing wraps the functions this takes).

    :param registry: the app's plugins.
    :param name: ``erlen_before_request``, ``erlen_after_request`` or ``erlen_teardown_request``.
    :param arguments: the hook's one argument, if any (an implementation may leave it out, as pluggy allows).
    :returns: ``None`` when no plugin implements the hook, or one wraps it (then pluggy calls it).
    """
    caller = getattr(registry.hook, name, None)
    implementations = list(reversed(caller.get_hookimpls())) if caller is not None else []
    if not implementations or any(impl.wrapper or impl.hookwrapper for impl in implementations):
        return None
    return tuple((impl.function, any(arg in arguments for arg in impl.argnames)) for impl in implementations)


def _first_result(calls: _DirectCalls) -> Callable[[], t.Any]:
    """A ``before_request`` function calling ``calls`` in turn until one returns a response (``firstresult``)."""
    functions = tuple(function for function, _ in calls)
    if len(functions) == 1:
        return functions[0]

    def erlen_before_request() -> t.Any:
        for function in functions:
            result = function()
            if result is not None:
                return result
        return None

    return erlen_before_request


def _each_on_response(calls: _DirectCalls) -> Callable[[t.Any], t.Any]:
    """An ``after_request`` function calling each of ``calls`` with the response, then returning it."""

    def erlen_after_request(response: t.Any) -> t.Any:
        for function, takes_response in calls:
            if takes_response:
                function(response)
            else:
                function()
        return response

    return erlen_after_request


def _each_on_exception(calls: _DirectCalls) -> Callable[[BaseException | None], None]:
    """A ``teardown_request`` function calling each of ``calls`` with the request's exception, if any."""

    def erlen_teardown_request(exception: BaseException | None) -> None:
        for function, takes_exception in calls:
            if takes_exception:
                function(exception)
            else:
                function()

    return erlen_teardown_request


def _with_security_headers(wsgi_app: t.Any, headers: Mapping[str, str]) -> t.Any:
    """``wsgi_app`` adding ``headers`` (``SECURITY_HEADERS``) to each response that lacks them.

    Added as the response starts, after every view, blueprint and ``after_request`` function, so a header
    any of them set wins; error pages and static files get them too. A quarter of the cost of an
    ``after_request`` function (Flask's per-function overhead and werkzeug's ``Headers`` lookups).

    :param wsgi_app: the app's WSGI callable.
    :param headers: header names and values, none empty.
    """
    items = [(name.lower(), (name, value)) for name, value in headers.items()]

    def add_security_headers(environ: t.Any, start_response: t.Any) -> t.Any:
        def start(status: str, response_headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            present = {name.lower() for name, _ in response_headers}
            response_headers.extend(item for name, item in items if name not in present)
            return start_response(status, response_headers, exc_info)

        return wsgi_app(environ, start)

    return add_security_headers


def _merging(call: Callable[[], list[Mapping[str, t.Any] | None]]) -> Callable[[], dict[str, t.Any]]:
    def merged() -> dict[str, t.Any]:
        names: dict[str, t.Any] = {}
        for result in call():
            names.update(result or {})
        return names

    return merged

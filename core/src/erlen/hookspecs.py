"""The hook specifications of Erlen's core.

A plugin implements any of these by defining a function of the same name
decorated with :data:`erlen.hookimpl`. It may accept any subset of the
arguments a specification lists, by name. Implementations are called in load
order: a plugin's requirements before the plugin, otherwise in the order of
``PLUGINS``.

Extensions add specification modules of their own through
:func:`erlen_hookspecs`, so that plugins can extend extensions.
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

from .markers import hookspec

if t.TYPE_CHECKING:
    from types import ModuleType

    import click
    from flask import Blueprint, Flask, Response
    from flask.cli import AppGroup

    from .checks import CheckMessage
    from .settings import Setting


@hookspec
def erlen_hookspecs() -> Iterable[ModuleType | type]:
    """Add hook specifications of your own, so other plugins can extend yours.

    Return the modules (or classes) that hold the specifications, each
    decorated with :data:`erlen.hookspec`. Name your hooks after your plugin
    (``erlen_admin_views`` for the ``admin`` plugin).

    .. code-block:: python

        @erlen.hookimpl
        def erlen_hookspecs():
            from . import hookspecs
            return [hookspecs]
    """


@hookspec
def erlen_settings() -> Iterable[Setting]:
    """Declare the plugin's settings, with types, defaults and help.

    Each :class:`erlen.Setting` is read from the key made of the plugin's
    prefix and the setting's name (``DB_URL`` for ``Setting("URL")`` of the
    ``db`` plugin). Values are validated at startup, before
    :func:`erlen_init_app`; defaults fill in keys the app does not set.
    """


@hookspec
def erlen_init_app(app: Flask) -> None:
    """Initialise the plugin on ``app``.

    Called once per app, in load order, after settings are validated and
    before any other hook that receives the app. Keep the plugin's state in
    ``app.extensions[plugin_name]``, never on a global, so one process can
    hold several apps. Routes may be added here with ``app.add_url_rule``.

    :param app: the Flask app being created.
    """


@hookspec
def erlen_blueprints(app: Flask) -> Iterable[Blueprint | tuple[Blueprint, Mapping[str, t.Any]]]:
    """Return blueprints to register on the app.

    Each item is a :class:`flask.Blueprint`, or a pair of a blueprint and the
    keyword arguments for :meth:`flask.Flask.register_blueprint` (such as
    ``{"url_prefix": "/admin"}``).

    :param app: the Flask app being created.
    """


@hookspec
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    """Return CLI commands or command groups to add to ``erlen`` (and ``flask``).

    Commands run inside an app context. To add a command to a group another
    plugin created, look the group up in ``cli.commands`` (requirements load
    first, so a required plugin's groups exist).

    :param cli: the app's command group, ``app.cli``.
    """


@hookspec
def erlen_template_folders() -> Iterable[str]:
    """Return folders of Jinja templates the plugin ships.

    The app's own ``templates`` folder is searched first, so apps override
    any plugin template by placing a file at the same path; then plugins in
    reverse load order, so a plugin overrides the templates of the plugins
    it requires.
    """


@hookspec
def erlen_template_globals() -> Mapping[str, t.Any]:
    """Return names to add to every template's globals."""


@hookspec
def erlen_template_filters() -> Mapping[str, t.Callable[..., t.Any]]:
    """Return Jinja filters to register, by name."""


@hookspec
def erlen_static_folder() -> str | None:
    """Return the folder of static files the plugin ships, or ``None``.

    Files are served at ``/static/plugins/<plugin>/<filename>``; build their
    URLs with ``url_for("erlen_plugin_static", plugin="name",
    filename="style.css")``.
    """


@hookspec
def erlen_shell_context() -> Mapping[str, t.Any]:
    """Return names to make available in ``erlen shell``."""


@hookspec
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    """Return problems found in the app's setup, for ``erlen check``.

    Use :func:`erlen.checks.error` for problems that must be fixed,
    :func:`erlen.checks.warning` for likely mistakes and
    :func:`erlen.checks.info` for notes. Checks run in an app context.

    :param app: the app being checked.
    :param deploy: ``True`` under ``erlen check --deploy``: include checks
        that only matter in production (secrets, debug mode, cookies).
    """


@hookspec
def erlen_app_ready(app: Flask) -> None:
    """Called once every plugin is initialised and registered.

    Blueprints, CLI commands and templates of every plugin are in place.
    Routes the application module adds after ``create_app`` returns are not.

    :param app: the Flask app that was created.
    """


@hookspec
def erlen_app_close(app: Flask) -> None:
    """Release what the plugin holds open for ``app``: pooled connections, clients, threads.

    Called by :func:`erlen.close_app`, in the reverse of load order, when the
    code that made the app is done with it: the testing kit's ``make_app``
    closes every app it made at the end of the test, and a script or a
    process that builds apps closes each before dropping it. The app stays
    usable: whatever the plugin releases must be opened again when next
    needed (a disposed SQLAlchemy engine reconnects), and closing twice must
    be harmless.

    :param app: the app being closed.
    """


@hookspec(firstresult=True)
def erlen_before_request() -> Response | None:
    """Called before each request, as Flask's ``before_request``.

    Return a response to answer the request without calling the view; the
    first plugin to return one wins. Runs before any ``before_request``
    function that plugins or the app register on the app themselves. Costs
    nothing per request when no enabled plugin implements it.
    """


@hookspec
def erlen_after_request(response: Response) -> None:
    """Called with each response, as Flask's ``after_request``.

    Modify ``response`` in place (headers, cookies). Costs nothing per
    request when no enabled plugin implements it.

    :param response: the response about to be sent.
    """


@hookspec
def erlen_teardown_request(exception: BaseException | None) -> None:
    """Called at the end of each request, as Flask's ``teardown_request``.

    :param exception: the unhandled exception that ended the request, if any.
    """


@hookspec
def erlen_template_context() -> Mapping[str, t.Any]:
    """Return names to add to the context of each template render.

    Called for every render, like a Flask context processor; use
    :func:`erlen_template_globals` for values that do not change per request.
    """


@hookspec
def erlen_error_context() -> Mapping[str, t.Any]:
    """Return names to add to the context of error pages (400, 404, 500, 503...).

    Error pages never touch the database, so that they work while it is
    down: they render without context processors and without
    :func:`erlen_template_context`, only with what this hook returns. Return
    values already at hand (the user loaded earlier in the request, or an
    anonymous one); never load anything. erlen-auth returns ``current_user``
    this way, so layouts that show it work on error pages too, and
    ``current_user_unknown``, true when ``current_user`` is anonymous only
    because the request's log-in could not be read without the database: a
    layout then shows neither a "Log in" link nor an account.
    """


@hookspec
def erlen_log_fields() -> Mapping[str, t.Any] | None:
    """Return fields to add to each JSON log line written in an app context, such as ``{"user_id": 42}``.

    Called for every record only when ``LOG_FORMAT`` is ``"json"`` (never with the default text format),
    in the app context (and request, if any) the record was logged in. Return what is already at hand
    (the user loaded earlier in the request), or ``None``; never load anything, and keep it cheap: it runs
    once per log line. What it logs itself gets no fields, and an exception it raises is reported in the
    line's ``log_fields_error`` rather than losing the line. erlen-auth returns the logged-in user's
    ``user_id`` this way; the fields are redacted like the rest of the line.
    """

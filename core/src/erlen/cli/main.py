"""The ``erlen`` command: Flask's CLI, with Erlen's errors and environment names.

``erlen`` finds the app as ``flask`` does (``--app``, ``FLASK_APP`` or
``ERLEN_APP``, else ``wsgi.py`` or ``app.py``) and offers Flask's ``run``,
``shell`` and ``routes`` plus every command the enabled plugins add. The same
plugin commands are on ``flask --app ...`` too, since they live on
``app.cli``.

To list the commands, ``erlen`` creates the app with its deferrable set-up
pending (:mod:`erlen.deferred`: no database, no models); it finishes the
set-up before any command runs, so every command sees the app as a web
worker does. A help page (``erlen db --help``, ``erlen db upgrade --help``)
runs nothing, and is printed with the set-up still pending.
"""

from __future__ import annotations

import os
import sys
import traceback
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException, ScriptInfo
from flask.helpers import get_debug_flag

from ..deferred import deferring_setup, finish_setup
from ..errors import ErlenError
from .help_requests import asks_for_help
from .new_plugin import new_plugin_command


class _ErlenScriptInfo(ScriptInfo):
    """Flask's :class:`ScriptInfo`, creating the app with its deferrable set-up pending (:mod:`erlen.deferred`).

    Listing the commands (``erlen --help``, finding the command to run,
    completion) takes the app as created; running a command finishes its
    set-up first: :meth:`ErlenGroup.resolve_command` when the app was loaded
    to find the command, else the command's own :meth:`load_app` (Flask's
    ``with_appcontext``, ``run``).
    """

    #: Why the app could not be loaded, once loading it failed; ``None`` before that or after a success.
    load_error: NoAppException | None = None
    #: Whether the group is listing or looking up commands: :meth:`load_app` leaves the set-up deferred.
    listing = False
    #: The app, once loaded.
    loaded: Flask | None = None

    def load_app(self) -> Flask:
        try:
            with deferring_setup():
                app = self._load_app()
            self.loaded = app
            if not self.listing:
                _finish_setup(app)
        except NoAppException as exc:
            self.load_error = exc
            raise
        self.load_error = None
        return app

    @contextmanager
    def listing_commands(self) -> Iterator[None]:
        """Load the app without finishing its set-up inside the block: only its commands are needed."""
        listing, self.listing = self.listing, True
        try:
            yield
        finally:
            self.listing = listing

    def _load_app(self) -> Flask:
        # Flask's CLI overwrites the app's DEBUG with FLASK_DEBUG; Erlen keeps
        # the configured value (ERLEN_DEBUG, a config file) unless --debug,
        # --no-debug or FLASK_DEBUG says otherwise.
        if self.app_import_path is None and self.create_app is None and os.environ.get("ERLEN_APP"):
            # Read here, not at start-up, so ERLEN_APP in .env or .flaskenv counts too.
            self.app_import_path = os.environ["ERLEN_APP"]
        override_debug, self.set_debug_flag = self.set_debug_flag, False
        try:
            app = super().load_app()
        except NoAppException as exc:
            if "Could not locate a Flask application" in str(exc):
                raise _NoAppFound(
                    "Could not locate an app. Use the 'erlen --app' option, the ERLEN_APP (or FLASK_APP) "
                    "environment variable, or a 'wsgi.py' or 'app.py' file in the current directory."
                ) from None
            raise
        except ErlenError as exc:
            # A configuration or plugin error is for the user to fix: show the
            # message (which carries any original traceback), not Erlen's stack.
            raise NoAppException(str(exc)) from exc
        finally:
            self.set_debug_flag = override_debug
        if override_debug and "FLASK_DEBUG" in os.environ:
            app.debug = get_debug_flag()
        return app


class _NoAppFound(NoAppException):
    """No app was named and none is in the current folder (as opposed to an app that failed to load)."""


#: What ``erlen --help`` says above the commands when no app is found: a note, not an error, since the commands
#: that need no app (``new-plugin``) are the reason to run it outside a project.
NO_APP_NOTE = (
    "No app found here, so only the commands that need none are listed (name one with 'erlen --app', ERLEN_APP "
    "or FLASK_APP, or a 'wsgi.py' or 'app.py' file in the current directory).\n"
)


def _finish_setup(app: Flask) -> None:
    """Run the app's deferred set-up, reporting a configuration error as a failure to load the app."""
    try:
        finish_setup(app)
    except ErlenError as exc:
        raise NoAppException(str(exc)) from exc


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import platform
    from importlib.metadata import version

    click.echo(f"Erlen {version('erlen')}\nFlask {version('flask')}\nPython {platform.python_version()}")
    ctx.exit()


class ErlenGroup(FlaskGroup):
    """A :class:`flask.cli.FlaskGroup` that reports Erlen errors without a traceback."""

    def __init__(self, **extra: t.Any) -> None:
        params = list(extra.pop("params", None) or ())
        params.append(
            click.Option(
                ["--version"],
                help="Show the Erlen, Flask and Python versions.",
                expose_value=False,
                callback=_show_version,
                is_flag=True,
                is_eager=True,
            )
        )
        super().__init__(add_version_option=False, params=params, **extra)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: t.Any,
    ) -> click.Context:
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = _ErlenScriptInfo(
                create_app=self.create_app,
                set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=self.load_dotenv,
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command ``name``; when the app could not be loaded, exit with status 2 after its error.

        Flask prints why the app could not be loaded and then lets click
        report the app's commands as unknown, with a suggestion taken from the
        commands that need no app ("Did you mean 'new-plugin'?"), which hides
        the real error. Erlen stops at the error instead.

        :param ctx: the click context of the ``erlen`` group.
        :param name: the command's name, as typed.
        """
        info = ctx.find_object(_ErlenScriptInfo)
        with info.listing_commands() if info is not None else nullcontext():
            command = super().get_command(ctx, name)
        if command is None and info is not None and info.load_error is not None and not ctx.resilient_parsing:
            ctx.exit(2)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The command to run, found as Flask finds it; then the set-up of the app, if loaded to find it, finished.

        Flask pushes the loaded app's context when it finds an app's command,
        so the command's ``with_appcontext`` does not load the app again: the
        set-up is finished here instead, before the command parses its
        arguments. Unless the arguments only ask for a help page (``db
        --help``, ``db upgrade --help``, ``db``: see
        :func:`~erlen.cli.help_requests.asks_for_help`), which click prints
        while parsing them, from the command objects that the app's creation
        declared: the set-up then stays pending, as for ``erlen --help``
        (which never gets here), and so does completion's resilient parsing.

        :param ctx: the click context of the ``erlen`` group.
        :param args: the arguments from the command's name on.
        """
        found = super().resolve_command(ctx, args)
        info = ctx.find_object(_ErlenScriptInfo)
        if info is not None and info.loaded is not None and not ctx.resilient_parsing:
            name, command, rest = found
            if command is None or not asks_for_help(ctx, name, command, rest):
                _finish_setup(info.loaded)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The names of Flask's, Erlen's and the app's commands, without finishing the app's set-up.

        :param ctx: the click context of the ``erlen`` group.
        """
        info = ctx.find_object(_ErlenScriptInfo)
        if info is None:
            return super().list_commands(ctx)
        # Flask's listing, but with a note rather than "Error: ..." when no app is found: the help page then lists
        # the commands that need none (new-plugin), which are the reason to run it outside a project.
        self._load_plugin_commands()
        names = set(click.Group.list_commands(self, ctx))
        with info.listing_commands():
            try:
                names.update(info.load_app().cli.list_commands(ctx))
            except _NoAppFound:
                click.echo(NO_APP_NOTE, err=True)
            except NoAppException as exc:
                click.secho(f"Error: {exc.format_message()}\n", err=True, fg="red")
            except Exception:
                click.secho(f"{traceback.format_exc()}\n", err=True, fg="red")
        return sorted(names)


cli = ErlenGroup(
    name="erlen",
    help="""Manage an Erlen app: run it, inspect its plugins, check its setup.

    Find the app with --app, ERLEN_APP or FLASK_APP, or a wsgi.py or app.py
    in the current folder. Set ERLEN_TRACE_HOOKS=1 to log every hook call.
    """,
)
# Needs no app: it writes a new plugin's package.
cli.add_command(new_plugin_command)


def main() -> None:
    """Run the ``erlen`` command."""
    cli.main(args=sys.argv[1:], prog_name="erlen")

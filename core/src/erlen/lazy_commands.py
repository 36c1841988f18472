"""Plugin commands whose code is imported when they run, not when the app is created.

Every process that creates the app (each gunicorn worker) calls
``erlen_cli_commands``; only the ``erlen`` command ever runs what it returns.
A plugin returns a :class:`LazyCommand` instead of the command itself: the
name and the one-line help that ``erlen --help`` lists are given in the
plugin, and the module that defines the command is imported the first time
the command is run, completed or asked for its own help. Workers never import
it, and ``erlen --help`` lists it without importing it.

A plugin that adds subcommands to another plugin's group (``cli.commands["db"]``)
calls :func:`when_loaded`, which runs at once for a command that is already
loaded and on loading for a lazy one.
"""

from __future__ import annotations

import importlib
import typing as t
from collections.abc import Callable

import click

from .errors import PluginError

__all__ = ["LazyCommand", "when_loaded"]


class LazyCommand(click.Command):
    """A stand-in for a click command or group, which imports the real one on first use.

    Returned from ``erlen_cli_commands``::

        @erlen.hookimpl
        def erlen_cli_commands(cli):
            return [erlen.LazyCommand("mail", "erlen_mail.cli:mail_group", help="Send and inspect mail.")]

    ``erlen --help`` shows ``help`` (shortened as click shortens any
    command's help) without importing anything; running ``erlen mail ...``,
    ``erlen mail --help`` or completing it imports ``erlen_mail.cli`` and
    hands over to ``mail_group``. Give the same help text as the real
    command, so the listing reads the same as before loading.

    :param name: the command's name; the real command must have the same one.
    :param target: ``"module:attribute"``: a :class:`click.Command` (or
        group), or a function without arguments returning one (called once
        per stand-in, so each app gets its own group when the function makes
        a new one).
    :param help: the command's help, as the real command has it; its first
        sentence is what ``erlen --help`` lists.
    :param short_help: the real command's ``short_help``, when it sets one.
    :param hidden: hide the command from ``erlen --help``, as the real one is.
    """

    def __init__(
        self,
        name: str,
        target: str,
        *,
        help: str | None = None,
        short_help: str | None = None,
        hidden: bool = False,
    ) -> None:
        module, _, attribute = target.partition(":")
        if not module or not attribute:
            raise ValueError(f"LazyCommand {name!r}: target {target!r} must be 'module:attribute'")
        super().__init__(name, help=help, short_help=short_help, hidden=hidden)
        self.target = target
        self._loaded: click.Command | None = None
        self._on_load: list[Callable[[click.Command], object]] = []

    @property
    def loaded(self) -> bool:
        """Whether the real command has been imported."""
        return self._loaded is not None

    def load(self) -> click.Command:
        """The real command: imported, made and handed to the :meth:`when_loaded` callbacks on the first call.

        :raises PluginError: the target is missing, or is not a click command named like this one.
        """
        if self._loaded is not None:
            return self._loaded
        module_name, _, attribute = self.target.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"Command {self.name!r}: cannot load {self.target!r}: {exc}") from exc
        command = found if isinstance(found, click.Command) else found() if callable(found) else found
        if not isinstance(command, click.Command):
            raise PluginError(
                f"Command {self.name!r}: {self.target!r} is {type(command).__name__}, not a click command "
                "or a function returning one."
            )
        if command.name != self.name:
            raise PluginError(
                f"Command {self.name!r}: {self.target!r} is named {command.name!r}; the names must match, "
                "or erlen --help would list a command that does not run."
            )
        self._loaded = command
        callbacks, self._on_load = self._on_load, []
        for callback in callbacks:
            callback(command)
        return command

    def when_loaded(self, callback: Callable[[click.Command], object]) -> None:
        """Call ``callback`` with the real command once it is loaded (at once if it is).

        :param callback: receives the real command; it may add subcommands to it, wrap its callback.
        """
        if self._loaded is not None:
            callback(self._loaded)
        else:
            self._on_load.append(callback)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Add a subcommand to the real group when it is loaded (as :meth:`click.Group.add_command`).

        :param cmd: the subcommand.
        :param name: its name, if not ``cmd.name``.
        """

        def add(command: click.Command) -> None:
            if not isinstance(command, click.Group):
                raise PluginError(f"Command {self.name!r} is not a group: cannot add {cmd.name!r} to it.")
            command.add_command(cmd, name)

        self.when_loaded(add)

    # Everything click does with a command once it is chosen goes through these: the real command answers.

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: t.Any,
    ) -> click.Context:
        """The real command's context (click's group then invokes ``ctx.command``: the real one)."""
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> t.Any:
        """Run the real command."""
        return self.load().invoke(ctx)

    def main(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        """Run the real command as a program."""
        return self.load().main(*args, **kwargs)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """The real command's parameters."""
        return self.load().get_params(ctx)

    def get_usage(self, ctx: click.Context) -> str:
        """The real command's usage line."""
        return self.load().get_usage(ctx)

    def get_help(self, ctx: click.Context) -> str:
        """The real command's help page."""
        return self.load().get_help(ctx)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the real command's help page."""
        self.load().format_help(ctx, formatter)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse ``args`` as the real command does."""
        return self.load().parse_args(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[t.Any]:
        """Complete as the real command does."""
        return self.load().shell_complete(ctx, incomplete)

    def to_info_dict(self, ctx: click.Context) -> dict[str, t.Any]:
        """The real command's description."""
        return self.load().to_info_dict(ctx)

    def __getattr__(self, name: str) -> t.Any:
        # A group's own attributes (commands, get_command, ...) that a plain
        # command lacks: the real group's. Private names never load (they are
        # looked up while the stand-in is being built or copied).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} -> {self.target}{' (loaded)' if self.loaded else ''}>"


def when_loaded(command: click.Command, callback: Callable[[click.Command], object]) -> None:
    """Call ``callback`` with the real ``command``: at once, or when a :class:`LazyCommand` loads it.

    For a plugin that extends another plugin's group::

        @erlen.hookimpl
        def erlen_cli_commands(cli):
            erlen.when_loaded(cli.commands["db"], add_migration_commands)
            return []

    :param command: a command or group, or a :class:`LazyCommand` standing in for one.
    :param callback: receives the real command.
    """
    if isinstance(command, LazyCommand):
        command.when_loaded(callback)
    else:
        callback(command)

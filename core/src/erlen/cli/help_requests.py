"""Whether the arguments of a command ask click for a help page rather than for running something.

``erlen db --help``, ``erlen db upgrade --help`` and ``erlen db`` (a group
without a subcommand) print a help page and run nothing, so the ``erlen``
command shows them without finishing the app's deferred set-up
(:mod:`erlen.deferred`): no SQLAlchemy, no models. Any other arguments run a
command, which finds the set-up finished first, as before.

The decision is click's own, taken ahead of click: each level's arguments go
through the command's parser (so ``--plugin --help`` is a value, as click
reads it), then its help option's value is read as click reads it (from the
arguments, or an ``auto_envvar_prefix`` variable), and a group hands the rest
to the subcommand it names. Only click's parser runs: no parameter's type or
callback, no command's callback. Whatever the probe cannot follow (an error
in the arguments, an unknown subcommand, a chained group) counts as running a
command, which then behaves, and reports its errors, exactly as before.
"""

from __future__ import annotations

import typing as t

import click

from ..errors import ErlenError
from ..lazy_commands import LazyCommand

__all__ = ["asks_for_help"]

#: The deepest nesting of groups followed; deeper arguments count as running a command (with the set-up finished).
MAX_DEPTH = 32


def asks_for_help(parent: click.Context, name: str | None, command: click.Command, args: list[str]) -> bool:
    """Whether click answers ``args`` with the help page of ``command`` or of a subcommand, running no callback.

    :param parent: the context of the group that resolved ``command`` (``erlen``'s).
    :param name: the name ``command`` was called by.
    :param command: the command the arguments are for: a command, a group or a :class:`~erlen.LazyCommand`
        (loaded: its help is the real command's).
    :param args: the arguments after the command's name.
    """
    for _ in range(MAX_DEPTH):
        try:
            if isinstance(command, LazyCommand):
                command = command.load()
            ctx = _probe_context(parent, name, command)
            if not args and command.no_args_is_help:
                return True  # click raises NoArgsIsHelpError: the help page
            opts, rest, _order = command.make_parser(ctx).parse_args(args=list(args))
            if _help_given(ctx, command, opts):
                return True
            if not isinstance(command, click.Group) or command.chain or not rest:
                return False
            # In resilient parsing an unknown subcommand is None rather than an error.
            name, subcommand, args = command.resolve_command(ctx, rest)
        except (click.ClickException, ErlenError):
            # Click will report it (or the command's loading will fail again): as before, after the set-up.
            return False
        if subcommand is None:
            return False
        parent, command = ctx, subcommand
    return False


def _probe_context(parent: click.Context, name: str | None, command: click.Command) -> click.Context:
    # As click.Command.make_context builds it (the command's context settings: help option names, parsing
    # rules), but resilient: nothing is reported, and nothing is parsed yet.
    extra = {**command.context_settings, "resilient_parsing": True}
    return command.context_class(command, info_name=name, parent=parent, **extra)


def _help_given(ctx: click.Context, command: click.Command, opts: dict[str, t.Any]) -> bool:
    # The help option is eager: click processes it before any other parameter, and exits with the page.
    help_option = command.get_help_option(ctx)
    if help_option is None:
        return False
    value, _source = help_option.consume_value(ctx, opts)
    return bool(help_option.type_cast_value(ctx, value))

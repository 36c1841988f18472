"""``erlen check``: every plugin's system checks."""

from __future__ import annotations

import click
from flask import current_app

from ..builtin import CHECK_HELP
from ..checks import Level, run_checks
from ..errors import ErlenError


@click.command("check", help=CHECK_HELP)
@click.option("--deploy", is_flag=True, help="Add the checks that matter in production.")
def check_command(deploy: bool) -> None:
    """``erlen check [--deploy]``: see :data:`erlen.builtin.CHECK_HELP`."""
    try:
        messages = run_checks(current_app, deploy=deploy)
    except ErlenError as exc:
        raise click.ClickException(str(exc)) from exc
    colours = {Level.ERROR: "red", Level.WARNING: "yellow", Level.INFO: None}
    for message in messages:
        click.secho(str(message), fg=colours[message.level], err=message.level >= Level.WARNING)
    errors = sum(1 for m in messages if m.level is Level.ERROR)
    warnings = sum(1 for m in messages if m.level is Level.WARNING)
    if not messages:
        click.echo("System check found no problems.")
    else:
        click.echo(f"System check found {_plural(errors, 'error')} and {_plural(warnings, 'warning')}.")
    if errors:
        raise SystemExit(1)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"

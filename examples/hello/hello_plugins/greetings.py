"""A local plugin: app code written against the same hooks as any extension."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import click
from flask import Blueprint, Flask, current_app, render_template

import erlen
from erlen.checks import CheckMessage, warning

PLUGIN = erlen.Plugin(name="greetings", description="Greets people, in the page and on the command line.")

greetings = Blueprint("greetings", __name__)


@greetings.route("/greet/<name>")
def greet(name: str) -> str:
    return render_template("greetings/greet.html", name=name)


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    return [erlen.Setting("SALUTATION", str, default="Hello", help="The word greetings start with.")]


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[Blueprint]:
    return [greetings]


@erlen.hookimpl
def erlen_template_folders() -> Iterable[str]:
    return ["templates"]


@erlen.hookimpl
def erlen_template_globals() -> Mapping[str, object]:
    return {"salutation": lambda: current_app.config["GREETINGS_SALUTATION"]}


@click.command("greet")
@click.argument("name")
def greet_command(name: str) -> None:
    """Print a greeting for NAME."""
    click.echo(f"{current_app.config['GREETINGS_SALUTATION']}, {name}!")


@erlen.hookimpl
def erlen_cli_commands() -> Iterable[click.Command]:
    return [greet_command]


@erlen.hookimpl
def erlen_checks(app: Flask) -> Iterable[CheckMessage]:
    if not app.config["GREETINGS_SALUTATION"].strip():
        return [warning("greetings.W001", "GREETINGS_SALUTATION is empty.", "Set a word such as 'Hello'.")]
    return []

"""The ``erlen api`` commands."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .openapi import spec_of
from .plugin import API_HELP


def api_group() -> AppGroup:
    """The ``erlen api`` group: ``erlen api spec [--output FILE]``."""
    group = AppGroup("api", help=API_HELP)

    @group.command("spec")
    @click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="Write the document to this file instead of printing it.",
    )
    def spec_command(output: Path | None) -> None:
        """Print (or write) the OpenAPI 3.1 document of the app's APIs, for client generators."""
        app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        text = json.dumps(spec_of(app), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            click.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote the OpenAPI document to {output}.")

    return group

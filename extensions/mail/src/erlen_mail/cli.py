"""The ``erlen mail`` command group."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from .errors import MailError
from .state import state_of
from .templates import send_template

mail_group = AppGroup("mail", help="Send email and inspect the mail setup.")


@mail_group.command("send-test")
@click.option("--to", "to", required=True, multiple=True, help="A recipient; repeat for more.")
@click.option("--sender", default=None, help="The From address; MAIL_DEFAULT_SENDER by default.")
def send_test_command(to: tuple[str, ...], sender: str | None) -> None:
    """Send a test message through the configured backend (template mail/erlen/test)."""
    backend = state_of().backend_name
    try:
        result = send_template("erlen/test", to=list(to), sender=sender, app_name=current_app.name, backend=backend)
    except MailError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.status == "cancelled":
        raise click.ClickException(f"The test message was not sent: {result.error}.")
    click.echo(f"Sent a test message to {', '.join(to)} through the {backend!r} backend.")

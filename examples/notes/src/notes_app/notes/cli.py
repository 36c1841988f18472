"""The notes plugin's commands: ``erlen demo`` and ``erlen notes export``."""

from __future__ import annotations

import json
import secrets

import click
import sqlalchemy as sa
from flask import current_app

from erlen_db import session

from .models import Note


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to serve on.")
@click.option("--port", default=5000, show_default=True, type=int, help="The port to serve on.")
@click.option("--no-serve", is_flag=True, help="Apply the migrations and create the demo admin, then stop.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Apply the migrations, create the demo admin (its password is printed once) and serve the app."""
    from erlen_auth import create_user, find_user
    from erlen_migrate import migrations_of

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrations_of(app).upgrade(echo=click.echo)
    email = app.config["NOTES_DEMO_ADMIN_EMAIL"]
    if find_user(email) is None:
        password = secrets.token_urlsafe(12)
        create_user(email, password, superuser=True, confirmed=True)
        click.echo(
            "\nCreated the demo admin. Its password is shown only this once:\n"
            f"    email:    {email}\n"
            f"    password: {password}\n"
            f"Change it with: erlen --app notes_app user set-password --email {email}\n"
        )
    else:
        click.echo(f"The demo admin {email} exists already; its password was printed when it was created.")
    if no_serve:
        return
    import contextlib
    import threading

    from werkzeug.serving import run_simple

    from .jobs import tasks_enabled

    with contextlib.ExitStack() as workers:
        if tasks_enabled(app):
            from erlen_tasks import background_worker

            # The app's jobs (the admins' notifications, the digest, and the delivery of the mail
            # outbox) run here, in a thread; in production `erlen tasks worker` runs beside gunicorn.
            workers.enter_context(background_worker(app))
        else:
            from erlen_mail import OutboxWorker

            # The app queues its mail in the outbox; in production `erlen mail worker` runs beside
            # gunicorn, here a worker thread delivers it (to the console) while the demo serves.
            stop = threading.Event()
            worker = threading.Thread(
                target=OutboxWorker(app).run, kwargs={"poll": 1.0, "stop": stop}, name="demo-mail-worker", daemon=True
            )
            worker.start()
            workers.callback(worker.join, timeout=10)
            workers.callback(stop.set)
        click.echo(f"Serving the notes app on http://{host}:{port}/ (Ctrl-C to stop). Mail goes to this console.")
        run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True)


@click.group("notes")
def notes_group() -> None:
    """The team notes."""


@notes_group.command("export")
@click.option("--limit", default=None, type=click.IntRange(min=1), help="Export at most this many notes, newest first.")
def export_command(limit: int | None) -> None:
    """Print the notes as JSON, newest first."""
    query = sa.select(Note).order_by(Note.id.desc())
    if limit is not None:
        query = query.limit(limit)
    notes = [
        {
            "id": note.id,
            "title": note.title,
            "body": note.body,
            "author": note.author.email,
            "created_at": note.created_at.isoformat(),
        }
        for note in session.scalars(query)
    ]
    click.echo(json.dumps(notes, indent=2))

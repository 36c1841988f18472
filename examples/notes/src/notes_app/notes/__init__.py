"""The app's own plugin, ``notes``: app code written as a plugin, with the same hooks as the shipped ones.

The app enables it by its dotted path, ``notes_app.notes``, in ``erlen.toml``.
It brings:

* a table, ``notes_note``, and its own migrations branch, ``notes``, that
  depends on the ``auth`` branch (a note refers to its author in ``auth_user``);
* pages under ``/notes`` with a form (``notes.note``, extensible by other plugins);
* a permission, ``notes.moderate``, to delete anyone's notes;
* a mail to the admins about each new note (``mail/notes/new_note.*``), sent
  by a job when the ``tasks`` plugin is enabled, and a daily digest of the
  day's notes (``mail/notes/digest.*``, a periodic job);
* the commands ``erlen demo`` and ``erlen notes export``;
* its part of the users' data rights: a user's notes in "Download my data"
  (``erlen_auth_user_export``) and deleted with the account (``erlen_auth_user_delete``);
* an admin view of the notes when the ``admin`` plugin is enabled;
* the notes as a REST resource, ``/api/v1/notes`` (each user's own), when the ``api`` plugin is enabled.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

import click
from flask import Blueprint, Flask

import erlen

PLUGIN = erlen.Plugin(
    name="notes",
    requires=["db", "forms", "mail", "migrate", "auth"],
    integrates_with=["admin", "profiles", "api", "tasks"],
    description="Team notes: the example app's own plugin.",
)


def _at_least_one(value: int) -> None:
    if value < 1:
        raise ValueError("must be at least 1")


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    return [
        erlen.Setting("PER_PAGE", int, default=20, help="Notes per page.", validate=_at_least_one),
        erlen.Setting("NOTIFY_ADMINS", bool, default=True, help="Mail the superusers about every new note."),
        erlen.Setting(
            "DEMO_ADMIN_EMAIL",
            str,
            default="admin@example.com",
            help="The address of the superuser that `erlen demo` creates.",
        ),
    ]


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    from .models import MODELS

    return list(MODELS)


@erlen.hookimpl
def erlen_migrate_locations() -> str:
    return "migrations"


@erlen.hookimpl
def erlen_auth_permissions() -> Mapping[str, str]:
    return {"notes.moderate": "Delete anyone's notes"}


@erlen.hookimpl
def erlen_auth_user_export(user: t.Any) -> Mapping[str, t.Any]:
    """The user's notes, oldest first, for "Download my data"."""
    import sqlalchemy as sa

    from erlen_db import session

    from .models import Note

    notes = session.scalars(sa.select(Note).where(Note.author_id == user.id).order_by(Note.id))
    return {"notes": [{"id": n.id, "title": n.title, "body": n.body, "created_at": n.created_at} for n in notes]}


@erlen.hookimpl
def erlen_auth_user_delete(user: t.Any) -> None:
    """Delete the user's notes with the account (not anonymised: a note is its author's words).

    ``notes_note.author_id`` has ``ON DELETE CASCADE``, so the database would
    delete them anyway; deleting them here says so and keeps it true should
    the key ever change. No commit: the auth plugin commits the whole deletion.
    """
    import sqlalchemy as sa

    from erlen_db import session

    from .models import Note

    session.execute(sa.delete(Note).where(Note.author_id == user.id))


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[tuple[Blueprint, Mapping[str, t.Any]]]:
    from .views import bp

    return [(bp, {"url_prefix": "/notes"})]


@erlen.hookimpl
def erlen_template_folders() -> Iterable[str]:
    return ["templates"]


@erlen.hookimpl
def erlen_static_folder() -> str:
    return "static"  # notes.css, which the app's layout links after Erlen's stylesheet


@erlen.hookimpl(optionalhook=True)
def erlen_admin_views() -> Iterable[t.Any]:
    from erlen_admin import ModelView

    from .models import Note

    return [
        ModelView(
            Note,
            list_columns=["title", "author_id", "created_at"],
            sortable=["title", "created_at"],  # both indexed: a sorted page reads the index
            default_sort="-created_at",
            search=["title", "body"],
            filters=["author_id"],
            form_exclude=["created_at"],
        )
    ]


@erlen.hookimpl(optionalhook=True)
def erlen_api_resources() -> Iterable[t.Any]:
    from .api import NOTES

    return [NOTES]


@erlen.hookimpl(optionalhook=True)
def erlen_tasks_jobs() -> Iterable[t.Any]:
    # Called only when the tasks plugin is enabled (so erlen-tasks is installed).
    from .jobs import declared_jobs

    return list(declared_jobs())


@erlen.hookimpl
def erlen_cli_commands() -> Iterable[click.Command]:
    from .cli import demo_command, notes_group

    return [demo_command, notes_group]

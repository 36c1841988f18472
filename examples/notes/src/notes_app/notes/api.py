"""The notes as a REST resource of the ``api`` plugin: ``/api/v1/notes``, each user's own notes.

A user lists, reads, writes, changes and deletes their own notes (by the
session cookie with the CSRF header, or a personal access token); another
user's note answers 404, as if it did not exist. Whoever has
``notes.moderate`` may also delete anyone's, as on the site.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from erlen_api import Resource, current_identity

from .models import Note

#: Delete anyone's notes (declared by the plugin through ``erlen_auth_permissions``).
MODERATE = "notes.moderate"


def _caller_id() -> int | None:
    """The id of the user making the API request."""
    return t.cast("int | None", getattr(current_identity().user, "id", None))


def own_notes(statement: sa.Select[t.Any], operation: str) -> sa.Select[t.Any]:
    """The notes the caller may reach with ``operation``: their own; any, to delete, with ``notes.moderate``.

    :param statement: ``select(Note)``.
    :param operation: ``list``, ``read``, ``update`` or ``delete``.
    """
    if operation == "delete" and current_identity().can(MODERATE):
        return statement
    return statement.where(Note.author_id == _caller_id())


def set_author(note: Note) -> None:
    """Make the caller the author of a note created through the API.

    :param note: the new note.
    """
    note.author_id = t.cast(int, _caller_id())


#: The resource ``notes`` under ``/api/v1``.
NOTES = Resource(
    Note,
    name="notes",
    login_required=True,
    read_only=["author_id"],
    sorts=["title"],
    default_sort="-id",
    scope=own_notes,
    on_create=set_author,
    description="The notes of the calling user.",
)

"""A sample plugin whose admin views are scoped: each editor sees and changes only their own team's notes.

An editor's team is the part of their address before the first ``-`` (``red-editor@example.com``: ``red``);
superusers see every team. Archived notes are the superusers' alone. Memos are not scoped, but their team is a
foreign key to the scoped teams: an editor may choose, and sees the name of, their own team only.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

import erlen
from erlen_db import Model

PLUGIN = erlen.Plugin(name="scoped", requires=["db", "admin"])


class Team(Model):
    __tablename__ = "scoped_team"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True, index=True)

    def __str__(self) -> str:
        return self.name


class Note(Model):
    __tablename__ = "scoped_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), index=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("scoped_team.id"), index=True)
    archived: Mapped[bool] = mapped_column(default=False)

    def __str__(self) -> str:
        return self.title


class Memo(Model):
    __tablename__ = "scoped_memo"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), index=True)
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("scoped_team.id"), index=True)

    def __str__(self) -> str:
        return self.title


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Team, Note, Memo]


def team_name_of(user: t.Any) -> str:
    """The team of ``user``: their address's part before the first ``-``."""
    return str(user.email).split("-", 1)[0]


def own_team_notes(statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
    """The notes of the user's team that are not archived; every note for a superuser."""
    if user.is_superuser:
        return statement
    teams = sa.select(Team.id).where(Team.name == team_name_of(user))
    return statement.where(Note.team_id.in_(teams), Note.archived.is_(False))


def own_team(statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
    """The user's own team; every team for a superuser."""
    if user.is_superuser:
        return statement
    return statement.where(Team.name == team_name_of(user))


def shout(view: t.Any, objects: t.Sequence[Note]) -> str:
    for note in objects:
        note.title = note.title.upper()
    return f"Shouted {len(objects)}."


def exclaim(view: t.Any, note: Note) -> str:
    note.title = f"{note.title}!"
    return "Exclaimed."


def archive(view: t.Any, objects: t.Sequence[Note]) -> str:
    for note in objects:
        note.archived = True
    return f"Archived {len(objects)}."


def archive_one(view: t.Any, note: Note) -> str:
    note.archived = True
    return "Archived."


def purge(view: t.Any, objects: t.Sequence[Note]) -> str:
    """Deletes the notes: an action other than "Delete selected" whose rows are gone afterwards."""
    from erlen_db import session

    for note in objects:
        session.delete(note)
    return f"Purged {len(objects)}."


def purge_one(view: t.Any, note: Note) -> str:
    from erlen_db import session

    session.delete(note)
    return "Purged."


def copy_archived(view: t.Any, note: Note) -> str:
    """Adds an archived copy of the note: a row its author may not see."""
    from erlen_db import session

    session.add(Note(title=f"{note.title} (copy)", team_id=note.team_id, archived=True))
    session.flush()  # written before the admin's own flush: no longer among the session's new objects then
    return "Copied."


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    from erlen_admin import Action, ModelView, ObjectAction

    return [
        ModelView(Team, list_columns=["id", "name"], scope=own_team),
        ModelView(
            Note,
            list_columns=["id", "title", "team_id"],
            sortable=["title"],
            search=["title"],
            filters=["team_id"],
            page_sizes=(20, 2, 50),
            actions=[
                Action("shout", "Shout", shout, permission="edit", confirm=False),
                Action("archive", "Archive", archive, permission="edit", confirm=False),
                Action("purge", "Purge", purge, permission="delete", confirm=False),
            ],
            object_actions=[
                ObjectAction("exclaim", "Exclaim", exclaim),
                ObjectAction("archive", "Archive", archive_one),
                ObjectAction("copy", "Copy archived", copy_archived),
                ObjectAction("purge", "Purge", purge_one, permission="delete"),
            ],
            scope=own_team_notes,
        ),
        ModelView(Memo, list_columns=["id", "title", "team_id"], filters=["team_id"]),
    ]

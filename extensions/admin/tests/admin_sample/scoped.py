"""A sample plugin whose admin views are scoped: each editor sees and changes only their own team's notes.

An editor's team is the part of their address before the first ``-`` (``red-editor@example.com``: ``red``);
superusers see every team.
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

    def __str__(self) -> str:
        return self.title


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Team, Note]


def team_name_of(user: t.Any) -> str:
    """The team of ``user``: their address's part before the first ``-``."""
    return str(user.email).split("-", 1)[0]


def own_team_notes(statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
    """The notes of the user's team; every note for a superuser."""
    if user.is_superuser:
        return statement
    return statement.where(Note.team_id.in_(sa.select(Team.id).where(Team.name == team_name_of(user))))


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
            actions=[Action("shout", "Shout", shout, permission="edit", confirm=False)],
            object_actions=[ObjectAction("exclaim", "Exclaim", exclaim)],
            scope=own_team_notes,
        ),
    ]

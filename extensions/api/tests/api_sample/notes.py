"""A plugin with a notes API on a table: permissions, a class view, ORM rows as responses."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

from flask import Blueprint, Flask, url_for
from flask.views import MethodView
from pydantic import BaseModel, Field
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

import erlen
import erlen_api
from erlen_api import Api
from erlen_db import Model, get_or_404, session

PLUGIN = erlen.Plugin(name="api_sample_notes", requires=["db", "api"], integrates_with=["auth"])


class Note(Model):
    __tablename__ = "api_sample_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text, default="")


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=80)
    body: str = ""


class NoteOut(BaseModel):
    id: int
    title: str
    body: str


class NoteChanges(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=80)
    body: str | None = None


api = Api("notes", __name__, version="v1", description="Team notes.")


@api.get("/whoami")
def whoami() -> dict[str, str | None]:
    """Who is calling, and how."""
    identity = erlen_api.current_identity()
    email = getattr(identity.user, "email", None)
    return {"method": identity.method, "email": email}


@api.get("/notes")
def list_notes(limit: t.Annotated[int, Field(ge=1, le=100)] = 50) -> list[NoteOut]:
    """List the notes, oldest first."""
    return t.cast(list[NoteOut], session.scalars(select(Note).order_by(Note.id).limit(limit)).all())


@api.post("/notes", status=201, permission="notes.edit", response=NoteOut)
def create_note(note: NoteIn) -> t.Any:
    """Create a note."""
    row = Note(title=note.title, body=note.body)
    session.add(row)
    session.commit()
    return row, {"Location": url_for("notes.note", id=row.id)}


@api.route("/notes/<int:id>", endpoint="note")
class NoteView(MethodView):
    """One note."""

    def get(self, id: int) -> NoteOut:
        """Read a note."""
        return t.cast(NoteOut, get_or_404(Note, id))

    @erlen_api.endpoint(permission="notes.edit")
    def patch(self, id: int, changes: NoteChanges) -> NoteOut:
        """Change a note."""
        row = get_or_404(Note, id)
        for name, value in changes.model_dump(exclude_unset=True).items():
            setattr(row, name, value)
        session.commit()
        return t.cast(NoteOut, row)

    @erlen_api.endpoint(permission="notes.edit", tokens=False)
    def delete(self, id: int) -> None:
        """Delete a note (not with a token: only from the site)."""
        session.delete(get_or_404(Note, id))
        session.commit()


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    return [Note]


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[Blueprint]:
    return [api]


@erlen.hookimpl(optionalhook=True)
def erlen_auth_permissions() -> Mapping[str, str]:
    return {"notes.edit": "Create, change and delete notes", "notes.export": "Export notes"}

"""A sample plugin whose view saves more rows than its own: digests of a team, scoped like the scoped sample's notes.

Its view overrides ``create_object`` and ``update_object`` (and has an object action) to write other rows of
scoped models too, some outside the editor's scope, depending on the digest's title:

- creating one adds a note of the digest's team, flushed at once (archived, so outside an editor's scope, when
  the title ends with ``with archived note``), and a second digest (``Secret follow-up``, outside the scope of
  digests: titles starting ``Secret`` are the superusers') when the title ends with ``with secret follow-up``;
- editing one whose new title ends with ``archive notes`` archives the notes of its team (a query, which
  autoflushes the edit first);
- the object action ``archive_notes`` archives them too, ``archive_notes_and_commit`` as well and commits
  itself, ``stamp_notes`` appends " (stamped)" to the title of every note of its team (archived ones too, which
  an editor may not see), and ``file_pins`` moves the digest's pins to its team's digest ``Secret archive``
  through that digest's ``pins`` collection (no backref: no pin is changed before the flush sets its key).

Pins are scoped like the digests they are pinned to.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

import erlen
from erlen_db import Model

PLUGIN = erlen.Plugin(name="scoped_saves", requires=["db", "admin", "scoped"])


class Pin(Model):
    __tablename__ = "scoped_saves_pin"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    digest_id: Mapped[int] = mapped_column(sa.ForeignKey("scoped_saves_digest.id"), index=True)

    def __str__(self) -> str:
        return self.title


class Digest(Model):
    __tablename__ = "scoped_saves_digest"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), index=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("scoped_team.id"), index=True)
    # One-to-many without a backref: a pin appended here is changed only by the flush (its digest_id).
    pins: Mapped[list[Pin]] = relationship(order_by=Pin.id)

    def __str__(self) -> str:
        return self.title


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Digest, Pin]


def own_team_digests(statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
    """The digests of the user's team whose title does not start with ``Secret``; every one for a superuser."""
    from admin_sample.scoped import Team, team_name_of

    if user.is_superuser:
        return statement
    teams = sa.select(Team.id).where(Team.name == team_name_of(user))
    return statement.where(Digest.team_id.in_(teams), sa.not_(Digest.title.startswith("Secret")))


def own_team_pins(statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
    """The pins of the digests the user may see."""
    return statement.where(Pin.digest_id.in_(own_team_digests(sa.select(Digest.id), user)))


def archive_team_notes(digest: Digest) -> None:
    """Archive the notes of ``digest``'s team (a query: the session autoflushes first)."""
    from admin_sample.scoped import Note
    from erlen_db import session

    for note in session.scalars(sa.select(Note).where(Note.team_id == digest.team_id)):
        note.archived = True


def archive_notes(view: t.Any, digest: Digest) -> str:
    archive_team_notes(digest)
    return "Archived the notes."


def archive_notes_and_commit(view: t.Any, digest: Digest) -> str:
    """Archives the notes and commits itself, before the admin could check them."""
    from erlen_db import session

    archive_team_notes(digest)
    session.commit()
    return "Archived the notes."


def stamp_notes(view: t.Any, digest: Digest) -> str:
    """Appends " (stamped)" to the title of every note of the digest's team, the archived ones too."""
    from admin_sample.scoped import Note
    from erlen_db import session

    for note in session.scalars(sa.select(Note).where(Note.team_id == digest.team_id)):
        note.title = f"{note.title} (stamped)"
    return "Stamped the notes."


def file_pins(view: t.Any, digest: Digest) -> str:
    """Moves the digest's pins to its team's digest "Secret archive", through that digest's collection."""
    from erlen_db import session

    archive = session.scalars(
        sa.select(Digest).where(Digest.team_id == digest.team_id, Digest.title == "Secret archive")
    ).one()
    archive.pins.extend(digest.pins)
    return "Filed the pins."


def make_views() -> list[t.Any]:
    from erlen_admin import ModelView, ObjectAction

    class DigestView(ModelView):
        def create_object(self, form: t.Any, session: t.Any) -> t.Any:
            from admin_sample.scoped import Note

            digest = super().create_object(form, session)
            note = Note(
                title=f"Digest: {digest.title}",
                team_id=digest.team_id,
                archived=digest.title.endswith("with archived note"),
            )
            session.add(note)
            session.flush()  # written here: no longer among the session's new objects at the admin's flush
            if digest.title.endswith("with secret follow-up"):
                session.add(Digest(title="Secret follow-up", team_id=digest.team_id))
            return digest

        def update_object(self, form: t.Any, obj: t.Any) -> None:
            super().update_object(form, obj)
            if obj.title.endswith("archive notes"):
                archive_team_notes(obj)

    return [
        DigestView(
            Digest,
            list_columns=["id", "title", "team_id"],
            object_actions=[
                ObjectAction("archive_notes", "Archive the notes", archive_notes),
                ObjectAction("archive_notes_and_commit", "Archive the notes now", archive_notes_and_commit),
                ObjectAction("stamp_notes", "Stamp the notes", stamp_notes),
                ObjectAction("file_pins", "File the pins", file_pins),
            ],
            scope=own_team_digests,
        ),
        ModelView(Pin, list_columns=["id", "title", "digest_id"], scope=own_team_pins),
    ]


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    return make_views()

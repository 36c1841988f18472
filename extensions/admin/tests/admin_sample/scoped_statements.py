"""A sample plugin whose actions write rows with statements, not through the session's flush: desks of a team.

Desks are scoped like the scoped sample's notes: an editor sees the desks of their own team that are not
archived. Every action writes with a statement that the unit of work never sees:

- bulk actions on desks (the view's own model): ``archive_by_statement`` (an ORM ``update()`` archiving the
  selected desks: out of the scope), ``rename_by_statement`` (an ORM ``update()`` appending ``!`` to their titles,
  the session's objects left unsynchronized), ``purge_by_statement`` (a Core ``DELETE`` of them);
- object actions on a desk, on the notes of its team (another scoped model): ``archive_notes`` (ORM ``update()``),
  ``stamp_notes`` (ORM ``update()`` appending " (stamped)" to every note of the team: archived ones too, were it not
  confined), ``purge_notes`` (``Query.delete()`` of the team's notes), ``archive_notes_core`` (a Core ``UPDATE`` on
  the session's connection), ``add_archived_note`` (an ORM ``insert()``), ``archive_notes_text`` (``text()``),
  ``archive_notes_driver_sql`` (``exec_driver_sql``), ``archive_notes_by_key`` (the ORM's bulk UPDATE by primary
  key of every note of the team: executemany), ``archive_notes_returning`` (``text().columns()``),
  ``archive_notes_in_cte`` (a data-modifying WITH), ``purge_undo_and_archive_notes`` (a DELETE statement in a
  savepoint rolled back, then the notes archived as objects), and ``touch_memos`` (an ``UPDATE`` and a raw ``INSERT`` of
  memos, a model no scope narrows), ``archive_notes_lightweight`` (a Core ``UPDATE`` of ``sa.table("scoped_note")``),
  ``archive_notes_escaped_string`` (raw SQL whose write follows ``E'\\''``), ``rename_hidden_note_by_key`` (the
  ORM's bulk UPDATE by primary key of one row, the archived note) and ``title_from_notes`` (a raw read calling
  ``replace()``, renaming the desk), ``archive_notes_after_an_idle_flush`` (a flush with nothing to write, then an
  ORM ``update()``), ``purge_by_parameters`` (a DELETE whose parameters name the scope's own);
- its view's ``update_object`` archives the team's notes with an ORM ``update()`` when the new title ends with
  ``archive notes``.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

import erlen
from erlen_db import Model

PLUGIN = erlen.Plugin(name="scoped_statements", requires=["db", "admin", "scoped"])


class Desk(Model):
    __tablename__ = "scoped_statements_desk"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("scoped_team.id"), index=True)
    archived: Mapped[bool] = mapped_column(default=False)

    def __str__(self) -> str:
        return self.title


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Desk]


def own_team_desks(statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
    """The desks of the user's team that are not archived; every desk for a superuser."""
    from admin_sample.scoped import Team, team_name_of

    if user.is_superuser:
        return statement
    teams = sa.select(Team.id).where(Team.name == team_name_of(user))
    return statement.where(Desk.team_id.in_(teams), Desk.archived.is_(False))


def _session() -> t.Any:
    from erlen_db import session

    return session


def archive_by_statement(view: t.Any, desks: t.Sequence[Desk]) -> str:
    _session().execute(sa.update(Desk).where(Desk.id.in_([desk.id for desk in desks])).values(archived=True))
    return "Archived."


def rename_by_statement(view: t.Any, desks: t.Sequence[Desk]) -> str:
    _session().execute(
        sa.update(Desk).where(Desk.id.in_([desk.id for desk in desks])).values(title=Desk.title + "!"),
        execution_options={"synchronize_session": False},
    )
    return "Renamed."


def purge_by_statement(view: t.Any, desks: t.Sequence[Desk]) -> str:
    table = t.cast(sa.Table, Desk.__table__)
    _session().execute(sa.delete(table).where(table.c.id.in_([desk.id for desk in desks])))
    return "Purged."


def _notes() -> t.Any:
    from admin_sample.scoped import Note

    return Note


def archive_team_notes(desk: Desk) -> None:
    note = _notes()
    _session().execute(sa.update(note).where(note.team_id == desk.team_id).values(archived=True))


def archive_notes(view: t.Any, desk: Desk) -> str:
    archive_team_notes(desk)
    return "Archived the notes."


def stamp_notes(view: t.Any, desk: Desk) -> str:
    note = _notes()
    _session().execute(sa.update(note).where(note.team_id == desk.team_id).values(title=note.title + " (stamped)"))
    return "Stamped the notes."


def purge_notes(view: t.Any, desk: Desk) -> str:
    note = _notes()
    count = _session().query(note).filter(note.team_id == desk.team_id).delete()
    return f"Purged {count} notes."


def archive_notes_core(view: t.Any, desk: Desk) -> str:
    table = _notes().__table__
    _session().connection().execute(table.update().where(table.c.team_id == desk.team_id).values(archived=True))
    return "Archived the notes."


def add_archived_note(view: t.Any, desk: Desk) -> str:
    _session().execute(sa.insert(_notes()).values(title=f"{desk.title} (note)", team_id=desk.team_id, archived=True))
    return "Added a note."


def archive_notes_text(view: t.Any, desk: Desk) -> str:
    _session().execute(sa.text("UPDATE scoped_note SET archived = TRUE WHERE team_id = :team"), {"team": desk.team_id})
    return "Archived the notes."


def archive_notes_driver_sql(view: t.Any, desk: Desk) -> str:
    # Inlined: the driver's own placeholder differs between sqlite3 (?) and psycopg (%s).
    _session().connection().exec_driver_sql(
        f"update Scoped_Note set archived = TRUE where team_id = {int(desk.team_id)}"
    )
    return "Archived the notes."


def archive_notes_by_key(view: t.Any, desk: Desk) -> str:
    """The ORM's bulk UPDATE by primary key: one set of parameters per note of the team (executemany)."""
    note = _notes()
    session = _session()
    keys = session.scalars(sa.select(note.id).where(note.team_id == desk.team_id)).all()
    session.execute(sa.update(note), [{"id": key, "archived": True} for key in keys])
    return "Archived the notes."


def archive_notes_returning(view: t.Any, desk: Desk) -> str:
    """``text().columns()``: raw SQL read as a SELECT of its RETURNING columns."""
    statement = sa.text("UPDATE scoped_note SET archived = TRUE WHERE team_id = :team RETURNING id")
    _session().execute(statement.columns(id=sa.Integer), {"team": desk.team_id})
    return "Archived the notes."


def archive_notes_in_cte(view: t.Any, desk: Desk) -> str:
    """A SELECT of a data-modifying WITH (PostgreSQL; SQLite refuses an UPDATE there)."""
    table = _notes().__table__
    archived = table.update().where(table.c.team_id == desk.team_id).values(archived=True).returning(table.c.id)
    _session().execute(sa.select(archived.cte("archived")))
    return "Archived the notes."


def purge_undo_and_archive_notes(view: t.Any, desk: Desk) -> str:
    """Deletes the team's notes with a statement in a savepoint rolled back, then archives them as objects."""
    note = _notes()
    session = _session()
    savepoint = session.begin_nested()
    session.execute(sa.delete(note).where(note.team_id == desk.team_id))
    savepoint.rollback()
    for each in session.scalars(sa.select(note).where(note.team_id == desk.team_id)):
        each.archived = True
    return "Archived the notes."


def touch_memos(view: t.Any, desk: Desk) -> str:
    from admin_sample.scoped import Memo

    session = _session()
    session.execute(sa.update(Memo).where(Memo.team_id == desk.team_id).values(title=Memo.title + " (touched)"))
    session.execute(
        sa.text("INSERT INTO scoped_memo (title, team_id) VALUES (:title, :team)"),
        {"title": "Touched", "team": desk.team_id},
    )
    return "Touched the memos."


def archive_notes_lightweight(view: t.Any, desk: Desk) -> str:
    """A Core ``UPDATE`` of the notes' table named by ``sa.table()`` (a ``TableClause``, not the model's ``Table``),
    in upper case (SQLite's names ignore case)."""
    name = "scoped_note" if _session().get_bind().dialect.name == "postgresql" else "SCOPED_NOTE"
    table = sa.table(name, sa.column("team_id"), sa.column("archived"))
    _session().execute(table.update().where(table.c.team_id == desk.team_id).values(archived=True))
    return "Archived the notes."


def archive_notes_escaped_string(view: t.Any, desk: Desk) -> str:
    """A data-modifying WITH after a string whose quote is escaped with a backslash (PostgreSQL's ``E'\\''``):
    read with quotes doubled only, the string seems to run to the last quote, past the ``UPDATE``."""
    _session().execute(
        sa.text(
            "WITH quote AS (SELECT E'\\'' AS q), archived AS (UPDATE scoped_note SET archived = TRUE "
            "WHERE team_id = :team RETURNING id) SELECT count(*), 'done' FROM archived"
        ),
        {"team": desk.team_id},
    )
    return "Archived the notes."


def rename_hidden_note_by_key(view: t.Any, desk: Desk) -> str:
    """The ORM's bulk UPDATE by primary key of one row: the team's archived note, outside red-editor's scope."""
    note = _notes()
    session = _session()
    hidden = session.scalar(sa.select(note.id).where(note.team_id == desk.team_id, note.archived.is_(True)))
    session.execute(sa.update(note), [{"id": hidden, "title": "Renamed"}])
    return "Renamed the note."


def title_from_notes(view: t.Any, desk: Desk) -> str:
    """A raw read calling ``replace()`` (a function, not a write), whose result renames the desk."""
    rows = _session().execute(
        sa.text("SELECT replace(title, 'Red', 'R') FROM scoped_note WHERE team_id = :team AND archived = FALSE"),
        {"team": desk.team_id},
    )
    desk.title = ", ".join(sorted(row[0] for row in rows))
    return "Renamed the desk."


def archive_after_idle_flush(view: t.Any, desk: Desk) -> str:
    """Flushes the desk alone while another desk is added (the flush has nothing to do), then archives the team's
    notes with an ORM ``update()`` (no autoflush before it)."""
    import warnings

    session = _session()
    other = Desk(title="Other", team_id=desk.team_id)
    session.add(other)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # flush(objects) is deprecated in SQLAlchemy 2.1
        session.flush([desk])
    with session.no_autoflush:  # the other desk is flushed at the end, after the statement
        archive_team_notes(desk)
    return "Archived the notes."


def purge_by_parameters(view: t.Any, desk: Desk) -> str:
    """A DELETE of the notes of the team given as a parameter, the blue team, with a parameter named as the scope's
    team name compiles (``name_1``): set to "blue", it would make the scope's condition the blue team's."""
    from admin_sample.scoped import Team

    note = _notes()
    session = _session()
    blue = session.scalar(sa.select(Team.id).where(Team.name == "blue"))
    deleted = session.execute(
        sa.delete(note).where(note.team_id == sa.bindparam("team")), {"team": blue, "name_1": "blue"}
    )
    return f"Purged {deleted.rowcount} notes."


def make_views() -> list[t.Any]:
    from erlen_admin import Action, ModelView, ObjectAction

    class DeskView(ModelView):
        def update_object(self, form: t.Any, obj: t.Any) -> None:
            super().update_object(form, obj)
            if obj.title.endswith("archive notes"):
                archive_team_notes(obj)

    return [
        DeskView(
            Desk,
            list_columns=["id", "title", "team_id"],
            form_columns=["title", "team_id"],
            actions=[
                Action("archive_by_statement", "Archive", archive_by_statement, permission="edit", confirm=False),
                Action("rename_by_statement", "Rename", rename_by_statement, permission="edit", confirm=False),
                Action("purge_by_statement", "Purge", purge_by_statement, permission="delete", confirm=False),
            ],
            object_actions=[
                ObjectAction("archive_notes", "Archive the notes", archive_notes),
                ObjectAction("stamp_notes", "Stamp the notes", stamp_notes),
                ObjectAction("purge_notes", "Purge the notes", purge_notes),
                ObjectAction("archive_notes_core", "Archive the notes (Core)", archive_notes_core),
                ObjectAction("add_archived_note", "Add an archived note", add_archived_note),
                ObjectAction("archive_notes_text", "Archive the notes (text)", archive_notes_text),
                ObjectAction("archive_notes_driver_sql", "Archive the notes (driver)", archive_notes_driver_sql),
                ObjectAction("archive_notes_by_key", "Archive the notes (by key)", archive_notes_by_key),
                ObjectAction("archive_notes_returning", "Archive the notes (returning)", archive_notes_returning),
                ObjectAction("archive_notes_in_cte", "Archive the notes (WITH)", archive_notes_in_cte),
                ObjectAction("purge_undo_and_archive_notes", "Purge, undo, archive", purge_undo_and_archive_notes),
                ObjectAction("touch_memos", "Touch the memos", touch_memos),
                ObjectAction("archive_notes_lightweight", "Archive the notes (sa.table)", archive_notes_lightweight),
                ObjectAction("archive_notes_escaped_string", "Archive the notes (E'')", archive_notes_escaped_string),
                ObjectAction("rename_hidden_note_by_key", "Rename a note (by key)", rename_hidden_note_by_key),
                ObjectAction("title_from_notes", "Title from the notes", title_from_notes),
                ObjectAction("purge_by_parameters", "Purge by parameters", purge_by_parameters),
                ObjectAction("archive_notes_after_an_idle_flush", "Idle flush, archive", archive_after_idle_flush),
            ],
            scope=own_team_desks,
        ),
    ]


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    return make_views()

"""Statements that write rows without the session's flush, inside a checked change
(:mod:`erlen_admin.statement_guard`): confined to the user's scope and checked, or refused.

The sample plugin ``admin_sample.scoped_statements`` has desks, scoped like the scoped sample's notes, whose bulk
and object actions (and edit form) write desks and notes with ORM and Core statements and raw SQL. Each test
goes through the admin's pages as red-editor, who may see the red team's notes and desks that are not archived.
"""

from __future__ import annotations

import threading
import typing as t

import pytest
import sqlalchemy as sa
import test_scope
from conftest import PLUGINS

from erlen_auth.testing import login_as, make_user
from erlen_db import database_of

DESKS = "/admin/m/scoped_statements_desk/"

notes, scoped, flashes, red_editor = test_scope.notes, test_scope.scoped, test_scope.flashes, test_scope.editor


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.scoped", "admin_sample.scoped_statements"]


@pytest.fixture
def editor(app, db_session, red_editor, notes):
    """red-editor (see ``test_scope.editor``), who may also view, edit and delete desks."""
    from erlen_auth import Role, grant

    role = db_session.scalar(sa.select(Role).where(Role.name == "editor"))
    grant(role, *(f"admin.scoped_statements_desk.{operation}" for operation in ("view", "edit", "delete")), app=app)
    db_session.commit()
    return red_editor


@pytest.fixture
def desks() -> t.Any:
    from admin_sample import scoped_statements

    return scoped_statements


@pytest.fixture
def desk(db_session, notes, desks, scoped) -> t.Any:
    """The red team's desk "Front"; the red team has an archived note too (the superusers' alone)."""
    red = notes["red"][0].team_id
    made = desks.Desk(title="Front", team_id=red)
    db_session.add_all([made, scoped.Note(title="Red hidden", team_id=red, archived=True)])
    db_session.commit()
    return made


def rows_of(db_session: t.Any, model: t.Any, *conditions: t.Any) -> list[t.Any]:
    db_session.expire_all()
    return list(db_session.scalars(sa.select(model).where(*conditions).order_by(model.id)))


def red_notes(db_session: t.Any, scoped: t.Any, desk: t.Any) -> list[tuple[str, bool]]:
    return [
        (note.title, note.archived) for note in rows_of(db_session, scoped.Note, scoped.Note.team_id == desk.team_id)
    ]


UNTOUCHED = [("Red 00", False), ("Red 01", False), ("Red 02", False), ("Red hidden", True)]


def act(editor: t.Any, desk: t.Any, name: str) -> str:
    response = editor.post(f"{DESKS}{desk.id}/do/{name}", follow_redirects=True)
    assert response.status_code == 200, response.text
    return flashes(response.text)


def audit_entries(db_session: t.Any) -> list[tuple[str, t.Any, t.Any]]:
    from erlen_admin.models import AuditEntry

    return [(entry.action, entry.object_id, entry.changes) for entry in rows_of(db_session, AuditEntry)]


def test_an_orm_update_moving_other_rows_out_of_the_scope_is_rolled_back(editor, desk, db_session, scoped):
    said = act(editor, desk, "archive_notes")
    # Before: "Archived the notes.": the red notes archived by the statement, which the check never saw.
    assert (
        "Archive the notes: it would have left Note “Red 00”, Note “Red 01”, Note “Red 02” outside the rows you may "
        "see and change here, so it was rolled back. Nothing was changed." in said
    ), said
    assert red_notes(db_session, scoped, desk) == UNTOUCHED
    assert audit_entries(db_session) == []


def test_an_orm_update_is_confined_to_the_scope(editor, desk, db_session, scoped, notes):
    said = act(editor, desk, "stamp_notes")
    assert "Stamped the notes." in said, said
    # Before: the archived note, which the editor may not see, was stamped too.
    assert red_notes(db_session, scoped, desk) == [
        ("Red 00 (stamped)", False),
        ("Red 01 (stamped)", False),
        ("Red 02 (stamped)", False),
        ("Red hidden", True),
    ]
    blue = rows_of(db_session, scoped.Note, scoped.Note.team_id == notes["blue"][0].team_id)
    assert not any(note.title.endswith("(stamped)") for note in blue)


def test_a_query_delete_is_confined_to_the_scope(editor, desk, db_session, scoped):
    said = act(editor, desk, "purge_notes")
    assert "Purged 3 notes." in said, said
    # Before: "Purged 4 notes.": the archived note, which the editor may not see, was deleted too.
    assert red_notes(db_session, scoped, desk) == [("Red hidden", True)]


def test_a_core_update_on_the_sessions_connection_is_checked(editor, desk, db_session, scoped):
    said = act(editor, desk, "archive_notes_core")
    # Before: "Archived the notes.", every note of the team archived.
    assert (
        "Archive the notes (Core): it would have left Note “Red 00”, Note “Red 01”, Note “Red 02” outside the rows "
        "you may see and change here, so it was rolled back. Nothing was changed." in said
    ), said
    assert red_notes(db_session, scoped, desk) == UNTOUCHED


@pytest.mark.parametrize(
    ("action", "label", "why"),
    [
        ("add_archived_note", "Add an archived note", "the rows an INSERT writes outside the session's flush"),
        ("archive_notes_text", "Archive the notes (text)", "raw SQL (text(), exec_driver_sql) writing it"),
        ("archive_notes_driver_sql", "Archive the notes (driver)", "raw SQL (text(), exec_driver_sql) writing it"),
        ("archive_notes_by_key", "Archive the notes (by key)", "with several sets of parameters (executemany"),
        ("archive_notes_returning", "Archive the notes (returning)", "raw SQL (text(), exec_driver_sql) writing it"),
        ("archive_notes_in_cte", "Archive the notes (WITH)", "within another statement (a data-modifying WITH)"),
        # Before: run (on PostgreSQL every red note archived; on SQLite a syntax error), its UPDATE taken for the
        # inside of a string.
        ("archive_notes_escaped_string", "Archive the notes (E&#39;&#39;)", "raw SQL (text(), exec_driver_sql)"),
        # Before: "Desk … was deleted by someone else meanwhile": the ORM took the confined statement's 0 rows for
        # a deleted row.
        ("rename_hidden_note_by_key", "Rename a note (by key)", "whose WHERE takes the primary key from its"),
    ],
)
def test_statements_whose_rows_cannot_be_checked_are_refused(
    editor, desk, db_session, scoped, caplog, action, label, why
):
    said = act(editor, desk, action)
    # Before: done, the note added or the notes archived, out of the editor's sight.
    assert f"{label} failed because of an error in the" in said, said
    assert "erlen-admin refused a statement on the table 'scoped_note'" in caplog.text
    assert "checked change of the admin view 'scoped_statements_desk'" in caplog.text
    assert why in caplog.text
    assert red_notes(db_session, scoped, desk) == UNTOUCHED


def test_rows_a_delete_statement_deleted_in_a_savepoint_rolled_back_are_checked(editor, desk, db_session, scoped):
    said = act(editor, desk, "purge_undo_and_archive_notes")
    # The rows came back with the savepoint's rollback: they are checked like any other, not taken as deleted.
    assert (
        "Purge, undo, archive: it would have left Note “Red 00”, Note “Red 01”, Note “Red 02” outside the rows you "
        "may see and change here, so it was rolled back. Nothing was changed." in said
    ), said
    assert red_notes(db_session, scoped, desk) == UNTOUCHED


def test_statements_on_unscoped_models_and_the_superusers_are_let_through(
    editor, admin_client, desk, db_session, scoped
):
    db_session.add(scoped.Memo(title="Plan", team_id=desk.team_id))
    db_session.commit()
    said = act(editor, desk, "touch_memos")
    assert "Touched the memos." in said, said
    assert [memo.title for memo in rows_of(db_session, scoped.Memo)] == ["Plan (touched)", "Touched"]
    # A superuser's scope narrows nothing: their statements run as written.
    said = act(admin_client, desk, "add_archived_note")
    assert "Added a note." in said, said
    said = act(admin_client, desk, "archive_notes_text")
    assert "Archived the notes." in said, said
    assert all(archived for _, archived in red_notes(db_session, scoped, desk))


def test_an_update_object_statement_moving_rows_out_saves_nothing(editor, desk, db_session, scoped, desks):
    response = editor.post(
        f"{DESKS}{desk.id}/edit", data={"title": "Front, archive notes", "team_id": str(desk.team_id)}
    )
    assert response.status_code == 200, response.text
    # Before: saved, and the red notes archived.
    assert (
        "Nothing was saved: the save would have left Note “Red 00”, Note “Red 01”, Note “Red 02” outside the rows "
        "you may see and change here." in response.text
    )
    assert [row.title for row in rows_of(db_session, desks.Desk)] == ["Front"]
    assert red_notes(db_session, scoped, desk) == UNTOUCHED


def test_a_bulk_statement_moving_the_selected_rows_out_is_rolled_back(editor, desk, db_session, desks):
    response = editor.post(
        DESKS + "action", data={"action": "archive_by_statement", "ids": [str(desk.id)]}, follow_redirects=True
    )
    said = flashes(response.text)
    # Before: "Archived.": the desk gone from the editor's sight (the selected rows' objects were not changed).
    assert (
        "Archive: it would have left Desk “Front” outside the desks you may see and change here, so it was rolled "
        "back. Nothing was changed." in said
    ), said
    assert [row.archived for row in rows_of(db_session, desks.Desk)] == [False]


def test_the_audit_records_what_bulk_statements_changed(editor, desk, db_session, desks):
    second = desks.Desk(title="Back", team_id=desk.team_id)
    db_session.add(second)
    db_session.commit()
    ids = [str(desk.id), str(second.id)]
    response = editor.post(DESKS + "action", data={"action": "rename_by_statement", "ids": ids}, follow_redirects=True)
    assert "Renamed." in flashes(response.text)
    # Before: recorded with no change ({}), the session's objects not synchronized with the statement.
    assert audit_entries(db_session) == [
        ("bulk:rename_by_statement", ids[0], {"title": ["Front", "Front!"]}),
        ("bulk:rename_by_statement", ids[1], {"title": ["Back", "Back!"]}),
    ]
    response = editor.post(DESKS + "action", data={"action": "purge_by_statement", "ids": ids}, follow_redirects=True)
    assert "Purged." in flashes(response.text)
    assert rows_of(db_session, desks.Desk) == []
    # Before: a 500 (the deleted rows' objects reloaded for the audit), or an edit entry without a change.
    deletions = audit_entries(db_session)[2:]
    assert [(action, object_id) for action, object_id, _ in deletions] == [
        ("bulk:purge_by_statement (deleted)", ids[0]),
        ("bulk:purge_by_statement (deleted)", ids[1]),
    ]
    assert deletions[0][2]["title"] == "Front!"


def test_a_statement_touching_too_many_rows_is_refused(editor, desk, db_session, scoped, caplog, monkeypatch):
    from erlen_admin import statement_guard

    # Three red notes in the editor's scope: more than a limit of two.
    monkeypatch.setattr(statement_guard, "MAX_STATEMENT_ROWS", 2)
    said = act(editor, desk, "stamp_notes")
    assert "Stamp the notes failed because of an error in the" in said, said
    assert "it would touch 3 rows, more than the 2 a statement inside a checked change may" in caplog.text
    assert red_notes(db_session, scoped, desk) == UNTOUCHED


def test_a_statement_on_a_scoped_table_named_by_sa_table_is_refused(editor, desk, db_session, scoped, caplog):
    said = act(editor, desk, "archive_notes_lightweight")
    # Before: "Archived the notes.": a TableClause is not the model's Table, so the statement ran unconfined.
    assert "Archive the notes (sa.table) failed because of an error in the" in said, said
    assert "erlen-admin refused a statement on the table 'scoped_note'" in caplog.text
    assert red_notes(db_session, scoped, desk) == UNTOUCHED


def test_a_raw_read_calling_replace_is_not_taken_for_a_write(editor, desk, db_session, desks):
    said = act(editor, desk, "title_from_notes")
    # Before: refused ("Title from the notes failed because of an error"), REPLACE taken for SQLite's statement.
    assert "Renamed the desk." in said, said
    assert [row.title for row in rows_of(db_session, desks.Desk)] == ["R 00, R 01, R 02"]


def test_a_statement_after_a_flush_with_nothing_to_do_is_checked(editor, desk, db_session, scoped):
    said = act(editor, desk, "archive_notes_after_an_idle_flush")
    # Before: "Archived the notes.": the flush of the desk alone had nothing to write, and ended without the event
    # that marks a flush's end, so every later statement was taken for the flush's own and let through.
    assert (
        "Idle flush, archive: it would have left Note “Red 00”, Note “Red 01”, Note “Red 02” outside the rows you may "
        "see and change here, so it was rolled back. Nothing was changed." in said
    ), said
    assert red_notes(db_session, scoped, desk) == UNTOUCHED


#: How long the PostgreSQL test waits, at most, for the admin's request to reach a lock before failing.
LOCK_WAIT_SECONDS = 60


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_delete_statement_leaves_a_row_another_session_moves_out_of_the_scope_meanwhile(app, client):
    """Another session archives a red note (out of red-editor's scope) and holds it uncommitted while red-editor's
    object action purges the team's notes with a DELETE statement in a thread; it commits once the request waits
    for the row. Rows committed for real (no test transaction), so that the other connection sees them."""
    from admin_sample import scoped, scoped_statements

    from erlen_auth import Role, grant
    from erlen_forms.testing import csrf_token_for

    database = database_of(app)
    database.create_all()
    with database.session_scope() as session:
        red = scoped.Team(name="red")
        session.add(red)
        session.flush()
        made = [scoped.Note(title=f"Red {index:02d}", team_id=red.id) for index in range(3)]
        desk = scoped_statements.Desk(title="Front", team_id=red.id)
        session.add_all([*made, desk])
        session.flush()
        moved, desk_id, team = made[0].id, desk.id, red.id
    user = make_user(app, "red-editor@example.com", roles=["editor"])
    with database.session_scope() as session:
        role = session.scalar(sa.select(Role).where(Role.name == "editor"))
        desk = [f"admin.scoped_statements_desk.{operation}" for operation in ("view", "edit")]
        grant(role, "admin.access", "admin.scoped_note.view", *desk, app=app)
    login_as(client, user)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    outcome: list[t.Any] = []

    def purge() -> None:
        try:
            outcome.append(client.post(f"{DESKS}{desk_id}/do/purge_notes"))
        except BaseException as exc:
            outcome.append(exc)

    notes_table = scoped.Note.__table__
    with database.engine.connect() as other, database.engine.connect() as watcher:
        other.execute(notes_table.update().where(notes_table.c.id == moved).values(archived=True))
        other_pid = other.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        worker = threading.Thread(target=purge)
        worker.start()
        try:
            # Until the request waits for the row the other session holds (a lock, not a guess at a duration).
            blocked = sa.text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
            waited = 0.0
            while not watcher.execute(blocked, {"pid": other_pid}).scalar_one():
                watcher.rollback()
                assert worker.is_alive(), f"the request did not wait for the other session's lock: {outcome}"
                worker.join(0.05)
                waited += 0.05
                assert waited < LOCK_WAIT_SECONDS, "the request never reached the other session's lock"
        finally:
            other.commit()  # the note archived: outside red-editor's scope
            worker.join()
    (response,) = outcome
    assert not isinstance(response, BaseException), repr(response)
    assert response.status_code == 302, response.text
    assert "Purged 2 notes." in flashes(client.get(response.headers["Location"]).text)
    # Before: "Purged 3 notes.", the archived note deleted too: the DELETE's scope condition was read at its start.
    with database.session_scope() as session:
        left = session.execute(sa.select(scoped.Note.title, scoped.Note.archived).where(scoped.Note.team_id == team))
        assert [tuple(row) for row in left] == [("Red 00", True)]
    database.dispose()


def test_parameters_naming_the_scopes_own_are_refused(editor, desk, db_session, scoped, notes, caplog):
    said = act(editor, desk, "purge_by_parameters")
    # Before: "Purged 40 notes.": the parameter name_1 set the scope's team name, and the blue team's notes, which
    # red-editor may not see, were deleted (a DELETE's rows are not read again).
    assert "Purge by parameters failed because of an error in the" in said, said
    assert "parameters that are not its own" in caplog.text
    blue = notes["blue"][0].team_id
    assert len(rows_of(db_session, scoped.Note, scoped.Note.team_id == blue)) == test_scope.BLUE

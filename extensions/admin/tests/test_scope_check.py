"""Writes that leave the scope (:mod:`erlen_admin.scope_check`): every row of a scoped model that a create, an
edit or an action writes must stay in the user's scope, not only the row the page is about.

The sample plugin ``admin_sample.scoped_saves`` has a view whose ``create_object`` and ``update_object`` (and an
object action) write notes of the scoped sample, and digests of its own, besides the digest being saved.
"""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
import test_scope
from conftest import PLUGINS

DIGESTS = "/admin/m/scoped_saves_digest/"

notes, scoped, flashes, red_editor = test_scope.notes, test_scope.scoped, test_scope.flashes, test_scope.editor


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.scoped", "admin_sample.scoped_saves"]


@pytest.fixture
def editor(app, db_session, red_editor, notes):
    """red-editor (see ``test_scope.editor``), who may also view, create and edit digests."""
    from erlen_auth import Role, grant

    role = db_session.scalar(sa.select(Role).where(Role.name == "editor"))
    grant(role, *(f"admin.scoped_saves_digest.{operation}" for operation in ("view", "create", "edit")), app=app)
    db_session.commit()
    return red_editor


@pytest.fixture
def digests() -> t.Any:
    from admin_sample import scoped_saves

    return scoped_saves


def rows_of(db_session: t.Any, model: t.Any, *conditions: t.Any) -> list[t.Any]:
    db_session.expire_all()
    return list(db_session.scalars(sa.select(model).where(*conditions).order_by(model.id)))


def form_errors(html: str) -> str:
    """The messages at the top of a form."""
    start = html.find('class="erlen-form-errors"')
    return html[start : html.find("</div>", start)] if start != -1 else ""


def test_a_create_whose_other_rows_leave_the_scope_saves_nothing(editor, notes, db_session, scoped, digests):
    red = str(notes["red"][0].team_id)
    # The note the view's create_object adds (and flushes itself) would be archived: outside the editor's notes.
    response = editor.post(DIGESTS + "new", data={"title": "Weekly with archived note", "team_id": red})
    assert response.status_code == 200, response.text
    assert (
        "Nothing was saved: the save would have left Note “Digest: Weekly with archived note” outside the rows you "
        "may see and change here." in response.text
    )
    assert 'value="Weekly with archived note"' in response.text  # what was typed is kept
    # A digest of the view's own model that create_object adds, unflushed, outside the scope of digests.
    response = editor.post(DIGESTS + "new", data={"title": "Monthly with secret follow-up", "team_id": red})
    assert response.status_code == 200, response.text
    assert (
        "Nothing was saved: the save would have left Digest “Secret follow-up” outside the digests you may see "
        "and change here." in response.text
    )
    # Before: both were saved, with the digest: a note and a digest the editor could then neither see nor undo.
    assert rows_of(db_session, digests.Digest) == []
    assert rows_of(db_session, scoped.Note, scoped.Note.title.startswith("Digest:")) == []
    from erlen_admin.models import AuditEntry

    assert rows_of(db_session, AuditEntry) == []


def test_a_create_whose_other_rows_stay_in_the_scope_is_saved(editor, notes, db_session, scoped, digests):
    red = notes["red"][0].team_id
    response = editor.post(DIGESTS + "new", data={"title": "Weekly", "team_id": str(red)})
    assert response.status_code == 302, response.text
    assert [digest.title for digest in rows_of(db_session, digests.Digest)] == ["Weekly"]
    added = rows_of(db_session, scoped.Note, scoped.Note.title == "Digest: Weekly")
    assert [(note.team_id, note.archived) for note in added] == [(red, False)]


def test_an_edit_whose_other_rows_leave_the_scope_saves_nothing(editor, notes, db_session, scoped, digests):
    red = notes["red"][0].team_id
    digest = digests.Digest(title="Weekly", team_id=red)
    db_session.add(digest)
    db_session.commit()
    # update_object archives the team's notes (its query autoflushes the digest's new title first).
    response = editor.post(f"{DIGESTS}{digest.id}/edit", data={"title": "Weekly, archive notes", "team_id": str(red)})
    assert response.status_code == 200, response.text
    said = form_errors(response.text)
    assert (
        "Nothing was saved: the save would have left Note “Red 00”, Note “Red 01”, Note “Red 02” outside the rows "
        "you may see and change here." in said
    ), said
    assert 'value="Weekly, archive notes"' in response.text
    assert [row.title for row in rows_of(db_session, digests.Digest)] == ["Weekly"]
    assert not any(note.archived for note in rows_of(db_session, scoped.Note))
    from erlen_admin.models import AuditEntry

    assert rows_of(db_session, AuditEntry) == []


def test_the_superusers_edit_of_other_rows_is_saved(admin_client, notes, db_session, scoped, digests):
    red = notes["red"][0].team_id
    digest = digests.Digest(title="Weekly", team_id=red)
    db_session.add(digest)
    db_session.commit()
    response = admin_client.post(
        f"{DIGESTS}{digest.id}/edit", data={"title": "Weekly, archive notes", "team_id": str(red)}
    )
    assert response.status_code == 302, response.text
    assert [row.title for row in rows_of(db_session, digests.Digest)] == ["Weekly, archive notes"]
    assert all(note.archived for note in rows_of(db_session, scoped.Note, scoped.Note.team_id == red))


def test_an_object_action_on_other_rows_leaving_the_scope_is_rolled_back(editor, notes, db_session, scoped, digests):
    red = notes["red"][0].team_id
    digest = digests.Digest(title="Weekly", team_id=red)
    db_session.add(digest)
    db_session.commit()
    response = editor.post(f"{DIGESTS}{digest.id}/do/archive_notes", follow_redirects=True)
    said = flashes(response.text)
    assert (
        "Archive the notes: it would have left Note “Red 00”, Note “Red 01”, Note “Red 02” outside the rows you may "
        "see and change here, so it was rolled back. Nothing was changed." in said
    ), said
    assert not any(note.archived for note in rows_of(db_session, scoped.Note))


def test_rows_moved_through_a_collection_are_checked(editor, notes, db_session, digests):
    red = notes["red"][0].team_id
    weekly, archive = digests.Digest(title="Weekly", team_id=red), digests.Digest(title="Secret archive", team_id=red)
    db_session.add_all([weekly, archive])
    db_session.flush()
    db_session.add_all([digests.Pin(title=title, digest_id=weekly.id) for title in ("Agenda", "Minutes")])
    db_session.commit()
    # The action appends the pins to the secret digest's collection: no pin is changed before the flush sets its
    # digest_id, and the secret digest's only change is its collection.
    response = editor.post(f"{DIGESTS}{weekly.id}/do/file_pins", follow_redirects=True)
    said = flashes(response.text)
    # Before: neither was collected, nothing was checked, and the pins moved where the editor cannot see them.
    assert (
        "File the pins: it would have left Pin “Agenda”, Pin “Minutes” outside the rows you may see and change here, "
        "so it was rolled back. Nothing was changed." in said
    ), said
    assert [pin.digest_id for pin in rows_of(db_session, digests.Pin)] == [weekly.id, weekly.id]


def test_a_refusal_does_not_name_rows_the_user_may_not_see(editor, notes, db_session, scoped, digests):
    red = notes["red"][0].team_id
    digest = digests.Digest(title="Weekly", team_id=red)
    hidden = scoped.Note(title="Red hidden", team_id=red, archived=True)  # the superusers' alone
    db_session.add_all([digest, hidden])
    db_session.commit()
    # The action renames every note of the team, the archived one too: that one was outside the editor's scope
    # before the action and still is, so the action is rolled back; the message says so without its title.
    response = editor.post(f"{DIGESTS}{digest.id}/do/stamp_notes", follow_redirects=True)
    said = flashes(response.text)
    assert (
        "Stamp the notes: it would have changed 1 row you may not see, so it was rolled back. Nothing was changed."
        in said
    ), said
    # Before: "it would have left Note “Red hidden (stamped)” outside the rows you may see": a title the editor
    # may not read, shown to them.
    assert "Red hidden" not in response.text
    assert [note.title for note in rows_of(db_session, scoped.Note, scoped.Note.team_id == red)] == [
        "Red 00",
        "Red 01",
        "Red 02",
        "Red hidden",
    ]


def test_an_action_that_commits_itself_is_refused_before_its_commit(editor, notes, db_session, scoped, digests, caplog):
    red = notes["red"][0].team_id
    digest = digests.Digest(title="Weekly", team_id=red)
    db_session.add(digest)
    db_session.commit()
    # The callback archives the team's notes (outside the editor's scope) and commits them itself.
    response = editor.post(f"{DIGESTS}{digest.id}/do/archive_notes_and_commit", follow_redirects=True)
    said = flashes(response.text)
    assert "Archive the notes now failed because of an error in the" in said, said
    assert "must not commit" in caplog.text
    # Before: the notes were committed archived before the check, whose rollback then undid nothing, and the
    # message said "so it was rolled back. Nothing was changed."
    assert not any(note.archived for note in rows_of(db_session, scoped.Note))

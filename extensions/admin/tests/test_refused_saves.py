"""Saves the database refuses after the form validated: the form comes back with the reason, nothing is saved.

The conflicting writes are real: a SQLAlchemy ``before_flush`` listener makes
them just before the admin's flush, from another connection that commits (as
another user's request would) or inside the admin's own transaction.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from conftest import PLUGINS, write_unless_locked
from sqlalchemy import event
from sqlalchemy.orm import Session

from erlen_admin.models import AuditEntry
from erlen_auth.testing import FAST_HASHING, login_as, make_user
from erlen_db import database_of
from erlen_forms.testing import csrf_token_for

BOOKS = "/admin/m/library_book/"
AUTHORS = "/admin/m/library_author/"


@contextmanager
def before_flush(callback: Callable[[Session], None]) -> Iterator[None]:
    """Run ``callback(session)`` before every flush of every session in the block."""

    def listener(session: Session, flush_context: t.Any, instances: t.Any) -> None:
        callback(session)

    event.listen(Session, "before_flush", listener)
    try:
        yield
    finally:
        event.remove(Session, "before_flush", listener)


@pytest.fixture(params=[True, False], ids=["lone-reads", "one-snapshot"])
def lone_reads(request: pytest.FixtureRequest) -> bool:
    """``DB_LONE_READS``: on (the default) and off, which changes what SQLite does when another commits first."""
    return t.cast(bool, request.param)


@pytest.fixture
def erlen_config(database_url: str, lone_reads: bool) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING, "DB_LONE_READS": lone_reads}


@pytest.fixture
def committed(app, client, models):
    """Tables and rows committed for real (no test transaction), so another connection can change them meanwhile.

    :returns: the app's database and the ids of an author with a book, an author without, and the book.
    """
    database = database_of(app)
    database.create_all()
    login_as(client, make_user(app, "root@example.com", superuser=True))
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    with database.session_scope() as session:
        ada, spare = models.Author(name="Ada"), models.Author(name="Spare")
        session.add_all([ada, spare])
        session.flush()
        book = models.Book(title="Notes", pages=10, author_id=ada.id)
        session.add(book)
        session.flush()
        ids = {"ada": ada.id, "spare": spare.id, "book": book.id}
    yield database, ids
    database.dispose()


def audit_entries(database) -> list[t.Any]:
    with database.session_scope() as session:
        return list(session.scalars(sa.select(AuditEntry)))


def book_form(ids, **changes: str) -> dict[str, str]:
    return {"title": "Notes", "pages": "10", "status": "draft", "author_id": str(ids["ada"]), **changes}


def field_errors(html: str, field: str) -> str:
    """The HTML of the form field ``field`` (its input, label and errors)."""
    start = html.index(f'for="{field}"')
    ends = [html.find(marker, start) for marker in ('<div class="erlen-field', '<div class="form-actions"')]
    return html[start : min(end for end in ends if end != -1)]


def writes_on_a_stale_snapshot(database, lone_reads: bool) -> bool:
    """Whether the admin's write upgrades a read snapshot older than the other's commit: SQLite refuses that.

    With lone reads (the default) the reads before the write ran alone, and the write's transaction begins
    after the other commit, as on PostgreSQL: the database then refuses the row itself.
    """
    return database.engine.dialect.name == "sqlite" and not lone_reads


BUSY = "Someone else changed the database while this was being saved, so nothing was saved."


def test_duplicate_committed_by_another_session_before_create(app, client, committed, models, lone_reads):
    database, _ = committed

    def insert_duplicate(session: Session) -> None:
        if any(isinstance(obj, models.Author) for obj in session.new):
            with database.engine.begin() as other:
                other.execute(sa.insert(models.Author.__table__).values(name="Twin"))

    with before_flush(insert_duplicate):
        response = client.post(AUTHORS + "new", data={"name": "Twin"})
    assert response.status_code == 200, response.text
    if writes_on_a_stale_snapshot(database, lone_reads):
        # SQLite's WAL refuses to write on a snapshot older than the other commit: the form comes back to resend.
        assert BUSY in response.text
    else:
        assert "Another author already has this value" in field_errors(response.text, "name")
    assert 'value="Twin"' in response.text  # what was typed is kept
    with database.session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).where(models.Author.name == "Twin")) == 1  # the other's
    assert audit_entries(database) == []


def test_reference_deleted_by_another_session_before_edit(app, client, committed, models, lone_reads):
    database, ids = committed
    deleted: list[bool] = []

    def delete_author(session: Session) -> None:
        if not deleted and any(isinstance(obj, models.Book) for obj in session.dirty):
            row = models.Author.id == ids["spare"]
            deleted.append(write_unless_locked(database, models.Author.__table__, row))

    with before_flush(delete_author):
        response = client.post(f"{BOOKS}{ids['book']}/edit", data=book_form(ids, author_id=str(ids["spare"])))
    if deleted == [False]:
        # SQLite with lone reads: the save holds the file's write lock from its check, so the deletion waits for
        # it (and is then refused by the foreign key); the save goes through.
        assert database.engine.dialect.name == "sqlite" and lone_reads
        assert response.status_code == 302, response.text
        with database.session_scope() as session:
            assert session.get(models.Book, ids["book"]).author_id == ids["spare"]
        return
    assert response.status_code == 200, response.text
    if writes_on_a_stale_snapshot(database, lone_reads):
        assert BUSY in response.text
    else:
        assert "The chosen row no longer exists" in field_errors(response.text, "author_id")
    with database.session_scope() as session:
        assert session.get(models.Book, ids["book"]).author_id == ids["ada"]
    assert audit_entries(database) == []


def test_row_deleted_by_another_session_before_edit(app, client, committed, models):
    database, ids = committed
    deleted: list[bool] = []

    def delete_book(session: Session) -> None:
        if not deleted and any(isinstance(obj, models.Book) for obj in session.dirty):
            deleted.append(write_unless_locked(database, models.Book.__table__, models.Book.id == ids["book"]))

    with before_flush(delete_book):
        response = client.post(f"{BOOKS}{ids['book']}/edit", data=book_form(ids, title="Renamed"))
    assert response.status_code == 302, response.text
    if deleted == [False]:
        # The save holds the row (FOR UPDATE; SQLite's write lock): a deletion waits for it, so the save goes through.
        with database.session_scope() as session:
            assert session.get(models.Book, ids["book"]).title == "Renamed"
        return
    # SQLite with one snapshot per request: the deletion went first, and SQLite refused the save's write.
    assert response.headers["Location"] == BOOKS
    assert "was deleted by someone else meanwhile; nothing was saved" in client.get(BOOKS).text
    assert audit_entries(database) == []


def test_duplicate_written_in_the_same_transaction_is_shown_on_the_field(admin_client, books, db_session, models):
    """The refusal SQLite reports too, whose message names the column differently from PostgreSQL's."""

    def insert_duplicate(session: Session) -> None:
        if any(isinstance(obj, models.Author) for obj in session.new):
            session.connection().execute(sa.insert(models.Author.__table__).values(name="Twin"))

    with before_flush(insert_duplicate):
        response = admin_client.post(AUTHORS + "new", data={"name": "Twin"})
    assert response.status_code == 200, response.text
    assert "Another author already has this value" in field_errors(response.text, "name")
    assert db_session.scalar(sa.select(sa.func.count()).where(models.Author.name == "Twin")) == 0  # rolled back
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


@pytest.mark.parametrize("edit", [False, True], ids=["create", "edit"])
def test_check_constraint_refusal_is_shown_on_its_field(admin_client, books, db_session, models, edit):
    book = books[0]
    data = {"title": "Negative", "pages": "-1", "status": "draft", "author_id": str(book.author_id)}
    response = admin_client.post(f"{BOOKS}{book.id}/edit" if edit else BOOKS + "new", data=data)
    assert response.status_code == 200, response.text
    errors = field_errors(response.text, "pages")
    assert "The database does not allow this value (ck_library_book_pages_not_negative)" in errors
    assert 'aria-invalid="true"' in errors
    db_session.expire_all()
    assert db_session.scalar(sa.select(sa.func.count()).where(models.Book.title == "Negative")) == 0
    assert db_session.get(models.Book, book.id).pages == book.pages
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def deleting_the_book_before_the_flush(database, models, ids, deleted: list[bool]):
    """A ``before_flush`` callback: another connection deletes the book once the admin's session changes it,
    unless the admin holds it; ``deleted`` gets whether it did."""

    def delete_book(session: Session) -> None:
        if not deleted and any(isinstance(obj, models.Book) for obj in session.dirty):
            deleted.append(write_unless_locked(database, models.Book.__table__, models.Book.id == ids["book"]))

    return delete_book


def test_a_bulk_action_on_a_row_deleted_before_its_flush(app, client, committed, models, lone_reads):
    database, ids = committed
    deleted: list[bool] = []
    with before_flush(deleting_the_book_before_the_flush(database, models, ids, deleted)):
        response = client.post(BOOKS + "action", data={"action": "publish", "ids": str(ids["book"])})
    if writes_on_a_stale_snapshot(database, lone_reads):
        assert deleted == [True]
        assert response.status_code == 503  # SQLite's lock: erlen-db's answer, as for any other write
        return
    # Before: the deletion went through between the action's read and its UPDATE (which was a 500 before that).
    # Now the action holds its rows (FOR UPDATE; SQLite's write lock), and the deletion waits for its commit.
    assert deleted == [False]
    assert response.status_code == 302, response.text
    assert "Published 1." in client.get(response.headers["Location"]).text
    assert [entry.action for entry in audit_entries(database)] == ["bulk:publish"]


@pytest.mark.parametrize("erlen_plugins", [[*PLUGINS, "admin_sample.object_extras"]])
def test_an_object_action_on_a_row_deleted_before_its_flush(app, client, committed, models, lone_reads):
    database, ids = committed
    deleted: list[bool] = []
    with before_flush(deleting_the_book_before_the_flush(database, models, ids, deleted)):
        response = client.post(f"/admin/m/shelf/{ids['book']}/do/feature")
    if writes_on_a_stale_snapshot(database, lone_reads):
        assert deleted == [True]
        assert response.status_code == 503
        return
    # Before: the deletion went through between the action's read and its UPDATE (which was a 500 before that).
    # Now the action holds the row, and the deletion waits for its commit.
    assert deleted == [False]
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/admin/m/shelf/{ids['book']}/"
    with database.session_scope() as session:
        assert session.get(models.Book, ids["book"]).featured is True
    assert [entry.action for entry in audit_entries(database)] == ["action:feature"]


def test_deleting_a_row_deleted_meanwhile(app, client, committed, models, monkeypatch, lone_reads):
    from erlen_admin import audit

    database, ids = committed
    record = audit.record
    deleted: list[bool] = []

    def deleted_by_another_first(session, view, action, obj, changes, **kwargs):
        deleted.append(write_unless_locked(database, models.Book.__table__, models.Book.id == ids["book"]))
        return record(session, view, action, obj, changes, **kwargs)

    monkeypatch.setattr(audit, "record", deleted_by_another_first)
    # Before: SQLAlchemy warned that the DELETE matched no row (an error under the tests' warnings), the page
    # said "deleted" and the audit log said this user deleted it. Then the row was checked again, locked, before
    # the DELETE. Now it is held from its first read: the other deletion waits for this one.
    response = client.post(f"{BOOKS}{ids['book']}/delete")
    if writes_on_a_stale_snapshot(database, lone_reads):
        assert deleted == [True]
        assert response.status_code == 503  # SQLite's lock: erlen-db's answer, as for any other write
        assert audit_entries(database) == []
        return
    assert response.status_code == 302, response.text
    assert deleted == [False]
    assert "Notes” deleted." in client.get(BOOKS).text
    assert [entry.action for entry in audit_entries(database)] == ["delete"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_change_comes_between_the_stale_edit_check_and_the_save(app, client, committed, models, lone_reads):
    """Before: the row was read without a lock, so another user's save committed after the stale-edit check and
    before this save's commit was overwritten unseen. Now it waits for this save (NOWAIT here: it is refused)."""
    import re

    database, ids = committed
    edit = f"{BOOKS}{ids['book']}/edit"
    (loaded,) = re.findall(r'name="admin_loaded" value="([0-9a-f]+)"', client.get(edit).text)
    other_save: list[str] = []

    def another_users_save(session: Session) -> None:
        if other_save or not any(isinstance(obj, models.Book) for obj in session.dirty):
            return
        row = models.Book.id == ids["book"]
        with database.engine.connect() as other:
            try:
                other.execute(sa.select(models.Book.id).where(row).with_for_update(nowait=True))
            except sa.exc.OperationalError:  # the row is locked: a real save would wait for this one
                other_save.append("waits")
                return
            other.execute(sa.update(models.Book).where(row).values(title="Their title"))
            other.commit()
            other_save.append("saved")

    with before_flush(another_users_save):
        response = client.post(edit, data={**book_form(ids, title="My title"), "admin_loaded": loaded})
    assert response.status_code == 302, response.text
    assert other_save == ["waits"]
    with database.session_scope() as session:
        assert session.get(models.Book, ids["book"]).title == "My title"

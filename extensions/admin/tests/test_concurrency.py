"""Two users at once: what a save, a bulk action or a deletion read is held until it commits.

Each test commits for real (no test transaction) and makes the other user's change from a connection of its
own: just before the admin's flush (a ``before_flush`` listener, never waiting for the admin's locks), or, on
PostgreSQL, from a transaction that holds a row while the admin's request runs in a thread and waits for it.
"""

from __future__ import annotations

import re
import threading
import typing as t

import pytest
import sqlalchemy as sa
import test_refused_saves as saves
from conftest import write_unless_locked
from sqlalchemy.orm import Session

from erlen_admin import edit_guard

# The fixtures of the saves refused meanwhile: rows committed for real, and both of SQLite's ways to begin.
committed = saves.committed
erlen_config = saves.erlen_config
lone_reads = saves.lone_reads
BOOKS = saves.BOOKS
audit_entries, before_flush, book_form = saves.audit_entries, saves.before_flush, saves.book_form
writes_on_a_stale_snapshot = saves.writes_on_a_stale_snapshot

#: How long the PostgreSQL test waits, at most, for the admin's request to reach a lock before failing.
LOCK_WAIT_SECONDS = 60


def add_books(database, models, author_id: int, count: int) -> list[int]:
    """``count`` more books, committed; their ids."""
    with database.session_scope() as session:
        books = [models.Book(title=f"Extra {index}", pages=1, author_id=author_id) for index in range(count)]
        session.add_all(books)
        session.flush()
        return [book.id for book in books]


def remaining(database, models, ids: t.Iterable[int]) -> list[int]:
    with database.session_scope() as session:
        return list(session.scalars(sa.select(models.Book.id).where(models.Book.id.in_(list(ids))).order_by("id")))


def test_bulk_delete_holds_its_rows_until_it_commits(app, client, committed, models, lone_reads):
    database, ids = committed
    selected = [ids["book"], *add_books(database, models, ids["ada"], 2)]
    deleted: list[bool] = []

    def another_user_deletes_the_second(session: Session) -> None:
        if not deleted and any(isinstance(obj, models.Book) for obj in session.deleted):
            deleted.append(write_unless_locked(database, models.Book.__table__, models.Book.id == selected[1]))

    with before_flush(another_user_deletes_the_second):
        response = client.post(
            BOOKS + "action", data={"action": "delete", "ids": [str(i) for i in selected], "confirmed": "1"}
        )
    if writes_on_a_stale_snapshot(database, lone_reads):
        # One snapshot per request on SQLite: the other deletion went first, and SQLite refused this one's write.
        assert deleted == [True]
        assert response.status_code == 503
        assert remaining(database, models, selected) == [selected[0], selected[2]]
        assert audit_entries(database) == []
        return
    # Before: the rows were read without a lock, the other user's deletion went through before this DELETE, and
    # this user was reported ("Deleted 3 books.") and audited as the deleter of all three.
    assert deleted == [False]  # it waits for this action's commit
    assert response.status_code == 302, response.text
    page = client.get(response.headers["Location"]).text
    assert "Deleted 3 books." in page, page[page.find("flashes") :][:600]
    assert remaining(database, models, selected) == []
    assert sorted(int(entry.object_id) for entry in audit_entries(database)) == selected


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_bulk_delete_of_a_row_another_session_deletes_meanwhile(app, client, committed, models, lone_reads):
    """The other session deletes a selected row and holds it uncommitted while the bulk delete runs; the bulk
    delete waits for it (its lock), and once the other commits, reports and audits only what it deleted."""
    database, ids = committed
    selected = [ids["book"], *add_books(database, models, ids["ada"], 2)]
    outcome: list[t.Any] = []

    def bulk_delete() -> None:
        try:
            outcome.append(
                client.post(
                    BOOKS + "action",
                    data={"action": "delete", "ids": [str(i) for i in selected], "confirmed": "1"},
                )
            )
        except BaseException as exc:  # the old code's SQLAlchemy warning (an error here) or any other failure
            outcome.append(exc)

    with database.engine.connect() as other, database.engine.connect() as watcher:
        other.execute(sa.delete(models.Book.__table__).where(models.Book.id == selected[1]))
        other_pid = other.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        worker = threading.Thread(target=bulk_delete)
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
            other.commit()  # the other user's deletion
            worker.join()
    (response,) = outcome
    assert not isinstance(response, BaseException), repr(response)
    assert response.status_code == 302, response.text
    page = client.get(response.headers["Location"]).text
    assert "1 of the selected books no longer exist (deleted meanwhile) and are left out." in page
    assert "Deleted 2 books." in page
    assert remaining(database, models, selected) == []
    assert sorted(int(entry.object_id) for entry in audit_entries(database)) == [selected[0], selected[2]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_saves_of_one_row_on_sqlite(app, client, committed, models, lone_reads):
    """Another user's save committed between this save's stale-edit check and its write, on an SQLite file."""
    database, ids = committed
    edit = f"{BOOKS}{ids['book']}/edit"
    (loaded,) = re.findall(r'name="admin_loaded" value="([0-9a-f]+)"', client.get(edit).text)
    saved: list[bool] = []

    def another_users_save(session: Session) -> None:
        if not saved and any(isinstance(obj, models.Book) for obj in session.dirty):
            row = models.Book.id == ids["book"]
            saved.append(write_unless_locked(database, models.Book.__table__, row, {"title": "Their title"}))

    mine = {**book_form(ids, title="My title"), "admin_loaded": loaded}
    with before_flush(another_users_save):
        response = client.post(edit, data=mine)
    if not lone_reads:
        # One snapshot per request: SQLite refuses this save's write, the other's being newer than the snapshot.
        # Before, the form said only that the database was busy; now what the stale-edit check says.
        assert saved == [True]
        assert response.status_code == 200, response.text
        assert edit_guard.CHANGED_MEANWHILE.format(name="book") in response.text.replace("&#39;", "'")
        assert 'value="My title"' in response.text  # what was typed is kept
        with database.session_scope() as session:
            assert session.get(models.Book, ids["book"]).title == "Their title"
        assert audit_entries(database) == []
        # Saving again, knowingly, overwrites theirs.
        (again,) = re.findall(r'name="admin_loaded" value="([0-9a-f]+)"', response.text)
        assert client.post(edit, data={**mine, "admin_loaded": again}).status_code == 302
        with database.session_scope() as session:
            assert session.get(models.Book, ids["book"]).title == "My title"
        return
    # Lone reads (the default): before, the check read outside any transaction and the other save, committed
    # after it, was overwritten unseen. Now the save holds SQLite's write lock from its check: the other waits.
    assert saved == [False]
    assert response.status_code == 302, response.text
    with database.session_scope() as session:
        assert session.get(models.Book, ids["book"]).title == "My title"
    (entry,) = audit_entries(database)
    assert entry.changes == {"title": ["Notes", "My title"]}


def test_a_deletion_holds_its_row_so_its_audit_entry_has_what_was_deleted(app, client, committed, models, lone_reads):
    from erlen_admin.models import AuditEntry

    database, ids = committed
    saved: list[bool] = []

    def another_users_save(session: Session) -> None:
        if not saved and any(isinstance(obj, AuditEntry) for obj in session.new):
            row = models.Book.id == ids["book"]
            saved.append(write_unless_locked(database, models.Book.__table__, row, {"title": "Their title"}))

    with before_flush(another_users_save):
        response = client.post(f"{BOOKS}{ids['book']}/delete")
    if writes_on_a_stale_snapshot(database, lone_reads):
        assert saved == [True]
        assert response.status_code == 503  # SQLite's lock: erlen-db's answer, as for any other write
        assert audit_entries(database) == []
        return
    # Before: the row was read without a lock, another user's save went through before the DELETE, and the audit
    # entry recorded the values this user had seen ("Notes"), not those of the row deleted ("Their title").
    assert saved == [False]  # it waits for the deletion's commit
    assert response.status_code == 302, response.text
    (entry,) = audit_entries(database)
    assert entry.action == "delete" and entry.changes["title"] == "Notes"
    assert remaining(database, models, [ids["book"]]) == []

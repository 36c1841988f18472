"""The CSV export shows what the list shows: foreign keys as labels, the audit log with its changes."""

from __future__ import annotations

import csv
import io
import typing as t

import pytest
import sqlalchemy as sa
import test_refused_saves as saves
from conftest import PLUGINS

from erlen_auth.testing import FAST_HASHING, login_as, make_user

BOOKS = "/admin/m/library_book/"

# Rows committed for real (no test transaction), so that another connection can change them during an export.
committed = saves.committed


@pytest.fixture
def db_settings() -> dict[str, t.Any]:
    """erlen-db settings of the app under test, besides its URL; a test parametrizes it."""
    return {}


@pytest.fixture
def erlen_config(database_url: str, db_settings: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING, **db_settings}


def read(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_foreign_keys_are_exported_as_their_labels(admin_client, books, models, db_session, count_queries):
    ada = db_session.scalar(sa.select(models.Author).where(models.Author.name == "Ada"))
    grace = db_session.scalar(sa.select(models.Author).where(models.Author.name == "Grace"))
    rows = read(admin_client.get(BOOKS + "export.csv?sort=title"))
    assert rows[0][-1] == "Author"
    assert rows[1][1] == "Book 01" and rows[1][-1] == f"Ada (#{ada.id})"
    assert rows[2][1] == "Book 02" and rows[2][-1] == f"Grace (#{grace.id})"
    assert rows[1][3] == "Draft"  # an enum as the list shows it


def test_labels_cost_one_query_per_column_and_batch(app, admin_client, books, monkeypatch, count_queries):
    from erlen_admin import export

    real = export.rows
    monkeypatch.setattr(export, "rows", lambda *args, **kwargs: real(*args, **{**kwargs, "batch": 10}))
    with count_queries() as counter:
        rows = read(admin_client.get(BOOKS + "export.csv"))
    assert len(rows) == 46
    label_queries = [s for s in counter.statements if "from library_author" in s.lower()]
    assert len(label_queries) == 5  # 45 books in batches of 10


def test_the_audit_export_has_the_changes(admin_client, books, db_session):
    book = books[0]
    admin_client.post(
        f"{BOOKS}{book.id}/edit",
        data={"title": "Renamed", "pages": str(book.pages), "status": "draft", "author_id": str(book.author_id)},
    )
    admin_client.post(f"{BOOKS}{books[1].id}/delete")
    rows = read(admin_client.get("/admin/m/audit/export.csv"))
    header = rows[0]
    assert header[-1] == "Changes" and "When" in header and "Object" in header
    by_action = {row[header.index("Action")]: row for row in rows[1:]}
    assert by_action["edit"][-1] == "title: Book 01 → Renamed"
    deleted = by_action["delete"][-1]
    assert f"id: {books[1].id} → —" in deleted and "title: Book 02 → —" in deleted


def test_negative_numbers_stay_numbers_and_formulas_are_defused(admin_client, db_session, models):
    from erlen_admin.export import cell

    assert [cell(text) for text in ("-3", "-0.25", "+7", "-3-3", "-3 ")] == ["-3", "-0.25", "+7", "'-3-3", "'-3 "]
    author = models.Author(name="-2+3+cmd|' /C calc'!A0")
    db_session.add(author)
    db_session.flush()
    titles = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "-12", "+3.5", "-1.5e-3", "- 1", "-", "-1,5"]
    db_session.add_all(models.Book(title=title, author_id=author.id) for title in titles)
    db_session.commit()
    rows = read(admin_client.get(BOOKS + "export.csv?sort=title"))
    by_title = {row[1].lstrip("'"): row for row in rows[1:]}
    # Before: a negative number (a balance, a temperature) was exported as text ('-12), which a spreadsheet
    # cannot add up; a formula is still defused.
    assert {title: by_title[title][1] for title in titles} == {
        "=1+1": "'=1+1",
        "+1+1": "'+1+1",
        "-1+1": "'-1+1",
        "@SUM(A1)": "'@SUM(A1)",
        "\t=1": "'\t=1",
        "\r=1": "'\r=1",
        "-12": "-12",
        "+3.5": "+3.5",
        "-1.5e-3": "-1.5e-3",
        "- 1": "'- 1",
        "-": "'-",
        "-1,5": "'-1,5",
    }
    assert by_title["=1+1"][-1] == f"'-2+3+cmd|' /C calc'!A0 (#{author.id})"


def test_an_export_with_a_filter_it_cannot_apply_exports_nothing(admin_client, books):
    # Before: the bad or unknown filter was dropped and the whole table exported.
    for query, message in [
        ("f_pages=10", "the filter &#39;f_pages&#39; (this list has no such filter)"),
        ("f_author_id=abc", "the filter &#39;Author&#39; (&#39;abc&#39; is not a valid value)"),
        ("f_status=nope", "the filter &#39;Status&#39; (&#39;nope&#39; is not a valid value)"),
        ("sort=notes", "the sort &#39;notes&#39; (that column cannot be sorted)"),
    ]:
        response = admin_client.get(f"{BOOKS}export.csv?{query}")
        assert response.status_code == 400, query
        assert f"Nothing was exported: this export cannot apply {message}." in response.text, response.text
        # Not the list page's words, which say what it does instead (and the export did nothing).
        assert "ignored" not in response.text and "the default order is used" not in response.text
    assert len(read(admin_client.get(f"{BOOKS}export.csv?f_status=draft&per_page=50"))) == 46


def test_an_unknown_filter_on_the_list_page_is_ignored_with_a_message(admin_client, books):
    page = admin_client.get(f"{BOOKS}?f_pages=10&f_author_idx=1")
    assert page.status_code == 200
    assert "This list has no filter &#39;f_pages&#39;; it was ignored." in page.text
    assert "This list has no filter &#39;f_author_idx&#39;; it was ignored." in page.text


def commit_elsewhere(database: t.Any, *statements: t.Any) -> None:
    """Another user's writes: ``statements`` run and committed on a connection of its own.

    It never waits for a lock (the test's one thread is also the export's reader): ``lock_timeout`` 1 ms on
    PostgreSQL (0 would wait without end), ``busy_timeout`` 0 on SQLite, so an export holding a lock makes this
    fail at once.
    """
    with database.engine.connect() as other:
        if other.dialect.name == "sqlite":
            t.cast(t.Any, other.connection.dbapi_connection).execute("PRAGMA busy_timeout=0")
        else:
            other.exec_driver_sql("SET lock_timeout = 1")
        for statement in statements:
            other.execute(statement)
        other.commit()


@pytest.mark.parametrize(
    "db_settings",
    [{}, {"DB_LONE_READS": False}, {"DB_LONE_READS": False, "DB_SQLITE_BEGIN": "immediate"}],
    ids=["lone-reads", "no-lone-reads", "no-lone-reads-begin-immediate"],
)
def test_the_export_reads_one_snapshot_while_others_write(app, client, committed, models, monkeypatch):
    """Rows another user inserts, deletes, renames and relabels between the export's batches: the file is the
    table as it was when the export began, each row once."""
    from erlen_admin import export

    database, ids = committed
    with database.session_scope() as session:
        session.add_all(
            models.Book(title=f"Book {index:02d}", pages=index, author_id=ids["ada"]) for index in range(12)
        )
    with database.engine.connect() as connection:
        book_id = {title: ident for ident, title in connection.execute(sa.select(models.Book.id, models.Book.title))}
    before = [f"Book {index:02d}" for index in range(12)] + ["Notes"]
    real = export.rows
    monkeypatch.setattr(export, "rows", lambda *args, **kwargs: real(*args, **{**kwargs, "batch": 4}))
    response = client.get(BOOKS + "export.csv?sort=title", buffered=False)
    try:  # closed whatever happens: an export left open would hold its connection (and transaction)
        assert response.status_code == 200
        chunks = iter(response.response)
        header = next(chunks)
        first = next(chunks)
        # Streamed: the first batch is sent before the next one is read.
        assert [row[1] for row in csv.reader(io.StringIO(first.decode()))] == before[:4]
        Book, Author = models.Book.__table__, models.Author.__table__
        commit_elsewhere(
            database,
            sa.update(Book).where(Book.c.id == book_id["Book 01"]).values(title="Book 99"),  # read: would come again
            sa.update(Book).where(Book.c.id == book_id["Book 10"]).values(title="Book 00a"),  # unread: missed
            sa.delete(Book).where(Book.c.id == book_id["Book 08"]),  # unread: would be missed
            sa.insert(Book).values(title="Book 05a", pages=1, author_id=ids["ada"]),  # new: would be added
            sa.update(Author).where(Author.c.id == ids["ada"]).values(name="Ada L."),  # the later batches' labels
        )
        rest = b"".join(chunks)
    finally:
        response.close()
    rows = list(csv.reader(io.StringIO((header + first + rest).decode())))
    # Before: each batch was read on its own, seeing the other user's commits: "Book 99" came twice, "Book 00a"
    # and "Book 08" were missing, "Book 05a" appeared, and the later batches named the author "Ada L.".
    assert [row[1] for row in rows[1:]] == before
    assert {row[-1] for row in rows[1:]} == {f"Ada (#{ids['ada']})"}
    # The other user's writes were committed meanwhile (nothing waited for the export), and the next export
    # sees them.
    after = [row[1] for row in csv.reader(io.StringIO(client.get(BOOKS + "export.csv?sort=title").text))][1:]
    assert after == sorted({*before, "Book 99", "Book 00a", "Book 05a"} - {"Book 01", "Book 10", "Book 08"})


@pytest.mark.parametrize("erlen_plugins", [[*PLUGINS, "admin_sample.scoped"]])
def test_a_scoped_export_in_its_snapshot_holds_the_scope_in_every_batch(app, client, monkeypatch):
    """The export rolls the request's transaction back before its snapshot, which expires the logged-in user the
    scope reads: the user is read again, in the snapshot, and every batch holds the user's rows only."""
    from admin_sample.scoped import Note, Team

    from erlen_admin import export
    from erlen_auth import Role, grant
    from erlen_db import database_of
    from erlen_forms.testing import csrf_token_for

    database = database_of(app)
    database.create_all()
    with database.session_scope() as session:
        red, blue = Team(name="red"), Team(name="blue")
        session.add_all([red, blue])
        session.flush()
        session.add_all(Note(title=f"Red {index}", team_id=red.id) for index in range(5))
        session.add_all(Note(title=f"Blue {index}", team_id=blue.id) for index in range(5))
    user = make_user(app, "red-editor@example.com", roles=["editor"])
    with database.session_scope() as session:
        role = session.scalar(sa.select(Role).where(Role.name == "editor"))
        grant(role, "admin.access", "admin.scoped_note.view", app=app)
    login_as(client, user)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    real = export.rows
    monkeypatch.setattr(export, "rows", lambda *args, **kwargs: real(*args, **{**kwargs, "batch": 2}))
    try:
        response = client.get("/admin/m/scoped_note/export.csv?sort=title")
        assert response.status_code == 200, response.text
        assert [row[1] for row in csv.reader(io.StringIO(response.text))][1:] == [f"Red {index}" for index in range(5)]
    finally:
        database.dispose()

"""Create, edit, detail, delete with confirmation, bulk actions and CSV export, each recorded in the audit log."""

from __future__ import annotations

import csv
import io
import logging
import re

import pytest
import sqlalchemy as sa
from conftest import PLUGINS

from erlen_admin.models import AuditEntry

BOOKS = "/admin/m/library_book/"


def entries(db_session, **where):
    statement = sa.select(AuditEntry).order_by(AuditEntry.id)
    for key, value in where.items():
        statement = statement.where(getattr(AuditEntry, key) == value)
    return list(db_session.scalars(statement))


def test_create_with_a_form_from_the_model(admin_client, books, db_session, models, superuser):
    form = admin_client.get(BOOKS + "new").text
    assert 'name="title"' in form and 'name="author_id"' in form and "<select" in form
    author_id = books[0].author_id
    response = admin_client.post(
        BOOKS + "new", data={"title": "New book", "pages": "123", "status": "published", "author_id": str(author_id)}
    )
    assert response.status_code == 302, response.text
    book = db_session.scalar(sa.select(models.Book).where(models.Book.title == "New book"))
    assert book is not None and book.pages == 123 and book.status is models.Status.published
    assert response.headers["Location"].endswith(f"{BOOKS}{book.id}/")
    detail = admin_client.get(response.headers["Location"]).text
    assert "created." in detail  # flash message
    (entry,) = entries(db_session, action="create")
    assert entry.user_id == superuser.id and entry.user_email == "root@example.com"
    assert entry.model == "library_book" and entry.object_id == str(book.id) and entry.object_repr == "New book"
    assert entry.changes["title"] == [None, "New book"] and entry.changes["pages"] == [None, 123]
    assert entry.created_at is not None


def test_form_errors_are_inline(admin_client, books, db_session, models):
    response = admin_client.post(BOOKS + "new", data={"title": "", "pages": "many", "author_id": "999999"})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.text
    assert "Not a valid choice" in response.text
    assert entries(db_session) == []


def test_edit_records_what_changed(admin_client, books, db_session, models):
    book = books[0]
    form = admin_client.get(f"{BOOKS}{book.id}/edit").text
    assert 'value="Book 01"' in form
    response = admin_client.post(
        f"{BOOKS}{book.id}/edit",
        data={"title": "Renamed", "pages": str(book.pages), "status": "draft", "author_id": str(book.author_id)},
    )
    assert response.status_code == 302, response.text
    db_session.expire_all()
    assert db_session.get(models.Book, book.id).title == "Renamed"
    (entry,) = entries(db_session, action="edit")
    assert entry.changes == {"title": ["Book 01", "Renamed"]}
    history = admin_client.get(f"/admin/m/audit/?f_model=library_book&f_object_id={book.id}").text
    assert "Renamed" in history and "edit" in history


def test_detail_shows_columns_and_foreign_key_link(admin_client, books, db_session, models):
    book = books[0]
    html = admin_client.get(f"{BOOKS}{book.id}/").text
    assert "Book 01" in html
    assert f'href="/admin/m/library_author/{book.author_id}/"' in html
    assert "History" in html


def test_delete_needs_a_confirmation_step(admin_client, books, db_session, models):
    ident = books[0].id
    page = admin_client.get(f"{BOOKS}{ident}/delete")
    assert page.status_code == 200 and "Yes, delete" in page.text
    assert db_session.get(models.Book, ident) is not None  # GET changes nothing
    response = admin_client.post(f"{BOOKS}{ident}/delete")
    assert response.status_code == 302
    db_session.expunge_all()
    assert db_session.get(models.Book, ident) is None
    (entry,) = entries(db_session, action="delete")
    assert entry.object_id == str(ident) and entry.changes["title"] == "Book 01"


def test_delete_refused_by_references_is_an_error_message(admin_client, books, db_session, models):
    author_id = books[0].author_id
    response = admin_client.post(f"/admin/m/library_author/{author_id}/delete", follow_redirects=True)
    assert response.status_code == 200
    assert "cannot be deleted" in response.text
    assert db_session.get(models.Author, author_id) is not None
    assert entries(db_session) == []


def test_bulk_delete_confirms_then_deletes_and_records_each(admin_client, books, db_session, models):
    ids = [str(book.id) for book in books[:3]]
    confirm = admin_client.post(BOOKS + "action", data={"action": "delete", "ids": ids})
    assert confirm.status_code == 200 and "Yes, delete selected" in confirm.text
    assert db_session.scalar(sa.select(sa.func.count()).select_from(models.Book)) == 45
    done = admin_client.post(BOOKS + "action", data={"action": "delete", "ids": ids, "confirmed": "1"})
    assert done.status_code == 302
    assert db_session.scalar(sa.select(sa.func.count()).select_from(models.Book)) == 42
    recorded = entries(db_session, action="bulk:delete")
    assert sorted(entry.object_id for entry in recorded) == sorted(ids)
    assert admin_client.get(done.headers["Location"]).status_code == 200


def test_bulk_delete_refused_by_references_changes_nothing(admin_client, books, db_session, models):
    referenced = books[0].author_id
    unreferenced = models.Author(name="Nobody")
    db_session.add(unreferenced)
    db_session.commit()
    ids = [str(referenced), str(unreferenced.id)]
    response = admin_client.post(
        "/admin/m/library_author/action", data={"action": "delete", "ids": ids, "confirmed": "1"}
    )
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"]).text
    assert "Delete selected failed" in page and "Nothing was changed" in page
    db_session.expire_all()
    assert db_session.get(models.Author, referenced) is not None
    assert db_session.get(models.Author, unreferenced.id) is not None  # all or nothing
    assert entries(db_session) == []


def test_plugin_actions(admin_client, books, db_session, models):
    ids = [str(book.id) for book in books[:2]]
    # The sample plugin's own action, without confirmation.
    response = admin_client.post(BOOKS + "action", data={"action": "publish", "ids": ids}, follow_redirects=True)
    assert "Published 2." in response.text
    db_session.expire_all()
    assert {db_session.get(models.Book, int(i)).status for i in ids} == {models.Status.published}
    recorded = entries(db_session, action="bulk:publish")
    assert [entry.changes for entry in recorded] == [{"status": ["draft", "published"]}] * 2
    # An action another plugin added through erlen_admin_actions, with confirmation.
    assert "Yes, feature" in admin_client.post(BOOKS + "action", data={"action": "feature", "ids": ids}).text
    admin_client.post(BOOKS + "action", data={"action": "feature", "ids": ids, "confirmed": "1"})
    assert [entry.changes for entry in entries(db_session, action="bulk:feature")] == [{"featured": [False, True]}] * 2


def test_bulk_action_validation(admin_client, books, db_session, models):
    assert admin_client.post(BOOKS + "action", data={"action": "nope", "ids": "1"}).status_code == 302
    assert admin_client.post(BOOKS + "action", data={"action": "delete"}).status_code == 302
    for bad in ["1 OR 1=1", str(2**63), "\x00"]:
        response = admin_client.post(BOOKS + "action", data={"action": "delete", "ids": [str(books[0].id), bad]})
        assert response.status_code == 302 and response.headers["Location"] == BOOKS
        assert "The selection is not valid" in admin_client.get(BOOKS).text
    assert db_session.scalar(sa.select(sa.func.count()).select_from(models.Book)) == 45
    evil_next = admin_client.post(
        BOOKS + "action", data={"action": "nope", "ids": "1", "next": "https://evil.example/admin/m/library_book/"}
    )
    assert evil_next.headers["Location"] == BOOKS


@pytest.mark.parametrize("erlen_plugins", [[*PLUGINS, "admin_sample.buggy_actions"]])
def test_a_plugin_action_that_raises_changes_nothing_and_names_the_plugin(
    admin_client, books, db_session, models, caplog
):
    ids = [str(book.id) for book in books[:2]]
    with caplog.at_level(logging.ERROR):
        response = admin_client.post(BOOKS + "action", data={"action": "retitle", "ids": ids})
    assert response.status_code == 302 and response.headers["Location"] == BOOKS
    page = admin_client.get(BOOKS).text
    assert "Retitle failed because of an error in the &#39;buggy&#39; plugin. Nothing was changed" in page
    (record,) = [record for record in caplog.records if "bulk action" in record.getMessage()]
    assert "'retitle' of plugin 'buggy' failed on 2 library_book" in record.getMessage()
    assert record.exc_info is not None and "the buggy plugin's own bug" in str(record.exc_info[1])  # traceback kept
    db_session.expire_all()
    assert [db_session.get(models.Book, int(i)).title for i in ids] == ["Book 01", "Book 02"]
    assert entries(db_session) == []


def test_every_mutation_needs_csrf(app, client, superuser, books, db_session, models):
    from erlen_auth.testing import login_as

    login_as(client, superuser)
    book = books[0]
    for path, data in [
        (BOOKS + "new", {"title": "x", "pages": "1", "status": "draft", "author_id": str(book.author_id)}),
        (f"{BOOKS}{book.id}/edit", {"title": "x", "pages": "1", "status": "draft", "author_id": str(book.author_id)}),
        (f"{BOOKS}{book.id}/delete", {}),
        (BOOKS + "action", {"action": "delete", "ids": str(book.id), "confirmed": "1"}),
    ]:
        assert client.post(path, data=data).status_code == 400, path
    assert db_session.scalar(sa.select(sa.func.count()).select_from(models.Book)) == 45
    assert entries(db_session) == []
    from erlen_forms.testing import assert_csrf_protected

    assert_csrf_protected(app)


def test_xss_payloads_in_data_render_as_text(admin_client, db_session, models):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    author = models.Author(name=payload)
    db_session.add(author)
    db_session.flush()
    book = models.Book(title=payload, notes=payload, author_id=author.id)
    db_session.add(book)
    db_session.commit()
    for path in (
        BOOKS,
        f"{BOOKS}{book.id}/",
        f"{BOOKS}{book.id}/edit",
        f"{BOOKS}{book.id}/delete",
        "/admin/m/library_author/",
    ):
        html = admin_client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path
    response = admin_client.get(BOOKS)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    confirm = admin_client.post(BOOKS + "action", data={"action": "delete", "ids": str(book.id)}).text
    assert "<script>alert" not in confirm and "&lt;script&gt;" in confirm


def test_csv_export_streams_every_row(admin_client, books):
    response = admin_client.get(BOOKS + "export.csv?sort=title")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Id", "Title", "Pages", "Status", "Author"]
    assert [row[1] for row in rows[1:]] == [f"Book {n:02d}" for n in range(1, 46)]


def test_csv_export_in_batches_with_search(app, admin_client, books, monkeypatch):
    from erlen_admin import export

    monkeypatch.setattr(export, "BATCH_SIZE", 7)
    response = admin_client.get(BOOKS + "export.csv?q=ook 2")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert sorted(row[1] for row in rows[1:]) == [f"Book {n:02d}" for n in range(20, 30)]


def test_csv_export_defuses_formulas(admin_client, db_session, models, books):
    db_session.add(models.Book(title='=HYPERLINK("http://evil")', author_id=books[0].author_id))
    db_session.commit()
    text = admin_client.get(BOOKS + "export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text


def test_custom_page_and_dashboard_groups(admin_client, books):
    dashboard = admin_client.get("/admin/").text
    # Each group is headed by its plugin's name as a word ("Library"), not as an identifier ("library").
    assert dashboard.index(">Admin</h2>") < dashboard.index(">Library</h2>")
    assert ">library</h2>" not in dashboard and 'class="nav-group">Library</h2>' in dashboard
    assert "Statistics" in dashboard and "Audit log" in dashboard
    page = admin_client.get("/admin/p/statistics")
    assert page.status_code == 200 and "Library statistics" in page.text


def test_foreign_key_fields_do_not_load_large_tables(app, admin_client, books, count_queries):
    app.config["FORMS_FK_SELECT_LIMIT"] = 1  # two authors: more than a select lists
    with count_queries() as counter:
        html = admin_client.get(BOOKS + "new").text
    assert 'data-erlen-search="/_forms/fk/library_book/author_id"' in html
    author_queries = [s for s in counter.statements if "from library_author" in s.lower()]
    assert author_queries and all("limit" in s.lower() for s in author_queries)
    # The search endpoint is open to the admin's editors.
    assert "Grace" in admin_client.get("/_forms/fk/library_book/author_id?q=Gra").text


def test_a_selection_beyond_the_bulk_limit_changes_nothing(admin_client, books, db_session, models, monkeypatch):
    from erlen_admin import routes

    monkeypatch.setattr(routes, "MAX_BULK", 5)
    # Before: the first five ids were acted on and the rest dropped without a word.
    ids = [str(book.id) for book in books[:8]]
    response = admin_client.post(BOOKS + "action", data={"action": "publish", "ids": ids}, follow_redirects=True)
    assert "at most 5 rows can be selected at a time, not 8" in response.text
    assert "Nothing was changed" in response.text
    published = sa.select(sa.func.count()).select_from(models.Book).where(models.Book.status == models.Status.published)
    assert db_session.scalar(published) == 0
    assert entries(db_session) == []
    # The same id twice counts once.
    response = admin_client.post(BOOKS + "action", data={"action": "publish", "ids": ids[:5] * 2})
    assert db_session.scalar(published) == 5


def test_a_bulk_action_on_rows_deleted_meanwhile_says_so(admin_client, books, db_session, models):
    gone = [str(book.id) for book in books[:2]]
    kept = str(books[2].id)
    db_session.execute(sa.delete(models.Book).where(models.Book.id.in_([int(i) for i in gone])))
    db_session.commit()
    # All of them gone: no "Published 0." and no confirmation page of nothing.
    for action in ("publish", "delete"):
        response = admin_client.post(BOOKS + "action", data={"action": action, "ids": gone}, follow_redirects=True)
        assert response.status_code == 200
        assert "the selected books no longer exist (deleted meanwhile). Nothing was changed." in response.text
        assert "Published 0." not in response.text and "Yes, delete selected" not in response.text
    # Some of them gone: the others are acted on, and the page says what was left out.
    confirm = admin_client.post(BOOKS + "action", data={"action": "delete", "ids": [*gone, kept]})
    assert "2 of the selected books no longer exist (deleted meanwhile) and are left out." in confirm.text
    assert "Delete selected: 1 book?" in confirm.text
    response = admin_client.post(
        BOOKS + "action", data={"action": "publish", "ids": [*gone, kept]}, follow_redirects=True
    )
    assert "2 of the selected books no longer exist" in response.text and "Published 1." in response.text
    assert entries(db_session) == entries(db_session, action="bulk:publish") and len(entries(db_session)) == 1


def test_a_stale_edit_does_not_overwrite_a_newer_one(admin_client, books, db_session, models):
    book = books[0]
    edit = f"{BOOKS}{book.id}/edit"
    page = admin_client.get(edit).text
    (loaded,) = re.findall(r'name="admin_loaded" value="([0-9a-f]+)"', page)
    # Someone else saves a new title after this form was opened.
    db_session.execute(sa.update(models.Book).where(models.Book.id == book.id).values(title="Their title"))
    db_session.commit()
    mine = {"title": "My title", "pages": "77", "status": "draft", "author_id": str(book.author_id)}
    response = admin_client.post(edit, data={**mine, "admin_loaded": loaded})
    assert response.status_code == 200
    assert "Someone else saved changes to this book after you opened this form, so nothing was saved" in response.text
    assert 'value="My title"' in response.text  # what was typed is kept
    db_session.expire_all()
    assert db_session.get(models.Book, book.id).title == "Their title"
    assert entries(db_session) == []
    # Saving again, having been told, overwrites.
    (again,) = re.findall(r'name="admin_loaded" value="([0-9a-f]+)"', response.text)
    assert again != loaded
    assert admin_client.post(edit, data={**mine, "admin_loaded": again}).status_code == 302
    db_session.expire_all()
    saved = db_session.get(models.Book, book.id)
    assert (saved.title, saved.pages) == ("My title", 77)
    (entry,) = entries(db_session, action="edit")
    assert entry.changes["title"] == ["Their title", "My title"]


def test_a_form_error_keeps_the_values_the_user_saw(admin_client, books, db_session, models):
    book = books[0]
    edit = f"{BOOKS}{book.id}/edit"
    (loaded,) = re.findall(r'name="admin_loaded" value="([0-9a-f]+)"', admin_client.get(edit).text)
    db_session.execute(sa.update(models.Book).where(models.Book.id == book.id).values(pages=5))
    db_session.commit()
    bad = {"title": "", "pages": "77", "status": "draft", "author_id": str(book.author_id), "admin_loaded": loaded}
    response = admin_client.post(edit, data=bad)
    # The form is shown again for its error with the first fingerprint, not one of the row as it is now.
    assert re.findall(r'name="admin_loaded" value="([0-9a-f]+)"', response.text) == [loaded]
    response = admin_client.post(edit, data={**bad, "title": "Fixed"})
    assert "Someone else saved changes" in response.text
    db_session.expire_all()
    assert db_session.get(models.Book, book.id).pages == 5


@pytest.mark.parametrize("forged", ["é", "0" * 5000, "' OR 1=1 --"])
def test_a_forged_fingerprint_is_answered_as_a_change_meanwhile(admin_client, books, db_session, models, forged):
    """Before: a fingerprint with a character beyond ASCII made hmac.compare_digest raise TypeError, a 500."""
    book = books[0]
    mine = {"title": "My title", "pages": "77", "status": "draft", "author_id": str(book.author_id)}
    response = admin_client.post(f"{BOOKS}{book.id}/edit", data={**mine, "admin_loaded": forged})
    assert response.status_code == 200
    assert "Someone else saved changes to this book after you opened this form, so nothing was saved" in response.text
    assert 'value="My title"' in response.text
    db_session.expire_all()
    assert db_session.get(models.Book, book.id).title == "Book 01"
    assert entries(db_session) == []


@pytest.mark.parametrize("erlen_plugins", [[*PLUGINS, "admin_sample.object_extras"]])
def test_posting_to_a_row_deleted_since_its_page_was_opened(admin_client, books, db_session, models):
    """Before: a 404 page after "Save", "Yes, delete" or an action's button, as if the link had been wrong."""
    book = books[0]
    db_session.execute(sa.delete(models.Book).where(models.Book.id == book.id))
    db_session.commit()
    form = {"title": "My title", "pages": "77", "status": "draft", "author_id": str(book.author_id)}
    for path, data, said, back in [
        (f"{BOOKS}{book.id}/edit", form, "nothing was saved", BOOKS),
        (f"{BOOKS}{book.id}/delete", {}, "nothing was deleted", BOOKS),
        (f"/admin/m/shelf/{book.id}/do/feature", {}, "nothing was done", "/admin/m/shelf/"),
    ]:
        response = admin_client.post(path, data=data)
        assert response.status_code == 302, path
        assert response.headers["Location"] == back
        assert f"Book {book.id} was deleted by someone else meanwhile; {said}." in admin_client.get(back).text
    # A key that was never one is still a 404.
    assert admin_client.post(f"{BOOKS}not-a-key/delete").status_code == 404
    assert entries(db_session) == []


def test_an_objects_pages_are_titled_by_its_name(admin_client, db_session):
    """Found walking the admin as a staff user: a role's tabs read "Role 1" and "Edit role" where the page's
    heading named it."""
    from erlen_auth import Role

    role = Role(name="Editors")
    db_session.add(role)
    db_session.commit()
    pages = {
        f"/admin/m/roles/{role.id}/": "<title>Role “Editors” ·",
        f"/admin/m/roles/{role.id}/edit": "<title>Edit Editors ·",
        f"/admin/m/roles/{role.id}/delete": "<title>Delete Editors ·",
    }
    for url, title in pages.items():
        html = admin_client.get(url).text
        assert title in html, (url, html[: html.find("</title>") + 8])

"""The admin's extension points for plugins' own views: object actions, panels, query filters, borrowed
permissions and a create form of a view's own."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa
from conftest import PLUGINS

from erlen_admin.audit import heading_of
from erlen_admin.models import AuditEntry
from erlen_auth.testing import login_as
from erlen_forms.testing import csrf_token_for

SHELF = "/admin/m/shelf/"


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.object_extras"]


def audit(db_session):
    return list(db_session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


def test_panels_and_buttons_on_the_detail_page(admin_client, books):
    book = books[0]
    html = admin_client.get(f"{SHELF}{book.id}/").text
    assert "<h2" in html and "Loud title" in html and f"BOOK 01 (shelf {book.id})" in html
    assert f"/admin/m/shelf/{book.id}/do/feature" in html and f"/admin/m/shelf/{book.id}/do/crash" in html
    assert "/do/rename" in html  # posted by the panel's form, no button of its own
    assert html.count('<button type="submit"') == html.count("<button")  # every button posts


def test_an_object_action_changes_one_object_and_is_audited(admin_client, books, db_session, superuser):
    book = books[0]
    response = admin_client.post(f"{SHELF}{book.id}/do/rename", data={"title": "New name", "reason": "typo"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{SHELF}{book.id}/")
    assert "Renamed to New name." in admin_client.get(response.headers["Location"]).text
    db_session.expire_all()
    assert db_session.get(type(book), book.id).title == "New name"
    (entry,) = audit(db_session)
    assert entry.action == "action:rename" and entry.model == "shelf" and entry.object_id == str(book.id)
    assert entry.changes == {"title": ["Book 01", "New name"], "reason": [None, "typo"]}
    assert entry.user_id == superuser.id


def test_a_refused_or_crashing_object_action_changes_nothing(admin_client, books, db_session, caplog):
    book = books[0]
    refused = admin_client.post(f"{SHELF}{book.id}/do/rename", data={"title": " "}, follow_redirects=True)
    assert "Rename: Give a title. Nothing was changed." in refused.text
    with caplog.at_level(logging.ERROR):
        crashed = admin_client.post(f"{SHELF}{book.id}/do/crash", follow_redirects=True)
    assert "error in the &#39;object_extras&#39; plugin" in crashed.text
    assert "the plugin's bug" in caplog.text
    db_session.expire_all()
    assert not db_session.get(type(book), book.id).featured and audit(db_session) == []
    assert admin_client.post(f"{SHELF}{book.id}/do/nope").status_code == 404
    assert admin_client.post(f"{SHELF}not-a-key/do/feature").status_code == 404
    # A key no row has (any more): posted from a page shown before someone deleted it; the list says so.
    assert admin_client.post(f"{SHELF}999999/do/feature").headers["Location"] == SHELF
    assert admin_client.post(f"{SHELF}{book.id}/do/feature").status_code == 302
    again = admin_client.post(f"{SHELF}{book.id}/do/feature", follow_redirects=True)
    assert "does not apply" in again.text  # available() is checked on the POST too
    assert [entry.action for entry in audit(db_session)] == ["action:feature"]


def test_a_bulk_action_may_refuse(admin_client, books, db_session):
    response = admin_client.post(SHELF + "action", data={"action": "refuse", "ids": [str(books[0].id)]})
    assert response.status_code == 302
    assert "Shelves are full. Nothing was changed." in admin_client.get(SHELF).text
    db_session.expire_all()
    assert not db_session.get(type(books[0]), books[0].id).featured and audit(db_session) == []


def test_a_query_filter_narrows_the_list_and_the_export(admin_client, books):
    html = admin_client.get(SHELF + "?f_long=1&per_page=100").text
    assert "Book 30" in html and "Book 29" not in html and '<option value="1" selected>Yes</option>' in html
    export = admin_client.get(SHELF + "export.csv?f_long=0").text
    assert "Book 29" in export and "Book 30" not in export
    ignored = admin_client.get(SHELF + "?f_long=maybe")
    assert ignored.status_code == 200 and "The filter &#39;Long&#39; was ignored" in ignored.text


def test_an_operation_may_take_a_permission_the_plugin_declares(app, admin_client, books, create_user, db_session):
    from erlen_auth import Role, permissions_of

    known = permissions_of(app)
    assert "admin.shelf.edit" not in known and "admin.shelf.view" in known
    assert known["object_extras.curate"].plugin == "object_extras"
    clerk = create_user("clerk@example.com", roles=["clerks"])
    clerks = db_session.scalar(sa.select(Role).where(Role.name == "clerks"))
    for name in ("admin.access", "admin.shelf.view"):
        clerks.grant(name)
    db_session.commit()
    client = app.test_client()
    login_as(client, clerk)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    assert client.post(f"{SHELF}{books[0].id}/do/feature").status_code == 403
    assert "/do/feature" not in client.get(f"{SHELF}{books[0].id}/").text
    clerks.grant("object_extras.curate")
    db_session.commit()
    assert client.post(f"{SHELF}{books[0].id}/do/feature").status_code == 302


def test_a_view_may_bring_its_own_create_form_and_save(admin_client, books, db_session, models):
    form = admin_client.get(SHELF + "new").text
    assert 'name="title"' in form and 'name="pages"' not in form
    response = admin_client.post(SHELF + "new", data={"title": "Quick"})
    assert response.status_code == 302, response.text
    book = db_session.scalar(sa.select(models.Book).where(models.Book.title == "Quick (shelved)"))
    assert book is not None and book.pages == 1
    (entry,) = audit(db_session)
    assert entry.action == "create" and entry.changes == {"title": [None, "Quick (shelved)"]}


def test_misconfigured_extras_stop_the_app(app):
    from admin_sample.library import Book

    from erlen_admin import AdminConfigError, ModelView, ObjectAction, QueryFilter

    with pytest.raises(AdminConfigError, match="operation 'publish'"):
        ModelView(Book, permissions={"publish": "x.y"})
    with pytest.raises(AdminConfigError, match="two filters use the key 'title'"):
        ModelView(Book, filters=["title", QueryFilter("title", "T", (), lambda s, v: s)])
    twice = [ObjectAction("a", "A", lambda v, o: None), ObjectAction("a", "B", lambda v, o: None)]
    with pytest.raises(AdminConfigError, match="two object actions are named 'a'"):
        ModelView(Book, object_actions=twice)
    with pytest.raises(ValueError, match="permission must be one of"):
        ObjectAction("a", "A", lambda v, o: None, permission="curate")


@pytest.mark.parametrize("erlen_plugins", [[*PLUGINS, "admin_sample.author_actions"]])
def test_an_object_action_the_database_refuses_changes_nothing_and_says_so(admin_client, db_session, models):
    ada, twin = models.Author(name="Ada"), models.Author(name="Ada!")
    db_session.add_all([ada, twin])
    db_session.commit()
    # "Rename" appends "!": a name another author has, which the unique constraint refuses at the flush.
    response = admin_client.post(f"/admin/m/library_author/{ada.id}/do/rename")
    # Before: the IntegrityError of the admin's flush was not caught, and the answer was a 500.
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"]).text
    assert (
        "Rename failed: the database refused the change (a value is a duplicate or too long for its column, or "
        "other rows refer to this author). Nothing was changed." in page
    )
    db_session.expire_all()
    assert db_session.get(models.Author, ada.id).name == "Ada"
    assert audit(db_session) == []


@pytest.mark.parametrize("erlen_plugins", [[*PLUGINS, "admin_sample.author_actions"]])
def test_an_action_whose_value_the_database_finds_too_long_changes_nothing_and_says_so(
    admin_client, db_session, models
):
    author = models.Author(name="A" * 80)  # the column's length: "Rename" appends "!"
    db_session.add(author)
    db_session.commit()
    if db_session.get_bind().dialect.name == "sqlite":
        # SQLite does not enforce a VARCHAR's length: the longer name is stored whole, nothing is refused or cut.
        response = admin_client.post(f"/admin/m/library_author/{author.id}/do/rename")
        assert "Renamed." in admin_client.get(response.headers["Location"]).text
        db_session.expire_all()
        assert db_session.get(models.Author, author.id).name == "A" * 80 + "!"
        return
    # Before: PostgreSQL's refusal at the admin's flush (DataError: value too long) was not caught: a 500.
    response = admin_client.post(f"/admin/m/library_author/{author.id}/do/rename")
    assert response.status_code == 302
    assert (
        "Rename failed: the database refused the change (a value is a duplicate or too long for its column, or "
        "other rows refer to this author). Nothing was changed." in admin_client.get(response.headers["Location"]).text
    )
    response = admin_client.post("/admin/m/library_author/action", data={"action": "rename", "ids": [str(author.id)]})
    assert response.status_code == 302
    assert (
        "Rename failed: the database refused the change (other rows may refer to the selected authors, or a value "
        "is a duplicate or too long for its column). Nothing was changed."
        in admin_client.get(response.headers["Location"]).text
    )
    db_session.expire_all()
    assert db_session.get(models.Author, author.id).name == "A" * 80
    assert audit(db_session) == []


def test_an_object_actions_entry_is_headed_by_the_actions_name_in_words(admin_client, books, db_session):
    # The heading wrote the stored action: "Action:rename book “New name”", on the entry's page, in its title and
    # in the dashboard's Recent changes.
    book = books[0]
    admin_client.post(f"{SHELF}{book.id}/do/rename", data={"title": "New name", "reason": "typo"})
    (entry,) = audit(db_session)
    page = admin_client.get(f"/admin/m/audit/{entry.id}/").text
    assert re.findall(r"<h1>(.*?)</h1>", page) == ["Rename book “New name”"]
    assert "<title>Rename book “New name” · Admin</title>" in page
    dashboard = admin_client.get("/admin/").text
    assert f'<a href="/admin/m/audit/{entry.id}/">Rename book “New name”</a>' in dashboard
    assert "Action:" not in page + dashboard


def test_an_actions_entry_says_its_name_with_spaces_and_a_deletion_last():
    feature = AuditEntry(action="action:mark_lost", model="shelf", object_id="3", object_repr="Dune")
    assert heading_of(feature, None) == "Mark lost shelf “Dune”"
    purged = AuditEntry(action="bulk:purge_old (deleted)", model="shelf", object_id="4", object_repr="Emma")
    assert heading_of(purged, None) == "Bulk purge old shelf “Emma” (deleted)"
    gone = AuditEntry(action="action:archive (deleted)", model="shelf", object_id="5", object_repr="")
    assert heading_of(gone, None) == "Archive shelf 5 (deleted)"

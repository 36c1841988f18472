"""The list page's search through the searched columns' index, and without it: the same rows, and it says so."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from erlen_admin import plugin as admin_plugin
from erlen_admin.search import CACHE_KEY
from erlen_db import create_search_index

BOOKS = "/admin/m/library_book/"
NOTICE = "read every row"


def titles(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>(Book \d\d)</td>", html)


def index_books(app, db_session) -> None:
    assert create_search_index(db_session.connection(), "library_book", ["title"])
    db_session.commit()
    app.extensions.pop(CACHE_KEY, None)  # a missing index is believed missing for a while


@pytest.mark.parametrize("term", ["ok 1", "BOOK 3", "zzz", "4", "%", "_", "' OR 1=1 --", '"quoted"'])
def test_indexed_search_finds_what_the_scan_finds(admin_client, books, db_session, term):
    app = admin_client.application
    query = "?" + urllib.parse.urlencode({"q": term, "per_page": 100})
    scanned = admin_client.get(BOOKS + query).text
    assert NOTICE in scanned
    index_books(app, db_session)
    indexed = admin_client.get(BOOKS + query).text
    assert NOTICE not in indexed
    assert titles(indexed) == titles(scanned)
    if term in ("ok 1", "BOOK 3", "4"):
        assert titles(indexed), "the search should find books: the rows' markup changed under this test"


def test_the_index_sees_rows_written_after_it(admin_client, books, db_session, models):
    index_books(admin_client.application, db_session)
    db_session.add(models.Book(title="Book 99", pages=1, author_id=books[0].author_id))
    db_session.commit()
    assert titles(admin_client.get(BOOKS + "?q=k 99").text) == ["Book 99"]


def test_a_page_without_a_search_says_nothing(admin_client, books):
    assert NOTICE not in admin_client.get(BOOKS).text


def test_check_names_the_searched_columns_without_an_index(admin_client, books, db_session):
    app = admin_client.application
    found = {m.message for m in admin_plugin.erlen_checks(app, deploy=False) if m.id == "admin.W002"}
    assert any("'library_book'" in message and "title" in message for message in found), found
    index_books(app, db_session)
    found = {m.message for m in admin_plugin.erlen_checks(app, deploy=False) if m.id == "admin.W002"}
    assert not any("'library_book'" in message for message in found), found
    assert any("'library_author'" in message for message in found), found


def test_check_hint_gives_the_migration_calls_that_create_and_drop_the_index(app, db_session, models):
    """The hint lacked ``key=`` (a table keyed by another column fails on SQLite) and the drop for downgrade()."""
    import erlen_db
    from erlen_admin import ModelView
    from erlen_admin.plugin import _search_index_checks

    view = ModelView(models.Biography, search=["text"])
    view.plugin = "library"
    (message,) = _search_index_checks(app, [view])
    create = "erlen_db.create_search_index(op.get_bind(), 'library_biography', ['text'], key='author_id')"
    drop = "erlen_db.drop_search_index(op.get_bind(), 'library_biography', ['text'])"
    assert f"{create} in its upgrade() and {drop} in its downgrade()" in message.hint
    connection = db_session.connection()
    # the hint's calls, as a migration runs them, on the app's database
    assert eval(create.replace("op.get_bind()", "connection"), {"erlen_db": erlen_db, "connection": connection})
    db_session.commit()
    assert _search_index_checks(app, [view]) == []
    eval(drop.replace("op.get_bind()", "connection"), {"erlen_db": erlen_db, "connection": db_session.connection()})
    db_session.commit()
    assert [m.id for m in _search_index_checks(app, [view])] == ["admin.W002"]

"""The list page's work per request: the columns it loads, its statements, its rows and sidebar as HTML."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from erlen_auth.testing import login_as

BOOKS = "/admin/m/library_book/"


def book_selects(statements: list[str]) -> list[str]:
    """The statements that read ``library_book`` rows (not EXPLAIN, which PostgreSQL's estimate runs)."""
    return [s for s in statements if "from library_book" in s.lower() and not s.startswith("EXPLAIN")]


@pytest.mark.parametrize("query", ["", "?sort=pages", "?sort=-title&q=Book", "?per_page=50"])
def test_the_list_loads_only_the_listed_key_and_ordering_columns_in_one_statement(
    admin_client, books, count_queries, query
):
    with count_queries() as counter:
        response = admin_client.get(BOOKS + query)
    assert response.status_code == 200
    # One statement reads the page's rows: no statement per row for a column left unloaded.
    selects = book_selects(counter.statements)
    assert len(selects) == 1, counter.statements
    select = selects[0].lower()
    selected = select[: select.index(" from ")]
    for listed in ("id", "title", "pages", "status", "author_id"):
        assert f"library_book.{listed}" in selected
    # notes (a text column) and featured are not listed: neither read nor sent.
    assert "library_book.notes" not in selected and "library_book.featured" not in selected
    assert response.text.count('<td data-label="Title">') == (45 if "per_page=50" in query else 20)


def test_the_export_loads_the_exported_columns(admin_client, books, db_session, models, count_queries):
    db_session.execute(sa.update(models.Book).values(notes="a long note"))
    db_session.commit()
    with count_queries() as counter:
        text = admin_client.get(BOOKS + "export.csv").text
    assert len(text.splitlines()) == 46
    selects = book_selects(counter.statements)
    assert len(selects) == 1, counter.statements
    assert "library_book.notes" not in selects[0].lower()


def test_rows_keep_their_labels_names_and_escaping(admin_client, books, db_session, models):
    book = books[0]
    book.title = '<b>"Fish" & chips</b>'
    db_session.commit()
    html = admin_client.get(BOOKS + "?sort=title").text
    rows = re.findall(r"<tr>\s*(.*?)\s*</tr>", html.split("<tbody>")[1], flags=re.S)
    assert len(rows) == 20
    first = rows[0]
    ident = book.id
    assert (
        f'<td class="select"><input type="checkbox" name="ids" value="{ident}" id="select-1" '
        f'aria-label="Select book {ident}"></td>'
    ) in first
    assert f'<td data-label="Id">{ident}</td>' in first
    assert '<td data-label="Title">&lt;b&gt;&#34;Fish&#34; &amp; chips&lt;/b&gt;</td>' in first
    assert '<td data-label="Status">Draft</td>' in first
    assert re.search(r'<td data-label="Author"><a href="/admin/m/library_author/\d+/">\w+ \(#\d+\)</a></td>', first)
    assert (
        f'<a href="/admin/m/library_book/{ident}/">View<span class="visually-hidden"> book {ident}</span></a>' in first
    )
    assert (
        f'<a href="/admin/m/library_book/{ident}/edit">Edit<span class="visually-hidden"> book {ident}</span></a>'
        in first
    )
    assert 'id="select-20"' in rows[19]


def test_rows_of_a_viewer_have_no_checkbox_and_no_edit_link(app, client, books, create_user, db_session):
    from erlen_auth import Role, grant

    user = create_user("viewer@example.com", roles=["viewer"])
    role = db_session.scalar(sa.select(Role).where(Role.name == "viewer"))
    grant(role, "admin.access", "admin.library_book.view", app=app)
    db_session.commit()
    login_as(client, user)
    html = client.get(BOOKS).text
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == 20
    assert 'type="checkbox"' not in body and "/edit" not in body and "View<span" in body
    # The sidebar lists only what the user may open, the current section marked.
    nav = html.split('<nav class="admin-nav"')[1].split("</nav>")[0]
    assert '<a href="/admin/m/library_book/" aria-current="page">Books</a>' in nav
    assert "/admin/m/library_author/" not in nav and "/admin/m/audit/" not in nav
    assert '<a href="/admin/p/statistics">Statistics</a>' in nav  # a page that needs no permission


def test_an_empty_list_says_so(admin_client, db_session):
    html = admin_client.get(BOOKS).text
    # The row spans the columns and the links' column: no "select" column, with nothing to select.
    assert '<tr><td class="empty-row" colspan="6">No books found.</td></tr>' in html
    # Neither "With selected … Go" nor "select all" (the superuser may delete books, but there is none).
    assert 'id="bulk-action"' not in html and "select-all" not in html


def test_a_list_with_rows_offers_its_bulk_actions(admin_client, books):
    html = admin_client.get(BOOKS).text
    assert '<label for="bulk-action">With selected</label>' in html and 'class="select-all"' in html


def test_the_sidebar_of_a_superuser(admin_client, books):
    html = admin_client.get("/admin/m/library_author/").text
    nav = html.split('<nav class="admin-nav"')[1].split("</nav>")[0]
    assert '<a href="/admin/m/library_author/" aria-current="page">Authors</a>' in nav
    assert '<a href="/admin/m/library_book/">Books</a>' in nav
    assert '<a href="/admin/p/statistics">Statistics</a>' in nav
    assert '<a href="/admin/">Dashboard</a>' in nav


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"sort": "-title", "per_page": 20},
        {"after": "WzIwXQ", "page": 2, "sort": "id", "per_page": 50, "q": "fish & chips = 100% /ok?"},
        {"q": "ünïcode +plus #hash 'quote' \"dq\" <b>", "f_status": "draft", "count": 1, "before": None},
        {"f_author_id": "", "q": "!$'()*,/:;?@[]~"},
    ],
)
def test_list_links_are_the_ones_url_for_builds(app, args):
    from flask import url_for

    from erlen_admin.list_urls import list_url_builder, row_url_builder

    with app.test_request_context("/admin/m/library_book/", base_url="http://example.com/prefix"):
        assert list_url_builder("library_book")(**args) == url_for("admin.list", slug="library_book", **args)
        detail = row_url_builder("admin.detail", "library_book")
        for ident in (7, "a b/c?d", "ü%"):
            assert detail(ident) == url_for("admin.detail", slug="library_book", ident=ident)

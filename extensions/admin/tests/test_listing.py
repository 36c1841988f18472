"""The list page: keyset pages both ways, sorting, search, filters, page sizes; no COUNT(*) and no OFFSET."""

from __future__ import annotations

import base64
import decimal
import json
import re
import urllib.parse

import pytest
import sqlalchemy as sa

BOOKS = "/admin/m/library_book/"


def titles(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>(Book \d\d)</td>", html)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return None if found is None else found.group(1).replace("&amp;", "&")


def test_first_page_newest_first(admin_client, books):
    html = admin_client.get(BOOKS).text
    assert titles(html) == [f"Book {n:02d}" for n in range(45, 25, -1)]
    assert link(html, "prev") is None
    assert link(html, "next") is not None


def test_pages_forward_and_back(admin_client, books):
    first = admin_client.get(BOOKS).text
    second = admin_client.get(link(first, "next")).text
    assert titles(second) == [f"Book {n:02d}" for n in range(25, 5, -1)]
    assert "Page 2." in second
    third = admin_client.get(link(second, "next")).text
    assert titles(third) == [f"Book {n:02d}" for n in range(5, 0, -1)]
    assert link(third, "next") is None
    back = admin_client.get(link(third, "prev")).text
    assert titles(back) == titles(second)
    assert "Page 2." in back
    front = admin_client.get(link(back, "prev")).text
    assert titles(front) == titles(first)
    assert link(front, "prev") is None


def test_sort_by_allowed_column_both_ways(admin_client, books):
    html = admin_client.get(BOOKS + "?sort=title&per_page=50").text
    assert titles(html) == [f"Book {n:02d}" for n in range(1, 46)]
    html = admin_client.get(BOOKS + "?sort=-pages&per_page=20").text
    assert titles(html)[:2] == ["Book 45", "Book 44"]
    following = admin_client.get(link(html, "next")).text
    assert titles(following)[0] == "Book 25"
    assert 'aria-sort="descending"' in html


def test_sort_pages_with_ties_in_both_directions(admin_client, db_session, models):
    author = models.Author(name="Ties")
    db_session.add(author)
    db_session.flush()
    db_session.add_all(models.Book(title=f"Book {n:02d}", pages=7, author_id=author.id) for n in range(1, 31))
    db_session.commit()
    seen: list[str] = []
    html = admin_client.get(BOOKS + "?sort=pages&per_page=20").text
    seen += titles(html)
    html = admin_client.get(link(html, "next")).text
    seen += titles(html)
    assert sorted(seen) == [f"Book {n:02d}" for n in range(1, 31)]
    back = admin_client.get(link(html, "prev")).text
    assert titles(back) == seen[:20]


def test_unknown_sort_column_is_ignored(admin_client, books):
    response = admin_client.get(BOOKS + "?sort=notes")
    assert response.status_code == 200
    assert titles(response.text)[0] == "Book 45"
    assert "cannot be sorted" in response.text


def test_search(admin_client, books):
    html = admin_client.get(BOOKS + "?q=ok 1").text
    assert sorted(titles(html)) == [f"Book {n:02d}" for n in range(10, 20)]
    assert titles(admin_client.get(BOOKS + "?q=zzz").text) == []


@pytest.mark.parametrize("term", ["%", "_", "\\", "' OR 1=1 --", '"; DROP TABLE library_book; --'])
def test_search_wildcards_and_quotes_are_literal(admin_client, books, term):
    response = admin_client.get(BOOKS + "?" + urllib.parse.urlencode({"q": term}))
    assert response.status_code == 200
    assert titles(response.text) == []
    assert len(titles(admin_client.get(BOOKS + "?per_page=50").text)) == 45


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "title; DROP TABLE library_book"},
        {"sort": "-(SELECT 1)"},
        {"sort": "id desc, (select password_hash from auth_user)"},
        {"f_status": "draft' OR '1'='1"},
        {"f_author_id": "1 OR 1=1"},
        {"f_notes": "x"},
        {"f_featured": "maybe"},
        {"per_page": "1000000"},
        {"per_page": "-1"},
        {"page": "9999999999999999999999"},
        {"after": "not-a-cursor"},
        {"before": "WyJ4Il0"},
        {"after": "WyJ4IiwgMV0"},
    ],
)
def test_malicious_parameters_are_refused_or_ignored(admin_client, books, db_session, models, query):
    response = admin_client.get(BOOKS + "?" + urllib.parse.urlencode(query), follow_redirects=True)
    assert response.status_code == 200
    assert db_session.scalar(sa.select(sa.func.count()).select_from(models.Book)) == 45
    assert len(titles(response.text)) <= 20


def _cursor(values: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        {"f_author_id": str(2**63)},  # beyond every database's integers (SQLite raised OverflowError)
        {"f_author_id": str(-(2**63) - 1)},
        {"f_author_id": str(2**31)},  # beyond PostgreSQL's integer: refused there, no rows on SQLite
    ],
)
def test_filter_values_beyond_the_column_range_are_not_a_500(admin_client, books, db_session, query):
    response = admin_client.get(BOOKS + "?" + urllib.parse.urlencode(query))
    assert response.status_code == 200
    refused = "was ignored" in response.text
    # SQLite stores 64-bit integers in every integer column: 2**31 is a value there, matching no row.
    assert refused or (db_session.get_bind().dialect.name == "sqlite" and titles(response.text) == [])
    export = admin_client.get(BOOKS + "export.csv?" + urllib.parse.urlencode(query))
    # A filter the list ignores stops the export (400), which would otherwise hold every row.
    assert export.status_code == (400 if refused else 200) and export.get_data()


@pytest.mark.parametrize(
    "path",
    [
        BOOKS + "?after=" + _cursor([2**63]),  # an id beyond the database's integers
        BOOKS + "?sort=pages&before=" + _cursor([-(2**63) - 1, 1]),
        BOOKS + "?sort=pages&after=" + _cursor([True, 1]),  # a boolean for an integer
        BOOKS + "?sort=pages&after=" + _cursor([1.5, 1]),
        BOOKS + "?sort=title&after=" + _cursor(["Book 01", "1"]),  # text for the integer key
        BOOKS + "?sort=title&after=" + _cursor([7, 1]),  # a number for the text column
        "/admin/m/audit/?sort=created_at&after=" + _cursor([5, 1]),  # a number for a datetime
        "/admin/m/audit/?sort=created_at&after=" + _cursor(["yesterday", 1]),
    ],
)
def test_cursors_with_values_the_column_cannot_hold_go_to_page_1(admin_client, books, path):
    response = admin_client.get(path)
    assert response.status_code == 302
    assert "after" not in response.headers["Location"] and "before" not in response.headers["Location"]


def test_enum_sort_columns_page_forward(app, books, db_session, models):
    from erlen_admin import ModelView
    from erlen_admin.listing import fetch, parse

    db_session.execute(sa.update(models.Book).where(models.Book.pages > 200).values(status=models.Status.published))
    db_session.commit()
    with app.test_request_context():
        view = ModelView(models.Book, sortable=["status"], default_sort="status")
        params = parse(view, {})
        seen = []
        for _ in range(5):  # 45 books in pages of 20; a cursor that does not move would loop for ever
            page = fetch(view, params, db_session)
            seen += [book.id for book in page.items]
            if page.next_cursor is None:
                break
            params.after = page.next_cursor
    assert sorted(seen) == sorted(book.id for book in books)


@pytest.mark.parametrize("raw", ["abc", "NaN", "sNaN", "-Infinity", "1e999999", "1234567"])
def test_decimal_values_the_database_cannot_store_are_refused(raw):
    from erlen_admin.views.model_view import coerce_value

    price = sa.Column("price", sa.Numeric(8, 2))
    with pytest.raises(ValueError):  # what the routes catch; decimal.InvalidOperation is not one
        coerce_value(price, raw, "postgresql")
    assert coerce_value(price, "123456.78", "postgresql") == decimal.Decimal("123456.78")


@pytest.mark.parametrize(
    ("kind", "dialect", "largest"),
    [
        (sa.Integer(), "postgresql", 2**31 - 1),
        (sa.SmallInteger(), "postgresql", 2**15 - 1),
        (sa.BigInteger(), "postgresql", 2**63 - 1),
        (sa.Integer(), "sqlite", 2**63 - 1),
        (sa.SmallInteger(), None, 2**63 - 1),
    ],
)
def test_integer_values_are_checked_against_the_column_range(kind, dialect, largest):
    from erlen_admin.views.model_view import coerce_value

    column = sa.Column("n", kind)
    assert coerce_value(column, str(largest), dialect) == largest
    assert coerce_value(column, str(-largest - 1), dialect) == -largest - 1
    for beyond in (largest + 1, -largest - 2):
        with pytest.raises(ValueError):
            coerce_value(column, str(beyond), dialect)


def test_filters(admin_client, books, db_session, models):
    db_session.execute(sa.update(models.Book).where(models.Book.pages > 400).values(status=models.Status.published))
    db_session.commit()
    html = admin_client.get(BOOKS + "?f_status=published").text
    assert sorted(titles(html)) == [f"Book {n:02d}" for n in range(41, 46)]
    ada = db_session.scalar(sa.select(models.Author).where(models.Author.name == "Ada"))
    html = admin_client.get(BOOKS + f"?f_author_id={ada.id}&per_page=50").text
    assert len(titles(html)) == 23
    html = admin_client.get(BOOKS + f"?f_author_id={ada.id}&f_status=published&per_page=50").text
    assert sorted(titles(html)) == ["Book 41", "Book 43", "Book 45"]
    assert titles(admin_client.get(BOOKS + "?f_featured=1").text) == []


def test_page_size(admin_client, books):
    assert len(titles(admin_client.get(BOOKS + "?per_page=50").text)) == 45
    assert len(titles(admin_client.get(BOOKS + "?per_page=7").text)) == 20  # not offered: the default


@pytest.fixture
def executed(app):
    """The (statement, parameters) pairs the app's engine runs while the test runs."""
    import erlen_db

    found: list[tuple[str, object]] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        found.append((" ".join(statement.split()).lower(), parameters))

    engine = erlen_db.database_of(app).engine
    sa.event.listen(engine, "before_cursor_execute", listen)
    yield found
    sa.event.remove(engine, "before_cursor_execute", listen)


def skips_rows(statement: str, parameters: object) -> bool:
    """Whether the statement skips rows with OFFSET (SQLAlchemy's SQLite dialect always writes OFFSET ?, bound to 0)."""
    if "offset" not in statement:
        return False
    offset = re.search(r"offset (\S+)", statement).group(1)
    if offset == "?":
        return list(parameters)[-1] != 0
    return offset not in ("0", "%(param_2)s") or parameters.get("param_2", 0) != 0


@pytest.mark.parametrize("query", ["", "sort=-id&q=Book&f_status=draft", "sort=title", "sort=-pages&q=ook"])
def test_list_page_runs_no_count_and_no_offset(admin_client, books, count_queries, executed, query):
    first = admin_client.get(BOOKS + "?" + query).text
    following = link(first, "next")
    assert following is not None
    executed.clear()
    with count_queries() as counter:
        response = admin_client.get(following)
    assert response.status_code == 200
    statements = " ".join(counter.statements).lower()
    assert "count(" not in statements
    assert not any(skips_rows(statement, parameters) for statement, parameters in executed), executed
    assert counter.count <= 8, counter.statements
    # On PostgreSQL the planner's estimate is asked with EXPLAIN (no ANALYZE: the query is not run).
    select = [s for s in counter.statements if "from library_book" in s.lower() and not s.startswith("EXPLAIN")]
    assert all("analyze" not in s.lower() for s in counter.statements)
    assert len(select) == 1 and "limit" in select[0].lower()


def test_exact_count_only_when_asked(admin_client, books, count_queries):
    with count_queries() as counter:
        html = admin_client.get(BOOKS + "?count=1").text
    assert "45 books in all." in html
    assert any("count(" in s.lower() for s in counter.statements)
    assert "Count books" in admin_client.get(BOOKS).text or "an estimate" in admin_client.get(BOOKS).text


def test_exact_count_of_one_row_is_singular(admin_client, books):
    # Found by walking the example app's admin: a search finding one user said "1 users in all."
    html = admin_client.get(BOOKS + "?" + urllib.parse.urlencode({"q": "Book 07", "count": 1})).text
    assert titles(html) == ["Book 07"]
    assert "1 book in all." in html
    assert "1 books" not in html


def test_counts_name_the_rows_with_the_views_singular_and_plural_nouns(admin_client, books, db_session):
    """Found walking the admin as a staff user: the audit log's plural was its title, so its list read
    "5 audit log in all." and "No audit log found."; the list keeps its title, the counts say entries."""
    from erlen_admin.models import AuditEntry

    for book, title in [(books[0], "Renamed"), (books[1], "Renamed too")]:
        db_session.add(
            AuditEntry(action="edit", model="library_book", object_id=str(book.id), object_repr=title, changes={})
        )
    db_session.commit()
    many = admin_client.get("/admin/m/audit/?count=1").text
    assert "<h1>Audit log</h1>" in many
    assert re.search(r"\b2 audit entries in all\.", many), many
    one = admin_client.get("/admin/m/audit/?count=1&q=Renamed+too").text
    assert re.search(r"\b1 audit entry in all\.", one)
    none = admin_client.get("/admin/m/audit/?q=nothing-like-this").text
    assert "No audit entries found." in none
    assert "audit log in all" not in many + one + none and "No audit log found" not in none
    # The navigation, the dashboard and the detail page's breadcrumbs call the list by its title.
    dashboard = admin_client.get("/admin/").text
    assert re.search(r'<a href="/admin/m/audit/"[^>]*>Audit log</a>', dashboard)


def test_estimate_from_database_statistics(admin_client, books, db_session):
    dialect = db_session.get_bind().dialect.name
    db_session.execute(sa.text("ANALYZE"))
    db_session.commit()
    html = admin_client.get(BOOKS).text
    assert "About 45 books (an estimate)." in html
    if dialect == "postgresql":  # the planner estimates filtered lists too
        assert "match (an estimate)" in admin_client.get(BOOKS + "?q=Book").text


def test_the_whole_table_s_estimate_is_asked_once_a_minute(admin_client, books, db_session, count_queries):
    db_session.execute(sa.text("ANALYZE"))
    db_session.commit()
    assert "About 45 books (an estimate)." in admin_client.get(BOOKS).text
    with count_queries() as counter:
        html = admin_client.get(BOOKS + "?sort=title").text
    assert "About 45 books (an estimate)." in html
    statements = " ".join(counter.statements).lower()
    assert "sqlite_stat1" not in statements and "pg_class" not in statements, counter.statements


def test_foreign_keys_are_links(admin_client, books, db_session, models):
    html = admin_client.get(BOOKS).text
    ada = db_session.scalar(sa.select(models.Author).where(models.Author.name == "Ada"))
    assert f'<a href="/admin/m/library_author/{ada.id}/">Ada (#{ada.id})</a>' in html


def test_a_foreign_key_link_escapes_the_related_label(admin_client, books, db_session, models):
    ada = db_session.scalar(sa.select(models.Author).where(models.Author.name == "Ada"))
    ada.name = '<b>"Ada" & co</b>'
    db_session.commit()
    html = admin_client.get(BOOKS).text
    label = f"&lt;b&gt;&#34;Ada&#34; &amp; co&lt;/b&gt; (#{ada.id})"
    assert f'<a href="/admin/m/library_author/{ada.id}/">{label}</a>' in html
    assert '<b>"Ada"' not in html


def test_stale_cursor_goes_back_to_first_page(admin_client, books):
    response = admin_client.get(BOOKS + "?sort=title&after=WzEsMl0")  # a cursor of another ordering
    assert response.status_code == 302
    assert "after" not in response.headers["Location"]

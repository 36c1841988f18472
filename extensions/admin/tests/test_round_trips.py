"""The database round trips of a logged-in admin's list page, counted on the wire (PostgreSQL), and the work a
list page skips when its answer is already known in the request.

A round trip is a wait for the server: on psycopg (3), every message the client sends up to a ``Sync`` (or a
simple query such as ``BEGIN``), answered by the server's ``ReadyForQuery``. libpq's trace of the connection
(``PQtrace``) writes each message, so the ``ReadyForQuery`` lines are the round trips, whatever sent them:
SQLAlchemy, psycopg (a ``BEGIN`` before a transaction's first statement, a statement prepared in a trip of its
own) or erlen-db. Counts, never times.
"""

from __future__ import annotations

import re
import sys

import pytest
from flask import Flask
from flask.testing import FlaskClient

import erlen_db
from erlen_auth.testing import DEFAULT_PASSWORD, login_as, make_user

BOOKS = "/admin/m/library_book/"
#: Requests of a page before its round trips are counted: psycopg prepares a statement on its fifth run, in a
#: round trip of its own, and the first page asks for the table's estimate (kept a minute).
WARM_UP = 6


#: Round trips are counted on PostgreSQL's wire: the tests of ``committed_client`` run on PostgreSQL only.
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
on_linux = pytest.mark.skipif(sys.platform != "linux", reason="psycopg traces connections on Linux only")


def committed_books(app: Flask, database_url: str) -> None:
    """45 committed books on PostgreSQL: no test transaction (``db_session``) around the requests, whose savepoints
    would be round trips of their own."""
    assert database_url.startswith("postgresql"), "mark the test @on_postgresql"
    from admin_sample import library

    database = erlen_db.database_of(app)
    database.create_all()
    with database.new_session() as session:
        authors = [library.Author(name="Ada"), library.Author(name="Grace")]
        session.add_all(authors)
        session.flush()
        session.add_all(
            library.Book(title=f"Book {index:02d}", pages=index * 10, author_id=authors[index % 2].id)
            for index in range(1, 46)
        )
        session.commit()


@pytest.fixture
def committed_client(app: Flask, client: FlaskClient, database_url: str) -> FlaskClient:
    """A superuser's client over :func:`committed_books`."""
    committed_books(app, database_url)
    login_as(client, make_user(app, "root@example.com", superuser=True))
    client.get(BOOKS)  # the page's forms give the session its CSRF secret, which the client keeps
    return client


def trips_of(client: FlaskClient, path: str) -> int:
    """The round trips of ``GET path``, once the page has been asked :data:`WARM_UP` times."""
    for _ in range(WARM_UP):
        assert client.get(path).status_code == 200
    with erlen_db.count_round_trips(client.application) as counted:
        assert client.get(path).status_code == 200
    return counted.count


def next_link(html: str) -> str:
    found = re.search(r'<a rel="next" href="([^"]+)"', html)
    assert found is not None, "no next link"
    return found.group(1).replace("&amp;", "&")


@on_postgresql
@on_linux
def test_a_logged_in_list_page_costs_one_round_trip_per_query(committed_client):
    """The log-in session with its user, the page's rows, the labels of their authors, the authors the author
    filter offers: four round trips, none for a ``BEGIN`` or a ``ROLLBACK`` (each statement runs alone, see
    erlen_db.lone_reads), sorted or after a cursor alike."""
    assert trips_of(committed_client, BOOKS) == 4
    assert trips_of(committed_client, BOOKS + "?sort=pages") == 4
    assert trips_of(committed_client, next_link(committed_client.get(BOOKS).text)) == 4


@on_postgresql
@on_linux
def test_a_search_whose_matches_fit_on_the_page_costs_no_estimate(committed_client):
    """Nine books match: the page holds them all, and says so without asking the planner (an ``EXPLAIN`` in a
    transaction and a savepoint of its own: four round trips more)."""
    assert trips_of(committed_client, BOOKS + "?q=Book+0") == 4
    assert trips_of(committed_client, BOOKS + "?q=Nothing+like+it") == 3  # no row, no author to label


@on_postgresql
@on_linux
def test_a_staff_users_list_page_costs_one_round_trip_more_for_their_roles(app, client, database_url):
    """Not a superuser: the page asks ``can()`` (may they enter the admin, see the books, edit them...), whose
    first call loads the user's roles with their grants in one round trip (the roles, then their grants, took
    two)."""
    from erlen_auth import Role, grant

    committed_books(app, database_url)
    with erlen_db.database_of(app).new_session() as session, app.app_context():
        librarian = Role(name="librarian")
        for permission in ("admin.access", "admin.library_book.view", "admin.library_book.edit"):
            grant(librarian, permission)
        session.add(librarian)
        session.commit()
    login_as(client, make_user(app, "staff@example.com", roles=["librarian"]))
    client.get(BOOKS)
    assert trips_of(client, BOOKS) == 5


def summary(html: str) -> str:
    found = re.search(r'<p class="summary" id="summary">(.*?)</p>', html, flags=re.S)
    assert found is not None
    return " ".join(found.group(1).split())


@pytest.mark.parametrize("count", ["", "&count=1"])
def test_a_list_on_one_page_is_counted_by_its_rows(admin_client, books, count_queries, count):
    """Asked to count or not, a list whose rows all fit on its first page is their number: no ``count(*)``, no
    estimate (``EXPLAIN``, ``pg_class.reltuples``, ``sqlite_stat1``)."""
    with count_queries() as counter:
        html = admin_client.get(BOOKS + "?q=Book+0" + count).text
    assert summary(html) == "9 books in all. Page 1."
    with count_queries() as nothing:
        empty = admin_client.get(BOOKS + "?q=Nothing+like+it" + count).text
    assert summary(empty) == "No books match."  # not "0 books in all. Page 1."
    assert summary(admin_client.get("/admin/m/audit/").text) == "No audit entries yet."  # empty, unsearched
    for statement in [*counter.statements, *nothing.statements]:
        lowered = statement.lower()
        assert "count(" not in lowered and "explain" not in lowered, statement
        assert "reltuples" not in lowered and "sqlite_stat1" not in lowered, statement


def test_a_page_after_a_cursor_is_not_taken_for_the_whole_list(admin_client, books):
    # Page 3 of 45 books (5 rows, no page after it): rows come before it, so 5 is not the list's count.
    second = next_link(admin_client.get(BOOKS).text)
    third = admin_client.get(next_link(admin_client.get(second).text)).text
    assert "5 books in all" not in summary(third)
    assert "45 books in all." in summary(admin_client.get(BOOKS + "?count=1").text)


def test_the_first_page_after_logging_in_through_the_form_sets_no_cookie(client, superuser):
    """The log-in's response carries the session's new CSRF secret: the admin's pages (each with forms) sign
    their tokens with it and leave the session cookie as it is, from the first."""
    from erlen_forms.testing import csrf_token_for

    token = csrf_token_for(client)
    answer = client.post(
        "/auth/login", data={"email": superuser.email, "password": DEFAULT_PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302
    first = client.get(BOOKS)
    assert first.status_code == 200
    assert "Set-Cookie" not in first.headers

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from app_models import Author, Book
from conftest import DbApp
from flask import Flask
from sqlalchemy.orm import Session

import erlen_db
from erlen_db import InvalidCursorError, paginate, paginate_keyset


@pytest.fixture
def app(db_app: DbApp) -> Flask:
    app = db_app()
    database = erlen_db.database_of(app)
    database.create_all()
    with database.session_scope() as session:
        author = Author(name="ann")
        session.add(author)
        for i in range(25):
            # Two books per day, so the ordering needs the id to be unique.
            session.add(Book(title=f"Book {i:02d}", published=datetime.date(2024, 1, 1 + i // 2), author=author))
    return app


def titles(items: list[Book]) -> list[str]:
    return [book.title for book in items]


def test_offset_pages_with_count(app: Flask) -> None:
    with app.app_context():
        statement = sa.select(Book).order_by(Book.id)
        first = paginate(statement, page=1, per_page=10)
        assert titles(first.items) == [f"Book {i:02d}" for i in range(10)]
        assert (first.total, first.pages, first.has_next, first.has_prev) == (25, 3, True, False)
        last = paginate(statement, page=3, per_page=10)
        assert titles(last.items) == [f"Book {i:02d}" for i in range(20, 25)]
        assert (last.has_next, last.has_prev) == (False, True)
        beyond = paginate(statement, page=9, per_page=10)
        assert beyond.items == [] and not beyond.has_next


def test_offset_pages_without_count_run_one_query(app: Flask) -> None:
    with app.app_context():
        with erlen_db.max_queries(1) as counter:
            page = paginate(sa.select(Book).order_by(Book.id), page=2, per_page=10, count=False)
        assert counter.count == 1
        assert page.total is None and page.pages is None and page.has_next


def test_offset_page_bounds(app: Flask) -> None:
    with app.app_context():
        with pytest.raises(ValueError, match="page must be"):
            paginate(sa.select(Book), page=0)
        with pytest.raises(ValueError, match="per_page"):
            paginate(sa.select(Book), per_page=100_000)


def walk(session: Session, order_by: list[sa.ColumnElement[object]], per_page: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = paginate_keyset(sa.select(Book), order_by, after=cursor, per_page=per_page, session=session)
        seen += titles(page.items)
        if not page.has_next:
            return seen
        cursor = page.next_cursor


def test_keyset_walks_every_row_once_in_order(app: Flask) -> None:
    with erlen_db.database_of(app).session_scope() as session:
        assert walk(session, [Book.id], 10) == [f"Book {i:02d}" for i in range(25)]
        assert walk(session, [Book.id.desc()], 7) == [f"Book {i:02d}" for i in reversed(range(25))]
        by_date_desc = walk(session, [Book.published.desc(), Book.id], 4)
        expected = sorted(range(25), key=lambda i: (-(i // 2), i))
        assert by_date_desc == [f"Book {i:02d}" for i in expected]


def test_keyset_page_is_one_range_query_without_offset(app: Flask) -> None:
    with app.app_context():
        first = paginate_keyset(sa.select(Book), [Book.id], per_page=5)
        with erlen_db.count_queries() as counter:
            second = paginate_keyset(sa.select(Book), [Book.id], after=first.next_cursor, per_page=5)
        assert titles(second.items) == [f"Book {i:02d}" for i in range(5, 10)]
        assert counter.count == 1
        if erlen_db.database_of(app).engine.dialect.name == "postgresql":  # SQLite renders LIMIT ? OFFSET 0
            assert "OFFSET" not in counter.statements[0].upper()
        assert "book.id >" in counter.statements[0]


def test_keyset_last_page_has_no_cursor(app: Flask) -> None:
    with app.app_context():
        page = paginate_keyset(sa.select(Book), [Book.id], per_page=25)
        assert len(page.items) == 25 and page.next_cursor is None and not page.has_next


@pytest.mark.parametrize("cursor", ["not-a-cursor!", erlen_db.pagination.encode_cursor([1, 2])])
def test_keyset_rejects_bad_cursors(app: Flask, cursor: str) -> None:
    with app.app_context(), pytest.raises(InvalidCursorError):
        paginate_keyset(sa.select(Book), [Book.id], after=cursor)

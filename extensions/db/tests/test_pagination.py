from __future__ import annotations

import datetime
import decimal
import enum
import textwrap
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from app_models import Author, Book
from flask import Flask, request
from sqlalchemy.orm import DeclarativeBase, Mapped, QueryableAttribute, Session, mapped_column

import erlen_db
from erlen_db import InvalidCursorError, InvalidPageError, paginate, paginate_keyset
from erlen_db.pagination import encode_cursor
from erlen_db.testing import MakeDbApp


@pytest.fixture
def app(make_db_app: MakeDbApp) -> Flask:
    app = make_db_app(create_all=True)
    with erlen_db.database_of(app).session_scope() as session:
        author = Author(name="ann")
        session.add(author)
        for i in range(25):
            # Two books per day, so the ordering needs the id to be unique.
            session.add(Book(title=f"Book {i:02d}", published=datetime.date(2024, 1, 1 + i // 2), author=author))

    @app.get("/by-offset")
    def by_offset() -> str:
        page = paginate(
            sa.select(Book).order_by(Book.id),
            page=request.args.get("page", 1, type=int),
            per_page=request.args.get("per_page", 10, type=int),
        )
        return ",".join(titles(page.items))

    @app.get("/by-keyset")
    def by_keyset() -> str:
        page = paginate_keyset(sa.select(Book), [Book.published.desc(), Book.id], after=request.args.get("after"))
        return ",".join(titles(page.items))

    return app


class Color(enum.Enum):
    """Declared in the order of its names, so PostgreSQL (declaration order) and SQLite (text) sort it alike."""

    BLUE = "blue"
    GREEN = "green"
    RED = "red"


class Shade(enum.StrEnum):
    DARK = "dark-shade"


class Size(enum.IntEnum):
    SMALL = 1


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
        with pytest.raises(InvalidPageError, match="page must be"):
            paginate(sa.select(Book), page=0)
        with pytest.raises(InvalidPageError, match="per_page"):
            paginate(sa.select(Book), per_page=100_000)
        with erlen_db.count_queries() as counter, pytest.raises(InvalidPageError, match="too large"):
            paginate(sa.select(Book), page=10**20)  # an offset no database takes
        assert counter.count == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "page must be 1 or more, not 0"),
        ("page=-3", "page must be 1 or more, not -3"),
        ("per_page=0", "per_page must be between 1 and 1000, not 0"),
        ("per_page=100000", "per_page must be between 1 and 1000, not 100000"),
        ("page=99999999999999999999", "is too large"),
        ("page=9223372036854775807", "is too large"),
    ],
)
def test_bad_page_in_a_request_answers_400(app: Flask, query: str, message: str) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get(f"/by-offset?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert app.test_client().get("/by-offset?page=3").text == "Book 20,Book 21,Book 22,Book 23,Book 24"


def walk(
    session: Session, order_by: list[sa.ColumnElement[t.Any] | QueryableAttribute[t.Any]], per_page: int
) -> list[str]:
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


#: Cursors of the ordering [Book.published.desc(), Book.id] that a client may send instead of the one it got.
BAD_CURSORS = [
    "not-a-cursor!",
    "w6k",  # base64 of bytes that are not UTF-8
    encode_cursor(["2024-01-01"]),  # too short
    encode_cursor({"published": "2024-01-01"}),  # type: ignore[arg-type]
    encode_cursor([5, 1]),  # a number for the date
    encode_cursor(["yesterday", 1]),  # not an ISO date
    encode_cursor(["2024-01-01", "abc"]),  # text for the integer
    encode_cursor(["2024-01-01", 1.5]),
    encode_cursor(["2024-01-01", True]),
    encode_cursor(["2024-01-01", None]),
    encode_cursor(["2024-01-01", {"a": 1}]),
    encode_cursor(["2024-01-01", [1]]),
    encode_cursor(["2024-01-01", 10**30]),  # beyond any integer column
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_bad_cursor_in_a_request_answers_400(app: Flask, cursor: str) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/by-keyset", query_string={"after": cursor})
    assert response.status_code == 400
    assert "pagination cursor" in response.text
    good = encode_cursor(["2024-01-01", 1])
    assert app.test_client().get("/by-keyset", query_string={"after": good}).text == "Book 01"  # after id 1


def test_the_400_page_of_a_bad_cursor_says_what_to_do(app: Flask) -> None:
    # Found by walking the example app: /notes/?after=zzz answered "the pagination cursor is not valid", in lower
    # case, and nothing a person could do about it.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    page = app.test_client().get("/by-keyset", query_string={"after": "zzz"}).text
    assert "The pagination cursor is not valid. The link may be cut short or out of date: open the list again" in page


def test_an_empty_cursor_asks_for_the_first_page(app: Flask) -> None:
    first = app.test_client().get("/by-keyset").text
    assert first.startswith("Book 24,Book 22,Book 23,")
    assert app.test_client().get("/by-keyset?after=").text == first
    with app.app_context():
        assert titles(paginate_keyset(sa.select(Book), [Book.id], after="", per_page=2).items) == ["Book 00", "Book 01"]


def test_bad_page_answers_the_apps_own_400_page(app: Flask) -> None:
    @app.errorhandler(400)
    def bad_request(error: Exception) -> tuple[str, int]:
        return f"Our 400: {error}", 400

    response = app.test_client().get("/by-keyset?after=not-a-cursor!")
    assert response.status_code == 400
    assert response.text == (
        "Our 400: 400 Bad Request: The pagination cursor is not valid. "
        "The link may be cut short or out of date: open the list again from its first page."
    )


@pytest.mark.parametrize(
    ("column_type", "value", "expected"),
    [
        (sa.Numeric(), "1.50", decimal.Decimal("1.50")),
        (sa.Numeric(), "abc", None),
        (sa.Uuid(), "12345678-1234-5678-1234-567812345678", uuid.UUID("12345678-1234-5678-1234-567812345678")),
        (sa.Uuid(), "abc", None),
        (sa.Float(), 2, 2.0),
        (sa.Float(), "abc", None),
        (sa.Boolean(), True, True),
        (sa.Boolean(), 1, None),
        (sa.String(), 1, None),
        (sa.DateTime(), "2024-01-01T10:00:00", datetime.datetime(2024, 1, 1, 10)),
        (sa.Time(), "noon", None),
        (sa.Enum(Color), "RED", Color.RED),
        (sa.Enum(Color), "Color.RED", None),  # what cursors held before they encoded enums by name
        (sa.Enum(Color), "PURPLE", None),
        (sa.Enum(Color), "red", None),  # a value, not a name
        (sa.Enum(Color), 1, None),
    ],
)
def test_cursor_values_are_checked_against_their_column_type(
    column_type: sa.types.TypeEngine[object], value: object, expected: object
) -> None:
    from erlen_db.pagination import _from_json

    column = sa.column("x", column_type)
    if expected is None:
        with pytest.raises(InvalidCursorError):
            _from_json(column, value)
    else:
        assert _from_json(column, value) == expected


@pytest.mark.parametrize("member", [Color.RED, Shade.DARK, Size.SMALL], ids=["Enum", "StrEnum", "IntEnum"])
def test_enum_cursor_values_round_trip_by_name(member: enum.Enum) -> None:
    from erlen_db.pagination import _from_json, _json_value

    column = sa.column("x", sa.Enum(type(member)))
    assert _json_value(member) == member.name
    assert _from_json(column, _json_value(member)) is member


class LedgerBase(DeclarativeBase):
    """Models of these tests only, kept off the shared metadata that other tests list."""


class Entry(LedgerBase):
    __tablename__ = "pagination_entry"

    id: Mapped[int] = mapped_column("entry_id", primary_key=True)  # the attribute and its column differ
    booked: Mapped[datetime.date] = mapped_column("booked_on")


@pytest.fixture
def ledger(app: Flask) -> Iterator[Flask]:
    database = erlen_db.database_of(app)
    LedgerBase.metadata.create_all(database.engine)
    with database.session_scope() as session:
        session.add_all([Entry(id=i, booked=datetime.date(2024, 1, 1 + i // 2)) for i in range(1, 6)])
    yield app
    LedgerBase.metadata.drop_all(database.engine)


@pytest.mark.parametrize(
    "order_by",
    [[Entry.id], [Entry.id.desc()], [Entry.booked.desc(), Entry.id.desc()]],
    ids=["attribute", "desc", "two-desc"],
)
def test_keyset_when_column_names_differ_from_attribute_names(
    ledger: Flask, order_by: list[sa.ColumnElement[t.Any] | QueryableAttribute[t.Any]]
) -> None:
    seen: list[int] = []
    cursor = None
    with erlen_db.database_of(ledger).session_scope() as session:
        while True:
            page = paginate_keyset(sa.select(Entry), order_by, after=cursor, per_page=2, session=session)
            seen += [entry.id for entry in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert sorted(seen) == [1, 2, 3, 4, 5] and len(seen) == 5


def test_keyset_order_by_takes_model_attributes_under_mypy(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed")
    snippet = tmp_path / "keyset_typing.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import datetime

            import sqlalchemy as sa
            from sqlalchemy.orm import Mapped, mapped_column

            from erlen_db import Model, paginate_keyset


            class Post(Model):
                __tablename__ = "typing_post"

                id: Mapped[int] = mapped_column(primary_key=True)
                created: Mapped[datetime.date]


            def listing(after: str | None) -> list[Post]:
                by_id = paginate_keyset(sa.select(Post), [Post.id], after=after)
                newest = paginate_keyset(sa.select(Post), [Post.created.desc(), Post.id], after=after)
                return by_id.items + newest.items
            """
        )
    )
    out, err, status = api.run(["--strict", "--no-incremental", "--follow-imports=silent", str(snippet)])
    assert status == 0, out + err


class Paint(LedgerBase):
    __tablename__ = "pagination_paint"

    id: Mapped[int] = mapped_column(primary_key=True)
    color: Mapped[Color] = mapped_column(sa.Enum(Color, name="pagination_color"))


@pytest.fixture
def paints(app: Flask) -> Iterator[Flask]:
    database = erlen_db.database_of(app)
    LedgerBase.metadata.create_all(database.engine)
    with database.session_scope() as session:
        session.add_all([Paint(id=i, color=list(Color)[i % 3]) for i in range(1, 11)])
    yield app
    LedgerBase.metadata.drop_all(database.engine)


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_keyset_walks_every_page_of_an_enum_ordering(paints: Flask, descending: bool) -> None:
    order_by = [Paint.color.desc() if descending else Paint.color, Paint.id]
    seen: list[tuple[Color, int]] = []
    cursor = None
    with erlen_db.database_of(paints).session_scope() as session:
        for _ in range(10):  # 4 pages; a cursor that does not round-trip could repeat pages forever
            page = paginate_keyset(sa.select(Paint), order_by, after=cursor, per_page=3, session=session)
            seen += [(paint.color, paint.id) for paint in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        else:
            pytest.fail(f"the walk does not end: {seen}")
    rank = {color: index for index, color in enumerate(Color)}
    expected = sorted(seen, key=lambda row: (-rank[row[0]] if descending else rank[row[0]], row[1]))
    assert len(seen) == 10 and seen == expected


def test_unknown_enum_name_in_a_cursor_answers_400(paints: Flask) -> None:
    paints.config["PROPAGATE_EXCEPTIONS"] = False

    @paints.get("/paints")
    def listing() -> str:
        page = paginate_keyset(sa.select(Paint), [Paint.color, Paint.id], after=request.args.get("after"), per_page=2)
        return ",".join(str(paint.id) for paint in page.items)

    response = paints.test_client().get("/paints", query_string={"after": encode_cursor(["PURPLE", 1])})
    assert response.status_code == 400 and "pagination cursor" in response.text
    after_first_blue = paints.test_client().get("/paints", query_string={"after": encode_cursor(["BLUE", 3])})
    assert after_first_blue.text == "6,9"

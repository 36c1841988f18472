"""The app context's shared connection (``Database.connection``) and ``Database.adopt``."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from app_models import Author, Book
from flask import Flask
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.exc import DetachedInstanceError

import erlen_db
from erlen_db.testing import MakeDbApp


def names(app: Flask) -> list[str]:
    with erlen_db.database_of(app).session_scope() as session:
        return list(session.scalars(sa.select(Author.name).order_by(Author.name)))


def insert(name: str) -> sa.Insert:
    return sa.insert(Author.__table__).values(name=name)


def detached_author(connection: sa.Connection, name: str) -> Author:
    """An ``Author`` made from a Core row, detached, as a user loader makes its user."""
    row = connection.execute(sa.select(Author.id, Author.name).where(Author.name == name)).one()
    author = Author()
    author.id, author.name = row
    make_transient_to_detached(author)
    return author


@pytest.fixture
def app(make_db_app: MakeDbApp) -> Flask:
    app = make_db_app(create_all=True)
    with erlen_db.database_of(app).session_scope() as session:
        ada = Author(name="ada")
        session.add(ada)
        session.flush()
        session.add(Book(title="Notes", published=datetime.date(1843, 9, 1), author_id=ada.id))
    return app


def test_core_reads_make_no_session_and_return_the_connection(app: Flask) -> None:
    database = erlen_db.database_of(app)

    @app.get("/read")
    def read() -> str:
        name = erlen_db.get_connection().execute(sa.select(Author.name)).scalar_one()
        assert erlen_db.get_connection() is database.connection()  # one per app context
        return f"{name} {database.current_session is None}"

    assert app.test_client().get("/read").text == "ada True"
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_the_session_made_after_the_connection_shares_it_and_commits_its_work(app: Flask) -> None:
    @app.post("/write")
    def write() -> str:
        connection = erlen_db.get_connection()
        connection.execute(insert("bob"))  # Core, before the session exists
        erlen_db.session.add(Author(name="cy"))
        assert erlen_db.session.connection() is connection
        erlen_db.session.commit()  # commits both: one transaction
        connection.execute(insert("dee"))  # after the commit, in a new transaction: never committed
        return "ok"

    assert app.test_client().post("/write").status_code == 200
    assert names(app) == ["ada", "bob", "cy"]


def test_session_commit_commits_core_work_even_when_the_session_did_nothing_else(app: Flask) -> None:
    @app.post("/core-only")
    def core_only() -> str:
        erlen_db.get_connection().execute(insert("bob"))
        erlen_db.session.commit()  # the session is made here, and has done nothing of its own
        return "ok"

    assert app.test_client().post("/core-only").status_code == 200
    assert names(app) == ["ada", "bob"]


def test_core_work_left_uncommitted_is_rolled_back(app: Flask) -> None:
    @app.post("/uncommitted")
    def uncommitted() -> str:
        erlen_db.get_connection().execute(insert("bob"))
        return "ok"

    assert app.test_client().post("/uncommitted").status_code == 200
    assert names(app) == ["ada"]
    assert erlen_db.database_of(app).engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_an_error_handler_that_commits_does_not_commit_the_failed_requests_core_work(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.post("/fail")
    def fail() -> str:
        erlen_db.session.add(Author(name="bob"))
        erlen_db.session.commit()  # saved
        erlen_db.get_connection().execute(insert("cy"))  # after the commit: the session does not hold it
        raise RuntimeError("boom")

    @app.errorhandler(500)
    def logged(error: Exception) -> tuple[str, int]:
        erlen_db.session.add(Author(name="error-log"))
        erlen_db.session.commit()
        return "failed", 500

    assert app.test_client().post("/fail").status_code == 500
    assert names(app) == ["ada", "bob", "error-log"]


def test_savepoints_work_on_the_shared_connection(app: Flask) -> None:
    @app.post("/nested")
    def nested() -> str:
        erlen_db.get_connection().execute(sa.select(Author.id)).all()
        erlen_db.session.add(Author(name="kept"))
        with erlen_db.session.begin_nested() as savepoint:
            erlen_db.session.add(Author(name="undone"))
            erlen_db.session.flush()
            savepoint.rollback()
        erlen_db.session.commit()
        return "ok"

    assert app.test_client().post("/nested").status_code == 200
    assert names(app) == ["ada", "kept"]


def test_an_adopted_instance_joins_the_session_when_it_is_made(app: Flask) -> None:
    database = erlen_db.database_of(app)

    @app.post("/rename")
    def rename() -> str:
        author = detached_author(database.connection(), "ada")
        database.adopt(author)
        assert database.current_session is None
        author.name = "ada lovelace"  # kept while it waits
        assert erlen_db.session.get(Author, author.id) is author  # the session made now holds it
        erlen_db.session.commit()
        return "ok"

    assert app.test_client().post("/rename").status_code == 200
    assert names(app) == ["ada lovelace"]


def test_reading_a_relationship_of_an_adopted_instance_makes_the_session(app: Flask) -> None:
    database = erlen_db.database_of(app)

    @app.get("/books")
    def books() -> str:
        author = detached_author(database.connection(), "ada")
        database.adopt(author)
        titles = ",".join(book.title for book in author.books)  # lazy load: makes the session, which adopts it
        return f"{titles} {database.current_session is sa.inspect(author).session}"

    assert app.test_client().get("/books").text == "Notes True"


def test_a_relationship_read_after_the_request_finds_the_instance_detached(app: Flask) -> None:
    database = erlen_db.database_of(app)
    kept: list[Author] = []

    @app.get("/adopt-only")
    def adopt_only() -> str:
        author = detached_author(database.connection(), "ada")
        database.adopt(author)
        kept.append(author)
        return str(database.current_session is None)

    assert app.test_client().get("/adopt-only").text == "True"
    with pytest.raises(DetachedInstanceError):
        _ = kept[0].books


def test_adopt_keeps_the_sessions_own_instance_of_the_row(app: Flask) -> None:
    database = erlen_db.database_of(app)

    @app.get("/twice")
    def twice() -> str:
        mine = erlen_db.session.scalars(sa.select(Author)).one()
        other = detached_author(database.connection(), "ada")
        database.adopt(other)  # the session holds the row already: the other instance stays out
        return str(sa.inspect(other).session is None and sa.inspect(mine).session is erlen_db.get_session())

    assert app.test_client().get("/twice").text == "True"


def test_under_rolled_back_the_connection_joins_the_tests_transaction(app: Flask) -> None:
    with erlen_db.rolled_back(app, create_tables=False):

        @app.post("/core-commit")
        def core_commit() -> str:
            erlen_db.get_connection().execute(insert("bob"))
            erlen_db.session.commit()
            return "ok"

        assert app.test_client().post("/core-commit").status_code == 200
        with erlen_db.database_of(app).session_scope() as session:
            assert session.scalars(sa.select(Author.name).order_by(Author.name)).all() == ["ada", "bob"]
    assert names(app) == ["ada"]


def test_get_connection_outside_an_app_context_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="outside an app context"):
        erlen_db.get_connection()


def test_get_reads_on_the_connection_without_making_the_session(app: Flask) -> None:
    database = erlen_db.database_of(app)

    @app.post("/get/<int:id>")
    def by_id(id: int) -> str:
        author = erlen_db.get_or_404(Author, id)
        made = database.current_session
        author.name = "ada lovelace"
        books = ",".join(book.title for book in author.books)  # lazy: makes the session, which adopts it
        erlen_db.session.commit()
        return f"{made is None} {books}"

    client = app.test_client()
    assert client.post("/get/1").text == "True Notes"
    assert client.post("/get/2").status_code == 404
    assert names(app) == ["ada lovelace"]


def test_get_goes_through_the_orm_when_sessions_listen_to_orm_statements(make_db_app: MakeDbApp) -> None:
    app = make_db_app(create_all=True)
    database = erlen_db.database_of(app)
    with database.session_scope() as session:
        session.add(Author(name="ada"))
    seen: list[str] = []
    sa.event.listen(
        database.sessionmaker, "do_orm_execute", lambda state: seen.append(state.statement.__class__.__name__)
    )

    @app.get("/get/<int:id>")
    def by_id(id: int) -> str:
        author = erlen_db.get_or_404(Author, id)
        return f"{author.name} {database.current_session is not None}"

    assert app.test_client().get("/get/1").text == "ada True"
    assert seen == ["Select"]

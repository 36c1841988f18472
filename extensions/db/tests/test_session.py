from __future__ import annotations

import datetime
import threading

import pytest
import sqlalchemy as sa
from app_models import Author, Book
from conftest import add_author_routes
from flask import Flask

import erlen_db
from erlen_db.testing import MakeDbApp


@pytest.fixture
def app_with_tables(make_db_app: MakeDbApp) -> Flask:
    app = add_author_routes(make_db_app(create_all=True))

    @app.post("/uncommitted/<name>")
    def uncommitted(name: str) -> str:
        erlen_db.session.add(Author(name=name))
        erlen_db.session.flush()
        return "ok"

    @app.post("/fail/<name>")
    def fail(name: str) -> str:
        erlen_db.session.add(Author(name=name))
        erlen_db.session.flush()
        raise RuntimeError("boom")

    @app.get("/same")
    def same() -> str:
        return str(erlen_db.session._get_current_object() is erlen_db.get_session())  # type: ignore[attr-defined]

    return app


def names(app: Flask) -> list[str]:
    with erlen_db.database_of(app).session_scope() as session:
        return list(session.scalars(sa.select(Author.name).order_by(Author.name)))


def test_explicit_commit_persists(app_with_tables: Flask) -> None:
    client = app_with_tables.test_client()
    assert client.post("/authors/ada").status_code == 200
    assert names(app_with_tables) == ["ada"]
    assert client.get("/authors").text == "ada"


def test_without_commit_nothing_persists(app_with_tables: Flask) -> None:
    assert app_with_tables.test_client().post("/uncommitted/bob").status_code == 200
    assert names(app_with_tables) == []


def test_unhandled_exception_rolls_back_and_removes_session(app_with_tables: Flask) -> None:
    app_with_tables.config["PROPAGATE_EXCEPTIONS"] = False
    assert app_with_tables.test_client().post("/fail/eve").status_code == 500
    assert names(app_with_tables) == []


def test_error_handler_that_commits_does_not_commit_the_failed_requests_writes(app_with_tables: Flask) -> None:
    app_with_tables.config["PROPAGATE_EXCEPTIONS"] = False

    @app_with_tables.errorhandler(500)
    def log_error(error: Exception) -> tuple[str, int]:
        erlen_db.session.add(Author(name="error-log"))
        erlen_db.session.commit()
        return "logged", 500

    assert app_with_tables.test_client().post("/fail/eve").text == "logged"
    assert names(app_with_tables) == ["error-log"]


def test_error_handler_can_use_the_session_after_a_failed_flush(app_with_tables: Flask) -> None:
    app_with_tables.config["PROPAGATE_EXCEPTIONS"] = False

    @app_with_tables.post("/twice/<name>")
    def twice(name: str) -> str:
        erlen_db.session.add_all([Author(name=name), Author(name=name)])
        erlen_db.session.flush()  # IntegrityError: the name is unique
        return "?"

    @app_with_tables.errorhandler(500)
    def count_authors(error: Exception) -> tuple[str, int]:
        return f"{erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author))} authors", 500

    response = app_with_tables.test_client().post("/twice/ann")
    assert (response.status_code, response.text) == (500, "0 authors")


def test_one_session_per_app_context(app_with_tables: Flask) -> None:
    assert app_with_tables.test_client().get("/same").text == "True"
    with app_with_tables.app_context():
        first = erlen_db.get_session()
        assert erlen_db.get_session() is first
    with app_with_tables.app_context():
        assert erlen_db.get_session() is not first


def test_current_session_is_the_context_s_once_made_and_makes_none(app_with_tables: Flask) -> None:
    database = erlen_db.database_of(app_with_tables)
    assert database.current_session is None  # no app context
    with app_with_tables.app_context():
        assert database.current_session is None
        assert database.current_session is None  # asking made none
        session = erlen_db.get_session()
        assert database.current_session is session
    with app_with_tables.app_context():
        assert database.current_session is None


def test_session_removed_at_teardown(app_with_tables: Flask) -> None:
    with app_with_tables.app_context():
        session = erlen_db.get_session()
        session.add(Author(name="gone"))
        session.flush()
        assert session.in_transaction()
    assert not session.in_transaction()
    assert names(app_with_tables) == []


def test_outside_requests_with_app_context(app_with_tables: Flask) -> None:
    with app_with_tables.app_context():
        erlen_db.session.add(Author(name="cli"))
        erlen_db.session.commit()
    assert names(app_with_tables) == ["cli"]


def test_background_job_in_another_thread(app_with_tables: Flask) -> None:
    database = erlen_db.database_of(app_with_tables)
    errors: list[BaseException] = []

    def job() -> None:
        try:
            with database.session_scope() as session:
                author = Author(name="worker")
                session.add(author)
                session.flush()
                session.add(Book(title="Jobs", published=datetime.date(2024, 1, 1), author_id=author.id))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert not errors
    assert names(app_with_tables) == ["worker"]


def test_session_scope_rolls_back_on_error(app_with_tables: Flask) -> None:
    database = erlen_db.database_of(app_with_tables)
    with pytest.raises(ValueError), database.session_scope() as session:
        session.add(Author(name="nope"))
        session.flush()
        raise ValueError
    assert names(app_with_tables) == []


def test_session_outside_app_context_is_a_clear_error(app_with_tables: Flask) -> None:
    with pytest.raises(RuntimeError, match="session_scope"):
        erlen_db.session.execute(sa.text("SELECT 1"))


def test_savepoint_rolls_back_alone(app_with_tables: Flask) -> None:
    with app_with_tables.app_context():
        session = erlen_db.session
        session.add(Author(name="kept"))
        with session.begin_nested() as savepoint:
            session.add(Author(name="undone"))
            session.flush()
            savepoint.rollback()
        session.commit()
    assert names(app_with_tables) == ["kept"]


def test_released_savepoint_is_rolled_back_with_its_transaction(app_with_tables: Flask) -> None:
    # Without a BEGIN before it, an SQLite SAVEPOINT opens a transaction of its own,
    # which its RELEASE commits whatever the enclosing transaction does next.
    with app_with_tables.app_context():
        session = erlen_db.session
        session.execute(sa.select(Author))  # the transaction begins with a read
        with session.begin_nested():
            session.add(Author(name="inner"))
        session.rollback()
    assert names(app_with_tables) == []


def test_savepoint_first_thing_in_the_transaction(app_with_tables: Flask) -> None:
    with app_with_tables.app_context():
        session = erlen_db.session
        with session.begin_nested():
            session.add(Author(name="inner"))
        session.rollback()
    assert names(app_with_tables) == []


# SQLite only: PostgreSQL's READ COMMITTED shows other transactions' commits by design. With lone reads (the
# default), reads before the first write run alone; test_lone_reads_sqlite covers that.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reads_of_one_transaction_see_one_snapshot(make_db_app: MakeDbApp, database_url: str) -> None:
    app = make_db_app(config={"DB_LONE_READS": False}, create_all=True)
    with app.app_context():
        session = erlen_db.session
        assert session.scalars(sa.select(Author.name)).all() == []
        with erlen_db.database_of(app).session_scope() as other:
            other.add(Author(name="later"))
        assert session.scalars(sa.select(Author.name)).all() == []
    assert names(app) == ["later"]

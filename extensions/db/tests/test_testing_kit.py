from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from app_models import Author
from conftest import add_author_routes
from flask import Flask
from sqlalchemy.orm import Session, selectinload

import erlen_db
from erlen_db.testing import MakeDbApp, databases_under_test

pytest_plugins = ["pytester"]


@pytest.fixture
def app(app: Flask) -> Iterator[Flask]:
    add_author_routes(app)

    @app.post("/rollback/<name>")
    def rollback(name: str) -> str:
        erlen_db.session.add(Author(name=name))
        erlen_db.session.flush()
        erlen_db.session.rollback()
        return "rolled back"

    @app.get("/n-plus-one")
    def n_plus_one() -> str:
        authors = erlen_db.session.scalars(sa.select(Author)).all()
        return str(sum(len(a.books) for a in authors))

    @app.get("/eager")
    def eager() -> str:
        authors = erlen_db.session.scalars(sa.select(Author).options(selectinload(Author.books))).all()
        return str(sum(len(a.books) for a in authors))

    yield app
    erlen_db.database_of(app).dispose()


def committed_names(app: Flask) -> list[str]:
    engine = erlen_db.database_of(app).engine
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("author"):
            return []
        return list(connection.scalars(sa.select(Author.name)))


class TestRolledBack:
    """Data committed by the test and by requests is visible within the test."""

    @pytest.mark.parametrize("name", ["first", "second"])
    def test_commits_are_rolled_back(self, app: Flask, db_session: Session, name: str) -> None:
        assert db_session.scalars(sa.select(Author)).all() == []
        db_session.add(Author(name=name))
        db_session.commit()
        client = app.test_client()
        assert client.post("/authors/other").status_code == 200
        assert client.get("/authors").text == ",".join(sorted([name, "other"]))


def test_commits_under_db_session_are_not_visible_outside_its_transaction(app: Flask, db_session: Session) -> None:
    db_session.add(Author(name="ann"))
    db_session.commit()
    assert app.test_client().post("/authors/bob").status_code == 200
    with erlen_db.database_of(app).session_scope() as job_session:
        job_session.add(Author(name="job"))
    assert committed_names(app) == []  # seen from a connection of its own


def test_the_database_tells_whether_its_sessions_join_a_rolled_back_transaction(app: Flask) -> None:
    database = erlen_db.database_of(app)
    assert not database.in_rolled_back_transaction
    with erlen_db.rolled_back(app):
        assert database.in_rolled_back_transaction  # code reading on connections of its own can refuse
    assert not database.in_rolled_back_transaction


def test_app_context_session_joins_the_test_transaction(app: Flask, db_session: Session) -> None:
    db_session.add(Author(name="ann"))
    db_session.commit()
    with app.app_context():
        assert erlen_db.session.scalars(sa.select(Author.name)).all() == ["ann"]
        erlen_db.session.add(Author(name="bob"))
        erlen_db.session.commit()
    assert sorted(db_session.scalars(sa.select(Author.name))) == ["ann", "bob"]


def test_failed_commit_in_request_does_not_break_the_test(app: Flask, db_session: Session) -> None:
    db_session.add(Author(name="ann"))
    db_session.commit()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().post("/authors/ann").status_code == 500  # unique name
    assert db_session.scalars(sa.select(Author.name)).all() == ["ann"]


def test_max_queries_catches_n_plus_one(app: Flask, db_session: Session, max_queries: object) -> None:
    for i in range(3):
        db_session.add(Author(name=f"a{i}"))
    db_session.commit()
    client = app.test_client()
    with pytest.raises(AssertionError, match="at most 2 queries, 4 ran") as info, max_queries(2):  # type: ignore[operator]
        client.get("/n-plus-one")
    assert "1. SELECT" in str(info.value)
    with max_queries(2):  # type: ignore[operator]
        assert client.get("/eager").text == "0"


def test_count_queries_fixture(app: Flask, db_session: Session, count_queries: object) -> None:
    with count_queries() as counter:  # type: ignore[operator]
        app.test_client().get("/authors")
    assert counter.count == 1 and counter.statements[0].startswith("SELECT")
    assert int(counter) == 1


@pytest.mark.parametrize("autocommit", [None, "engine", "execution_options"])
def test_rolled_back_leaves_nothing_behind(make_db_app: MakeDbApp, autocommit: str | None) -> None:
    # AUTOCOMMIT (of the engine, or of its connections' execution options) begins no transaction to roll back:
    # on SQLite each statement and the release of the first SAVEPOINT committed, on PostgreSQL SAVEPOINT failed.
    options: dict[str, object] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if autocommit == "execution_options":
        options = {"execution_options": options}
    app = add_author_routes(make_db_app(config={"DB_ENGINE_OPTIONS": options}))
    database = erlen_db.database_of(app)
    with erlen_db.rolled_back(app) as session:
        session.add(Author(name="ann"))
        session.commit()
        assert app.test_client().post("/authors/bob").status_code == 200
        with database.session_scope() as job_session:
            job_session.add(Author(name="job"))
        assert sorted(session.scalars(sa.select(Author.name))) == ["ann", "bob", "job"]
    assert not sa.inspect(database.engine).has_table("author")  # even the tables were rolled back

    database.create_all()
    with erlen_db.rolled_back(app, create_tables=False) as session:
        session.add(Author(name="ann"))
        session.commit()
    assert committed_names(app) == []
    if autocommit:
        # The test's connection went back to the pool under the engine's level: outside the block it autocommits.
        with database.engine.connect() as connection:
            connection.execute(sa.insert(Author).values(name="kept"))
        assert committed_names(app) == ["kept"]


def test_rollback_in_code_under_test_keeps_the_tests_rows(app: Flask, db_session: Session) -> None:
    db_session.add(Author(name="ann"))
    db_session.commit()
    assert app.test_client().post("/rollback/bob").text == "rolled back"
    assert db_session.scalars(sa.select(Author.name)).all() == ["ann"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_count_round_trips_counts_the_waits_on_postgresqls_wire(make_db_app: MakeDbApp) -> None:
    app = make_db_app()
    database = erlen_db.database_of(app)
    with database.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))  # the first connection's own set-up, outside the count
        connection.rollback()
    with erlen_db.count_round_trips(app) as alone, database.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
        connection.execute(sa.text("SELECT 2"))
        connection.commit()
    # BEGIN, the two statements, COMMIT: four waits, whatever count_queries would leave out.
    assert alone.count == 4, "\n".join(alone.messages)
    assert int(alone) == 4
    assert any("BEGIN" in line for line in alone.messages)
    with erlen_db.count_round_trips(app) as none:
        pass
    assert none.count == 0 and none.messages == []


@pytest.mark.parametrize(
    ("named", "kept"),
    [
        (None, ["sqlite", "postgresql"]),
        ("", ["sqlite", "postgresql"]),
        ("sqlite", ["sqlite"]),
        (" postgresql ", ["postgresql"]),
        ("postgresql,sqlite", ["sqlite", "postgresql"]),
    ],
)
def test_erlen_test_databases_keeps_the_databases_it_names(
    monkeypatch: pytest.MonkeyPatch, named: str | None, kept: list[str]
) -> None:
    if named is None:
        monkeypatch.delenv("ERLEN_TEST_DATABASES", raising=False)
    else:
        monkeypatch.setenv("ERLEN_TEST_DATABASES", named)
    assert databases_under_test() == kept


def test_erlen_test_databases_naming_another_database_stops_the_run_and_says_which(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ERLEN_TEST_DATABASES", "sqlite,mysql")
    with pytest.raises(pytest.UsageError, match="ERLEN_TEST_DATABASES names mysql: name sqlite, postgresql or both"):
        databases_under_test()


def test_database_url_runs_a_test_on_the_databases_kept(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_url(database_url):\n    assert database_url\n")
    pytester.makeini("[pytest]\n")
    monkeypatch.delenv("ERLEN_TEST_DATABASES", raising=False)
    both = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider").stdout.str()
    assert "test_url[sqlite]" in both and "test_url[postgresql]" in both
    monkeypatch.setenv("ERLEN_TEST_DATABASES", "sqlite")
    kept = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider").stdout.str()
    assert "test_url[sqlite]" in kept and "postgresql" not in kept

"""erlen_db.sqlite_writes.begin_immediately: a connection's transactions on SQLite take the write lock as they begin."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from app_models import Author

import erlen
import erlen_db
from erlen.testing import MakeApp
from erlen_db import begin_immediately


def _locked(path: Path) -> bool:
    """Whether another connection finds SQLite's write lock taken (it does not wait for it)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "database is locked" in str(exc)
        return True
    finally:
        other.close()
    return False


@pytest.mark.parametrize("lone", [True, False], ids=["lone-reads", "no-lone-reads"])
def test_the_transaction_holds_the_write_lock_from_its_first_statement(
    make_app: MakeApp, tmp_path: Path, lone: bool
) -> None:
    """A ``count(*)`` (not a lone read) takes the write lock, until the commit; a lone read takes none."""
    path = tmp_path / "writes.sqlite3"
    app = make_app(["db"], {"DB_URL": f"sqlite:///{path}", "DB_LONE_READS": lone})
    database = erlen_db.database_of(app)
    database.create_all()
    with app.app_context():
        connection = database.connection()
        assert begin_immediately(connection) is True
        assert begin_immediately(connection) is True  # twice changes nothing
        connection.scalar(sa.select(Author.name).where(Author.id == 1))
        assert _locked(path) is not lone  # a lone read ran alone; without lone reads, it began the transaction
        erlen_db.session.rollback()
        assert not _locked(path)
        count = erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author))
        assert count == 0 and _locked(path)  # the read began a transaction holding the write lock
        erlen_db.session.add(Author(name="ada"))
        erlen_db.session.commit()
        assert not _locked(path)
    database.dispose()


def test_a_session_of_one_s_own_reads_then_writes_while_another_connection_commits(
    make_app: MakeApp, tmp_path: Path
) -> None:
    """As docs/tasks.rst says: ``begin_immediately(session.connection())`` before its read. Without it, the
    write after the read fails at once, another connection having committed in between."""
    path = tmp_path / "own.sqlite3"
    app = make_app(["db"], {"DB_URL": f"sqlite:///{path}"})
    database = erlen_db.database_of(app)
    database.create_all()

    def read_other_commits_then_write(immediately: bool) -> None:
        with database.session_scope() as session:
            if immediately:
                begin_immediately(session.connection())
            session.scalar(sa.select(sa.func.count()).select_from(Author))
            if not immediately:  # another writer commits between the read and the write
                other = sqlite3.connect(path, isolation_level=None)
                other.execute("INSERT INTO author (name) VALUES ('other')")
                other.close()
            else:
                assert _locked(path)
            session.add(Author(name=f"own-{immediately}"))

    with pytest.raises(sa.exc.OperationalError, match="database is locked"):
        read_other_commits_then_write(False)
    read_other_commits_then_write(True)
    with database.session_scope() as session:
        assert session.scalars(sa.select(Author.name).order_by(Author.id)).all() == ["other", "own-True"]
    database.dispose()


def test_it_does_nothing_on_postgresql(make_app: MakeApp, postgres_schema_url: str) -> None:
    app = make_app(["db"], {"DB_URL": postgres_schema_url})
    database = erlen_db.database_of(app)
    with app.app_context():
        assert begin_immediately(database.connection()) is False
        assert database.connection().scalar(sa.select(sa.func.count()).select_from(sa.text("pg_class"))) > 0
    database.dispose()


@pytest.mark.parametrize("lone", [True, False], ids=["lone-reads", "no-lone-reads"])
@pytest.mark.parametrize("begin", ["deferred", "immediate"])
def test_a_request_that_counts_then_writes_while_another_commits(
    make_app: MakeApp, tmp_path: Path, lone: bool, begin: str
) -> None:
    """DB_SQLITE_BEGIN="immediate": a request whose transaction begins with a read that is not a lone one (a
    count) holds the write lock from there, so another connection's commit cannot come between its read and its
    write, which with "deferred" (SQLite's BEGIN) fails at once with "database is locked"."""
    path = tmp_path / "requests.sqlite3"
    app = make_app(["db"], {"DB_URL": f"sqlite:///{path}", "DB_LONE_READS": lone, "DB_SQLITE_BEGIN": begin})
    database = erlen_db.database_of(app)
    database.create_all()
    others: list[str] = []

    @app.post("/count-then-write")
    def count_then_write() -> str:
        count = erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author))
        # Another writer, as a request of another worker would; it must wait for this one under "immediate".
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("INSERT INTO author (name) VALUES ('other')")
            others.append("committed")
        except sqlite3.OperationalError:
            others.append("waited")
        finally:
            other.close()
        erlen_db.session.add(Author(name=f"after {count}"))
        erlen_db.session.commit()
        return "saved"

    answer = app.test_client().post("/count-then-write")
    with database.session_scope() as session:
        names = session.scalars(sa.select(Author.name).order_by(Author.id)).all()
    if begin == "immediate":
        assert answer.status_code == 200 and others == ["waited"]
        assert names == ["after 0"]
    else:
        assert answer.status_code == 503 and others == ["committed"]
        assert names == ["other"]
    database.dispose()


def test_a_lone_read_takes_no_lock_under_immediate_and_nothing_else_changes(make_app: MakeApp, tmp_path: Path) -> None:
    path = tmp_path / "lone.sqlite3"
    app = make_app(["db"], {"DB_URL": f"sqlite:///{path}", "DB_SQLITE_BEGIN": "immediate"})
    database = erlen_db.database_of(app)
    database.create_all()
    with app.app_context():
        erlen_db.session.scalar(sa.select(Author.name).where(Author.id == 1))
        assert not _locked(path)
        erlen_db.session.add(Author(name="ada"))
        erlen_db.session.flush()
        assert _locked(path)
        erlen_db.session.rollback()
        assert not _locked(path)
    database.dispose()


def test_an_unknown_way_to_begin_names_the_setting(make_app: MakeApp, tmp_path: Path) -> None:
    with pytest.raises(erlen.ConfigError, match=r"DB_SQLITE_BEGIN.*'deferred', 'immediate'"):
        make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "DB_SQLITE_BEGIN": "exclusive"})

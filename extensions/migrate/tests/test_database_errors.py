"""Database errors reach the user as one line saying what the driver said, never as a traceback."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from conftest import USERS_INITIAL, run, versions

import erlen_db


def test_a_locked_sqlite_file_says_it_is_busy(blogkit, app_on, tmp_path):
    path = tmp_path / "locked.sqlite3"
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = app_on(f"sqlite:///{path}", ["blogkit.users"], DB_SQLITE_BUSY_TIMEOUT=0)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")  # another process writing: it holds the write lock
    try:
        for command in (["upgrade"], ["stamp"]):
            result = run(app, *command)
            assert result.exit_code == 1, (command, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
            assert "is busy: OperationalError: database is locked" in result.output, result.output
            assert "run the command again" in result.output
            assert "server is running" not in result.output
            assert "Traceback" not in result.output
    finally:
        holder.rollback()
        holder.close()
    assert run(app, "upgrade").exit_code == 0
    assert versions(f"sqlite:///{path}") == {"u1"}


def test_a_file_that_is_no_database_gets_a_message(app_on, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are my notes, not a database " * 200)
    app = app_on(f"sqlite:///{path}")
    for command in (["current"], ["check"], ["stamp"]):
        result = run(app, *command)
        assert result.exit_code == 1, (command, result.output, result.exception)
        assert isinstance(result.exception, SystemExit), result.exception
        assert f"Cannot open the database at sqlite:///{path}: DatabaseError: file is not a database" in result.output
        assert "SQLite database this user may read and write" in result.output
    assert path.read_bytes().startswith(b"these are my notes")


def test_an_unreachable_server_names_the_driver_error_without_the_password(app_on):
    app = app_on("postgresql+psycopg://ann:s3cret-pw@127.0.0.1:1/test?connect_timeout=2")
    result = run(app, "current")
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Cannot reach the database at postgresql+psycopg://ann:***@127.0.0.1:1/test" in result.output
    assert "OperationalError: connection" in result.output
    assert "Check DB_URL and that the server is running." in result.output
    assert "s3cret-pw" not in result.output


def test_an_error_of_the_database_gets_a_message(app_on, tmp_path):
    path = tmp_path / "app.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE alembic_version (id INTEGER PRIMARY KEY)")  # another tool's table of that name
    other.close()
    app = app_on(f"sqlite:///{path}")
    for command in (["current"], ["stamp"]):
        result = run(app, *command)
        assert result.exit_code == 1, (command, result.output, result.exception)
        assert isinstance(result.exception, SystemExit), result.exception
        assert "answered with an error: OperationalError: no such column: alembic_version.version_num" in result.output
        assert "Check that DB_URL names the app's database" in result.output


def test_a_model_sqlalchemy_refuses_gets_a_message(app_on, tmp_path):
    # a foreign key to a table no MetaData of the app holds (a typo, or a model of another MetaData)
    table = sa.Table(
        "notes",
        erlen_db.Model.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("usres.id")),
    )
    try:
        app = app_on(f"sqlite:///{tmp_path / 'app.sqlite3'}")
        for command in (["revision", "-m", "notes", "--autogenerate"], ["check"]):
            result = run(app, *command)
            assert result.exit_code == 1, (command, result.output, result.exception)
            assert isinstance(result.exception, SystemExit), result.exception
            assert "SQLAlchemy cannot work with the models: NoReferencedTableError: Foreign key associated " in (
                result.output
            )
            assert "'notes.user_id' could not find table 'usres'" in result.output
    finally:
        erlen_db.Model.metadata.remove(table)

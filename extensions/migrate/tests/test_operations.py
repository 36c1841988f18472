"""Running migrations beside other processes and existing tables."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from conftest import USERS_INITIAL, run, tables, versions

import erlen_db
from erlen_migrate import LOCK_KEY, lock_key, migrations_of


def test_tables_made_by_create_all_get_a_stamp_hint(blogkit, migrate_app, database_url):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users"])
    erlen_db.database_of(app).create_all()
    result = run(app, "upgrade")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "erlen db stamp --plugin users u1" in result.output
    assert run(app, "stamp", "--plugin", "users", "u1").exit_code == 0
    assert versions(database_url) == {"u1"}


def test_unreachable_database(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users"], url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    result = run(app, "upgrade")
    assert result.exit_code == 1
    assert "Cannot reach the database at postgresql+psycopg://postgres@127.0.0.1:1/nowhere" in result.output


def test_the_migrations_lock_is_one_per_schema():
    # public keeps the key of earlier releases: a rolling deploy mixing releases still migrates one at a time.
    assert lock_key("public") == LOCK_KEY
    assert len({lock_key("public"), lock_key("tenant_a"), lock_key("tenant_b")}) == 3


@pytest.mark.parametrize("new_database", ["postgresql"], indirect=True)
def test_migrations_in_another_schema_do_not_wait_for_the_lock(blogkit, migrate_app, new_database):
    # Apps sharing a database in schemas of their own (and parallel test runs) migrate independently.
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    other_schema_url, own_url = new_database(), new_database()
    holder = migrate_app(["users"], url=other_schema_url)
    app = migrate_app(["users"], url=own_url)
    lines: list[str] = []
    done = threading.Event()

    def upgrade() -> None:
        try:
            migrations_of(app).upgrade(echo=lines.append)
        finally:
            done.set()

    with migrations_of(holder).connect(lock=True):
        worker = threading.Thread(target=upgrade)
        worker.start()
        finished_while_held = done.wait(20)
    worker.join(30)
    assert finished_while_held, lines
    assert not any(line.startswith("Another process") for line in lines)
    assert tables(own_url) == {"alembic_version", "users"}


# PostgreSQL only: the migrations lock is a PostgreSQL advisory lock.
@pytest.mark.parametrize("new_database", ["postgresql"], indirect=True)
def test_a_second_process_waits_for_the_migrations_lock(blogkit, migrate_app, database_url, dialect):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users"])
    holder = sa.create_engine(database_url, poolclass=sa.NullPool)
    lines: list[str] = []
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            migrations_of(app).upgrade(echo=lines.append)
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    with holder.connect() as connection:
        key = lock_key(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        connection.commit()
        worker = threading.Thread(target=upgrade)
        worker.start()
        deadline = time.monotonic() + 30
        while not lines and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lines and lines[0].startswith("Another process is running migrations")
        assert tables(database_url) == set()
        connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        connection.commit()
        worker.join(30)
    holder.dispose()
    assert not errors
    assert lines[1].startswith("Applied users u1")
    assert tables(database_url) == {"alembic_version", "users"}


SLOW_USERS_INITIAL = '''
"""create users, then wait for the test to let it finish

Revision ID: u1
Revises:
"""

import time
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "u1"
down_revision = None
branch_labels = ("users",)
depends_on = None


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id"))
    Path({started!r}).touch()
    deadline = time.monotonic() + 60
    while not Path({release!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def downgrade():
    op.drop_table("users")
'''


# SQLite only: on PostgreSQL the test above covers the lock.
@pytest.mark.parametrize("new_database", ["sqlite"], indirect=True)
def test_two_upgrades_of_one_sqlite_file_at_once_both_succeed(blogkit, migrate_app, database_url, tmp_path):
    """Two workers starting together: the second waits for the first's migrations, then finds nothing to do."""
    started, release = tmp_path / "started", tmp_path / "release"
    blogkit.write_migration(
        "users", "u1_create_users.py", SLOW_USERS_INITIAL.format(started=str(started), release=str(release))
    )
    first_app, second_app = migrate_app(["users"]), migrate_app(["users"])
    first_lines: list[str] = []
    second_lines: list[str] = []
    errors: list[BaseException] = []

    def upgrade(app, lines: list[str]) -> None:
        try:
            migrations_of(app).upgrade(echo=lines.append)
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    first = threading.Thread(target=upgrade, args=(first_app, first_lines))
    second = threading.Thread(target=upgrade, args=(second_app, second_lines))
    try:
        first.start()
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists(), errors
        second.start()  # while the first is inside its migration
        while not second_lines and second.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        release.touch()
        first.join(60)
        second.join(60)
    assert not errors, errors
    assert second_lines[0].startswith("Another process is running migrations on this database file")
    assert first_lines[0].startswith("Applied users u1")
    assert second_lines[1:] == ["Nothing to do: the database is up to date."]
    assert versions(database_url) == {"u1"}
    assert tables(database_url) == {"alembic_version", "users"}

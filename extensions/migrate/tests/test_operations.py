"""Running migrations beside other processes and existing tables."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from conftest import USERS_INITIAL, run, tables, versions

import erlen_db
from erlen_migrate import LOCK_KEY, migrations_of


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
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        connection.commit()
        worker = threading.Thread(target=upgrade)
        worker.start()
        deadline = time.monotonic() + 30
        while not lines and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lines and lines[0].startswith("Another process is running migrations")
        assert tables(database_url) == set()
        connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
        connection.commit()
        worker.join(30)
    holder.dispose()
    assert not errors
    assert lines[1].startswith("Applied users u1")
    assert tables(database_url) == {"alembic_version", "users"}

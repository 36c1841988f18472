"""On PostgreSQL, psycopg's prepared statements outlive the rollback that ends each request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from app_models import Author
from backends import pooled_backend_pid
from flask import Flask

import erlen_db
from erlen.testing import MakeApp
from erlen_db import prepared_statements

#: How many times a connection runs a statement before psycopg prepares it, and once more.
PREPARED_AFTER = 6


@pytest.fixture
def app(make_app: MakeApp, postgres_schema_url: str) -> Iterator[Flask]:
    """An app on PostgreSQL listing, adding (without committing) and showing the prepared statements."""
    app = make_app(["db"], {"DB_URL": postgres_schema_url, "PROPAGATE_EXCEPTIONS": False})
    database = erlen_db.database_of(app)
    database.create_all()

    @app.get("/authors")
    def authors() -> str:
        return ",".join(erlen_db.session.scalars(sa.select(Author.name).order_by(Author.name)))

    @app.post("/authors/<name>")
    def add_uncommitted(name: str) -> str:
        erlen_db.session.add(Author(name=name))
        erlen_db.session.flush()
        return "added, not committed"

    @app.get("/prepared")
    def prepared() -> list[str]:
        return list(erlen_db.session.scalars(sa.text("SELECT statement FROM pg_prepared_statements")))

    yield app
    database.dispose()


def _prepared_author_queries(app: Flask) -> list[str]:
    statements = app.test_client().get("/prepared").json
    assert isinstance(statements, list)
    return [statement for statement in statements if "FROM author" in statement]


def test_statements_stay_prepared_across_requests_that_roll_back(app: Flask) -> None:
    client = app.test_client()
    client.post("/authors/ada")  # not committed
    for _ in range(PREPARED_AFTER):
        assert client.get("/authors").text == ""
    # Every request rolled back, on the one pooled connection, which still holds the statement, prepared.
    assert len(_prepared_author_queries(app)) == 1


def test_each_request_still_ends_its_transaction(app: Flask, postgres_schema_url: str) -> None:
    client = app.test_client()
    for _ in range(PREPARED_AFTER):
        client.get("/authors")
    assert client.post("/authors/ada").text == "added, not committed"
    pid = pooled_backend_pid(app)
    other = sa.create_engine(postgres_schema_url, poolclass=sa.NullPool)
    with other.connect() as connection:
        state = connection.scalar(sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
        authors = connection.scalar(sa.select(sa.func.count()).select_from(Author))
    other.dispose()
    assert (state, authors) == ("idle", 0)  # not "idle in transaction": rolled back, the row gone
    assert client.get("/authors").text == ""


def test_a_statement_a_schema_change_made_stale_fails_once_then_is_prepared_afresh(
    app: Flask, postgres_schema_url: str
) -> None:
    client = app.test_client()
    for _ in range(PREPARED_AFTER):
        client.get("/authors")
    assert len(_prepared_author_queries(app)) == 1
    other = sa.create_engine(postgres_schema_url, poolclass=sa.NullPool)
    with other.begin() as connection:
        # A migration widening the column while the app runs: the prepared statement's result type changes.
        connection.execute(sa.text("ALTER TABLE author ALTER COLUMN name TYPE varchar(200)"))
    other.dispose()
    # PostgreSQL refuses the stale statement ("cached plan must not change result type"); the failed
    # transaction's rollback is psycopg's own, which forgets the connection's statements.
    statuses = [client.get("/authors").status_code for _ in range(2)]
    assert statuses in ([500, 200], [200, 200])
    for _ in range(PREPARED_AFTER):
        assert client.get("/authors").status_code == 200
    assert len(_prepared_author_queries(app)) == 1


def test_only_psycopg_keeps_them() -> None:
    assert prepared_statements.can_keep(sa.make_url("postgresql+psycopg://db/app"))
    assert not prepared_statements.can_keep(sa.make_url("postgresql+psycopg2://db/app"))

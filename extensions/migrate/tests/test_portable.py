"""A plugin generates its migrations on one database and ships them to apps on the other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import drop_schemas, ok, postgres_schema_url, sqlite_url

import erlen_db

FLAGS_MODELS = """
import datetime

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Flag(Base):
    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(server_default=sa.true())
    hidden: Mapped[bool] = mapped_column(server_default=sa.false())
    created: Mapped[datetime.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    hits: Mapped[int] = mapped_column(server_default=sa.text("0"))
    label: Mapped[str] = mapped_column(String(20), server_default="new")
    note: Mapped[str] = mapped_column(String(20), server_default=sa.func.lower(sa.func.upper("Hi")))
"""


@pytest.fixture
def urls(postgres_engine: sa.Engine, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A new SQLite database and a new PostgreSQL schema."""
    schemas: list[str] = []
    yield {"sqlite": sqlite_url(tmp_path), "postgresql": postgres_schema_url(postgres_engine, schemas)}
    drop_schemas(postgres_engine, schemas)


@pytest.mark.parametrize(("generated_on", "run_on"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_server_defaults_run_on_the_other_database(blogkit, app_on, urls, generated_on, run_on):
    (blogkit.package / "flags_models.py").write_text(FLAGS_MODELS)
    (blogkit.package / "flags.py").write_text(
        (blogkit.package / "users.py")
        .read_text()
        .replace("name='users'", "name='flags'")
        .replace("users_models", "flags_models")
        .replace("users_migrations", "flags_migrations")
    )
    author = app_on(urls[generated_on], ["blogkit.flags"])
    ok(author, "revision", "--plugin", "flags", "-m", "create flags", "--autogenerate")
    source = blogkit.files("flags")[0].read_text()
    assert "server_default=sa.true()" in source and "server_default=sa.func.now()" in source

    user = app_on(urls[run_on], ["blogkit.flags"])
    ok(user, "upgrade")
    assert ok(user, "check").output == "Models and migrations agree.\n"
    with erlen_db.database_of(user).engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO flags (name) VALUES ('beta')"))
        row = connection.execute(sa.text("SELECT active, hidden, created, hits, label, note FROM flags")).one()
    assert (bool(row.active), bool(row.hidden), row.hits, row.label, row.note) == (True, False, 0, "new", "hi")
    assert row.created is not None

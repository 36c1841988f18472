from __future__ import annotations

import sys
import textwrap
import typing as t
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

import erlen_db
from erlen.testing import MakeApp
from erlen_db.testing import MakeDbApp, databases_under_test, postgres_url

BASE = """
from sqlalchemy.orm import DeclarativeBase

import erlen_db


class Base(DeclarativeBase):
    metadata = erlen_db.naming_metadata()
"""

MODELS = {
    "users": """
        from sqlalchemy import String
        from sqlalchemy.orm import Mapped, mapped_column

        from .base import Base


        class User(Base):
            __tablename__ = "users"

            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(80), unique=True)
    """,
    "posts": """
        from sqlalchemy import ForeignKey, String
        from sqlalchemy.orm import Mapped, mapped_column

        from .base import Base
        from . import users_models  # noqa: F401


        class Post(Base):
            __tablename__ = "posts"

            id: Mapped[int] = mapped_column(primary_key=True)
            author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
            title: Mapped[str] = mapped_column(String(200), index=True)
    """,
    "comments": """
        from sqlalchemy import ForeignKey, Text
        from sqlalchemy.orm import Mapped, mapped_column

        from .base import Base
        from . import posts_models, users_models  # noqa: F401


        class Comment(Base):
            __tablename__ = "comments"

            id: Mapped[int] = mapped_column(primary_key=True)
            post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
            author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
            body: Mapped[str] = mapped_column(Text)
    """,
}

REQUIRES = {"users": ["db"], "posts": ["db", "users"], "comments": ["db", "users", "posts"]}

PLUGIN = """
import erlen

PLUGIN = erlen.Plugin(name={name!r}, requires={requires!r})


@erlen.hookimpl
def erlen_db_models():
    from . import {name}_models

    found = [getattr({name}_models, n) for n in dir({name}_models)]
    return [model for model in found if getattr(model, "__tablename__", None)]


@erlen.hookimpl(optionalhook=True)
def erlen_migrate_locations():
    return "{name}_migrations"
"""


class Blogkit:
    """Three test plugins whose tables reference each other: users <- posts <- comments.

    Written as a real package ``blogkit`` in a folder on ``sys.path``; each
    plugin's migrations folder is ``blogkit/<name>_migrations``.
    """

    def __init__(self, root: Path) -> None:
        self.package = root / "blogkit"
        self.package.mkdir()
        (self.package / "__init__.py").write_text("")
        (self.package / "base.py").write_text(BASE)
        for name, source in MODELS.items():
            (self.package / f"{name}_models.py").write_text(textwrap.dedent(source))
            (self.package / f"{name}.py").write_text(PLUGIN.format(name=name, requires=REQUIRES[name]))

    def folder(self, name: str) -> Path:
        return self.package / f"{name}_migrations"

    def files(self, name: str) -> list[Path]:
        folder = self.folder(name)
        return sorted(folder.glob("*.py")) if folder.is_dir() else []

    def write_migration(self, name: str, filename: str, source: str) -> Path:
        folder = self.folder(name)
        folder.mkdir(exist_ok=True)
        path = folder / filename
        path.write_text(textwrap.dedent(source))
        return path

    @staticmethod
    def cleanup() -> None:
        for module in list(sys.modules):
            if module == "blogkit" or module.startswith("blogkit."):
                del sys.modules[module]


@pytest.fixture
def blogkit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Blogkit]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    kit = Blogkit(root)
    yield kit
    kit.cleanup()


# Databases


@pytest.fixture(params=databases_under_test())
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of URLs of empty databases: SQLite files, or fresh PostgreSQL schemas dropped afterwards."""
    schemas: list[str] = []
    engine: sa.Engine | None = None
    if request.param == "postgresql":
        engine = request.getfixturevalue("postgres_engine")

    def make() -> str:
        if engine is None:
            return sqlite_url(tmp_path)
        return postgres_schema_url(engine, schemas)

    yield make
    if engine is not None:
        drop_schemas(engine, schemas)


def sqlite_url(folder: Path) -> str:
    """The URL of a new SQLite file in ``folder``."""
    return f"sqlite:///{folder / f'db{uuid.uuid4().hex[:8]}.sqlite3'}"


def postgres_schema_url(engine: sa.Engine, schemas: list[str]) -> str:
    """The URL of a new, empty PostgreSQL schema, whose name is added to ``schemas`` for :func:`drop_schemas`."""
    schema = f"erlen_migrate_test_{uuid.uuid4().hex[:12]}"
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    schemas.append(schema)
    url = sa.make_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def drop_schemas(engine: sa.Engine, schemas: Iterable[str]) -> None:
    with engine.begin() as connection:
        for schema in schemas:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture
def dialect(database_url: str) -> str:
    return sa.make_url(database_url).get_backend_name()


MigrateApp = Callable[..., Flask]


@pytest.fixture
def migrate_app(make_db_app: MakeDbApp, tmp_path: Path) -> MigrateApp:
    """A factory of apps with ``db`` and ``migrate`` and the given plugins, on ``database_url`` by default."""

    def make(
        plugins: Iterable[str] = (), config: Mapping[str, t.Any] | None = None, *, url: str | None = None
    ) -> Flask:
        settings = {"MIGRATE_APP_DIRECTORY": str(tmp_path / "app_migrations"), **(config or {})}
        return make_db_app(["migrate", *(f"blogkit.{p}" for p in plugins)], settings, url=url or None)

    return make


@pytest.fixture
def app_on(make_app: MakeApp, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """A factory of apps on the URL given, for tests that pick their databases rather than run once per database."""
    made: list[Flask] = []

    def make(url: str, plugins: list[str] | None = None, **config: object) -> Flask:
        settings = {"DB_URL": url, "MIGRATE_APP_DIRECTORY": str(tmp_path / "app_migrations"), **config}
        app = make_app(["db", "migrate", *(plugins or [])], settings)
        made.append(app)
        return app

    yield make
    for app in made:
        erlen_db.database_of(app).dispose()


def run(app: Flask, *args: str) -> Result:
    """Run ``erlen db ARGS`` on ``app``."""
    return app.test_cli_runner().invoke(args=["db", *args])


def ok(app: Flask, *args: str) -> Result:
    """Run ``erlen db ARGS`` and assert it succeeded."""
    result = run(app, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def versions(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(sa.text("SELECT version_num FROM alembic_version"))}
    finally:
        engine.dispose()


def generate_initial(app: Flask, names: Iterable[str] = ("users", "posts", "comments")) -> None:
    """Autogenerate and apply each plugin's first migration, in dependency order."""
    for name in names:
        ok(app, "revision", "--plugin", name, "-m", f"create {name}", "--autogenerate")
        ok(app, "upgrade")


USERS_INITIAL = '''
"""create users, written by hand

Revision ID: u1
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "u1"
down_revision = None
branch_labels = ("users",)
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )


def downgrade():
    op.drop_table("users")
'''

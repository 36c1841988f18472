from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import app_models  # noqa: F401  (defines the app's own models)
import pytest
import sqlalchemy as sa

import erlen_db
from erlen.testing import MakeApp
from erlen_db.testing import MakeDbApp


def test_info_shows_redacted_url_and_tables_by_owner(make_db_app: MakeDbApp) -> None:
    app = make_db_app(["sample_plugins.blog", "sample_plugins.tags"])
    result = app.test_cli_runner().invoke(args=["db", "info"])
    assert result.exit_code == 0, result.output
    assert f"URL: {erlen_db.database_of(app).display_url}" in result.output
    lines = result.output.splitlines()
    assert lines.index("blog:") < lines.index("  blog_post  (not created)")
    assert lines.index("tags:") < lines.index("  tags_tag  (not created)")
    assert "app:" in lines and "  author  (not created)" in lines
    assert "Database: reachable" in lines
    erlen_db.database_of(app).create_all()
    lines = app.test_cli_runner().invoke(args=["db", "info"]).output.splitlines()
    assert "  author" in lines and "  blog_post" in lines


def test_info_hides_password_and_works_while_database_is_down(make_app: MakeApp) -> None:
    app = make_app(["db"], {"DB_URL": "postgresql+psycopg://bob:s3cr3t@127.0.0.1:1/db?connect_timeout=2"})
    result = app.test_cli_runner().invoke(args=["db", "info"])
    assert result.exit_code == 0, result.output
    assert "s3cr3t" not in result.output and "bob:***@127.0.0.1:1/db" in result.output
    assert "Database: unreachable" in result.output
    erlen_db.database_of(app).dispose()


def test_create_all_creates_tables(make_db_app: MakeDbApp) -> None:
    app = make_db_app(["sample_plugins.blog"])
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    assert result.exit_code == 0, result.output
    assert {"author", "book", "blog_post"} <= set(sa.inspect(erlen_db.database_of(app).engine).get_table_names())


def test_create_all_is_for_development_only(make_db_app: MakeDbApp) -> None:
    app = make_db_app(config={"TESTING": False})
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    assert result.exit_code == 1
    assert "for development" in result.output
    assert app.test_cli_runner().invoke(args=["db", "create-all", "--force"]).exit_code == 0


def test_create_all_refuses_a_database_the_migrations_plugin_manages(make_db_app: MakeDbApp) -> None:
    app = make_db_app(["sample_plugins.migrated"])
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    assert result.exit_code == 1
    assert "managed by migrations" in result.output and "erlen db upgrade" in result.output
    assert "author" not in sa.inspect(erlen_db.database_of(app).engine).get_table_names()


def test_create_all_refuses_a_database_with_alembic_version(make_db_app: MakeDbApp) -> None:
    app = make_db_app()
    with erlen_db.database_of(app).engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    assert result.exit_code == 1 and "erlen db upgrade" in result.output


def test_create_all_on_unreachable_database(make_app: MakeApp) -> None:
    app = make_app(["db"], {"DB_URL": "postgresql+psycopg://bob:s3cr3t@127.0.0.1:1/db?connect_timeout=2"})
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    assert result.exit_code == 1
    assert "Cannot reach the database" in result.output and "s3cr3t" not in result.output
    erlen_db.database_of(app).dispose()


def test_group_accepts_subcommands_of_other_plugins(make_db_app: MakeDbApp) -> None:
    app = make_db_app()
    group = app.cli.commands["db"]
    assert {"info", "create-all"} <= set(group.commands)  # type: ignore[attr-defined]


def test_commands_use_the_session_without_an_explicit_app_context(make_db_app: MakeDbApp) -> None:
    from app_models import Author

    app = make_db_app(create_all=True)

    @app.cli.command("add-author")
    def add_author() -> None:
        erlen_db.session.add(Author(name="from-cli"))
        erlen_db.session.commit()

    result = app.test_cli_runner().invoke(args=["add-author"])
    assert result.exit_code == 0, result.output
    with erlen_db.database_of(app).session_scope() as session:
        assert session.scalars(sa.select(Author.name)).all() == ["from-cli"]


@pytest.fixture
def app_table_named_like_blogs() -> Iterator[sa.Table]:
    """An app table with the name of the blog plugin's table, removed from the shared metadata afterwards."""
    table = sa.Table("blog_post", erlen_db.Model.metadata, sa.Column("id", sa.Integer, primary_key=True))
    yield table
    erlen_db.Model.metadata.remove(table)


@pytest.mark.parametrize("command", [["db", "info"], ["db", "create-all"]])
def test_commands_report_a_table_conflict_without_a_traceback(
    make_db_app: MakeDbApp, app_table_named_like_blogs: sa.Table, command: list[str]
) -> None:
    app = make_db_app(["sample_plugins.blog"])
    result = app.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not an uncaught error
    assert "Error: The app and plugin 'blog' both define the table 'blog_post'" in result.output
    assert "__tablename__" in result.output
    assert sa.inspect(erlen_db.database_of(app).engine).get_table_names() == []


def read_only_url(database_url: str, tmp_path: Path) -> str:
    """``database_url`` opened read-only, with a password that must not be shown (trust auth ignores it)."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = tmp_path / "read-only.sqlite3"
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA journal_mode=WAL")  # as the plugin sets it, which a read-only file cannot
        connection.close()
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    options = f"{url.query['options']} -cdefault_transaction_read_only=on"
    return url.set(password="s3cr3t").update_query_dict({"options": options}).render_as_string(hide_password=False)


def test_create_all_reports_a_database_that_refuses_writes(
    make_app: MakeApp, database_url: str, tmp_path: Path
) -> None:
    app = make_app(["db"], {"DB_URL": read_only_url(database_url, tmp_path)})
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    erlen_db.database_of(app).dispose()
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"Error: The database at {erlen_db.database_of(app).display_url} answered with an error: " in result.output
    assert "readonly database" in result.output or "read-only transaction" in result.output
    assert "s3cr3t" not in result.output and "[SQL:" not in result.output  # no password, no statement
    assert len(result.output.strip().splitlines()) == 1


# SQLite only: PostgreSQL lists any schema's tables, existing or not, without an error.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_info_reports_a_database_error_without_a_traceback(make_db_app: MakeDbApp) -> None:
    table = sa.Table("elsewhere_note", erlen_db.Model.metadata, sa.Column("id", sa.Integer), schema="elsewhere")
    try:
        result = make_db_app().test_cli_runner().invoke(args=["db", "info"])
    finally:
        erlen_db.Model.metadata.remove(table)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "answered with an error: OperationalError: no such table: elsewhere.sqlite_master." in result.output

from __future__ import annotations

import app_models  # noqa: F401  (defines the app's own models)
import sqlalchemy as sa
from conftest import DbApp

import erlen_db
from erlen.testing import MakeApp


def test_info_shows_redacted_url_and_tables_by_owner(db_app: DbApp) -> None:
    app = db_app(["sample_plugins.blog", "sample_plugins.tags"])
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


def test_create_all_creates_tables(db_app: DbApp) -> None:
    app = db_app(["sample_plugins.blog"])
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    assert result.exit_code == 0, result.output
    assert {"author", "book", "blog_post"} <= set(sa.inspect(erlen_db.database_of(app).engine).get_table_names())


def test_create_all_is_for_development_only(db_app: DbApp) -> None:
    app = db_app(config={"TESTING": False})
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    assert result.exit_code == 1
    assert "for development" in result.output
    assert app.test_cli_runner().invoke(args=["db", "create-all", "--force"]).exit_code == 0


def test_create_all_refuses_a_database_the_migrations_plugin_manages(db_app: DbApp) -> None:
    app = db_app(["sample_plugins.migrated"])
    result = app.test_cli_runner().invoke(args=["db", "create-all"])
    assert result.exit_code == 1
    assert "managed by migrations" in result.output and "erlen db upgrade" in result.output
    assert "author" not in sa.inspect(erlen_db.database_of(app).engine).get_table_names()


def test_create_all_refuses_a_database_with_alembic_version(db_app: DbApp) -> None:
    app = db_app()
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


def test_group_accepts_subcommands_of_other_plugins(db_app: DbApp) -> None:
    app = db_app()
    group = app.cli.commands["db"]
    assert {"info", "create-all"} <= set(group.commands)  # type: ignore[attr-defined]


def test_commands_use_the_session_without_an_explicit_app_context(db_app: DbApp) -> None:
    from app_models import Author

    app = db_app()
    erlen_db.database_of(app).create_all()

    @app.cli.command("add-author")
    def add_author() -> None:
        erlen_db.session.add(Author(name="from-cli"))
        erlen_db.session.commit()

    result = app.test_cli_runner().invoke(args=["add-author"])
    assert result.exit_code == 0, result.output
    with erlen_db.database_of(app).session_scope() as session:
        assert session.scalars(sa.select(Author.name)).all() == ["from-cli"]

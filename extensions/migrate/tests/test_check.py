"""``erlen db check`` for CI, ``erlen check`` warnings, and create-all on a managed database."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import USERS_INITIAL, generate_initial, ok, run

import erlen_db
from erlen.checks import run_checks


def _users_table(app):
    return erlen_db.database_of(app).plugin_tables["users"][1]


def test_check_passes_when_models_and_migrations_agree(blogkit, migrate_app):
    app = migrate_app(["users", "posts", "comments"])
    generate_initial(app)
    assert ok(app, "check").output == "Models and migrations agree.\n"


def test_check_fails_on_a_model_change_without_migration(blogkit, migrate_app):
    app = migrate_app(["users", "posts", "comments"])
    generate_initial(app)
    _users_table(app).append_column(sa.Column("email", sa.String(120), nullable=True))
    result = run(app, "check")
    assert result.exit_code == 1
    assert "users: the models differ from the migrations:" in result.output
    assert "add column users.email" in result.output
    assert "erlen db revision --plugin users --autogenerate" in result.output
    assert "posts:" not in result.output

    # the fix: a revision holding only that change; batch mode on SQLite
    ok(app, "revision", "--plugin", "users", "-m", "add email", "--autogenerate")
    newest = max(blogkit.files("users"), key=lambda p: p.stat().st_mtime_ns)
    text = newest.read_text()
    assert "email" in text and "posts" not in text
    if app.extensions["db"].engine.dialect.name == "sqlite":
        assert "batch_alter_table('users'" in text
    ok(app, "upgrade")
    ok(app, "check")
    # and back down: a batch DROP COLUMN on SQLite keeps the rows that reference users
    engine = erlen_db.database_of(app).engine
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO users (id, name, email) VALUES (1, 'ann', 'a@b.c')"))
        connection.execute(sa.text("INSERT INTO posts (id, author_id, title) VALUES (1, 1, 'hello')"))
    ok(app, "downgrade", "--plugin", "users", "-1")
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM posts")).scalar() == 1
        assert connection.execute(sa.text("SELECT name FROM users")).scalar() == "ann"


def test_check_fails_on_tables_without_migrations(blogkit, migrate_app):
    app = migrate_app(["users", "posts"])
    generate_initial(app, ["users"])
    result = run(app, "check")
    assert result.exit_code == 1
    assert "posts: its tables (posts) have no migrations." in result.output


def test_check_fails_on_an_outdated_database(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    result = run(migrate_app(["users"]), "check")
    assert result.exit_code == 1
    assert "users: 1 migrations are not applied to the database; run erlen db upgrade first" in result.output


def test_autogenerate_with_no_changes_writes_nothing(blogkit, migrate_app):
    app = migrate_app(["users"])
    generate_initial(app, ["users"])
    assert (
        "No changes in the tables of plugin 'users': no revision written."
        in ok(app, "revision", "--plugin", "users", "-m", "nothing", "--autogenerate").output
    )
    assert len(blogkit.files("users")) == 1


def test_the_app_branch(blogkit, migrate_app, tmp_path):
    table = sa.Table(
        "app_notes", erlen_db.Model.metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.Text)
    )
    try:
        app = migrate_app(["users"])
        generate_initial(app, ["users"])
        warnings = [m for m in run_checks(app) if m.id == "migrate.W002"]
        assert [m.message for m in warnings] == ["The app owns tables (app_notes) that no migration creates."]
        ok(app, "revision", "-m", "notes", "--autogenerate")
        (path,) = (tmp_path / "app_migrations").glob("*.py")
        text = path.read_text()
        assert "branch_labels: str | Sequence[str] | None = ('app',)" in text
        assert "app_notes" in text and "users" not in text
        assert "Applied app" in ok(app, "upgrade").output
        ok(app, "check")
    finally:
        erlen_db.Model.metadata.remove(table)


def test_erlen_check_warns_about_unapplied_and_missing_migrations(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users", "posts"])
    messages = {m.id: m for m in run_checks(app) if m.plugin == "migrate"}
    assert messages["migrate.W001"].message == "Plugin 'users' has 1 unapplied migration (head u1)."
    assert messages["migrate.W001"].hint == "Run erlen db upgrade."
    assert messages["migrate.W002"].message == "Plugin 'posts' owns tables (posts) that no migration creates."
    assert "erlen db revision --plugin posts --autogenerate" in messages["migrate.W002"].hint

    ok(app, "upgrade")
    ok(app, "revision", "--plugin", "posts", "-m", "create posts", "--autogenerate")
    ok(app, "upgrade")
    assert not [m for m in run_checks(app) if m.plugin == "migrate"]
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0 and "migrate" not in result.output


def test_erlen_check_reports_broken_migrations_as_errors(blogkit, migrate_app):
    blogkit.write_migration("users", "u1.py", "revision = 'u1'\nraise ValueError('oops')\n")
    app = migrate_app(["users"])
    (message,) = [m for m in run_checks(app) if m.plugin == "migrate"]
    assert message.id == "migrate.E001"
    assert "of plugin 'users' cannot be loaded: ValueError: oops" in message.message
    assert app.test_cli_runner().invoke(args=["check"]).exit_code == 1


def test_plugin_without_locations_hook(blogkit, migrate_app):
    (blogkit.package / "users.py").write_text(
        (blogkit.package / "users.py").read_text().split("@erlen.hookimpl(optionalhook=True)")[0]
    )
    app = migrate_app(["users"])
    (message,) = [m for m in run_checks(app) if m.id == "migrate.W002"]
    assert "implement the erlen_migrate_locations hook" in message.hint
    result = run(app, "revision", "--plugin", "users", "-m", "x")
    assert result.exit_code == 1 and "Plugins with migrations: app." in result.output


def test_create_all_refuses_a_managed_database(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users"])
    result = run(app, "create-all")
    assert result.exit_code == 1
    assert "Run `erlen db upgrade` instead." in result.output


def test_create_all_allowed_without_migrations(migrate_app, database_url):
    app = migrate_app([])
    assert ok(app, "create-all").exit_code == 0

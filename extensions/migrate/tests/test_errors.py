"""Failing migrations roll back; broken files, two heads and unknown plugins get messages that say what to do."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import USERS_INITIAL, ok, run, tables, versions

from erlen_migrate import migrations_of

FAILING = '''
"""{message}"""
import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("users", sa.Column("email", sa.String(120), nullable=True))
    {body}


def downgrade():
    op.drop_column("users", "email")
    op.drop_table("audit")
'''


# AUTOCOMMIT begins no transaction: the migration's statements before the failure used to stay (on SQLite
# since erlen-db stopped sending BEGIN under it, on PostgreSQL always).
@pytest.mark.parametrize("engine_options", [{}, {"isolation_level": "AUTOCOMMIT"}], ids=["default", "autocommit"])
def test_failing_upgrade_is_rolled_back(blogkit, migrate_app, database_url, engine_options):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users"], {"DB_ENGINE_OPTIONS": engine_options})
    ok(app, "upgrade")
    path = blogkit.write_migration(
        "users",
        "u2_broken.py",
        FAILING.format(message="fails halfway", revision="u2", down="u1", body='op.execute("SELECT * FROM nowhere")'),
    )

    result = run(app, "upgrade")
    assert result.exit_code == 1
    assert "Migration u2 (fails halfway) of plugin 'users' failed" in result.output
    assert str(path) in result.output
    assert "rolled back" in result.output
    assert tables(database_url) == {"alembic_version", "users"}
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    with engine.connect() as connection:
        assert [c["name"] for c in sa.inspect(connection).get_columns("users")] == ["id", "name"]
    engine.dispose()
    assert versions(database_url) == {"u1"}
    assert "users: u1 (1 pending)" in ok(app, "current").output


def test_failure_keeps_the_revisions_applied_before_it(blogkit, migrate_app, database_url):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    blogkit.write_migration("users", "u2_ok.py", FAILING.format(message="works", revision="u2", down="u1", body="pass"))
    blogkit.write_migration(
        "users",
        "u3_broken.py",
        FAILING.replace("audit", "audit2")
        .replace('"email"', '"phone"')
        .format(message="fails", revision="u3", down="u2", body="raise RuntimeError('deliberately')"),
    )
    app = migrate_app(["users"])
    result = run(app, "upgrade")
    assert result.exit_code == 1
    assert "Applied users u1" in result.output and "Applied users u2" in result.output
    assert "RuntimeError: deliberately" in result.output
    assert "(2 applied before it in this run)" in result.output
    assert versions(database_url) == {"u2"}
    assert tables(database_url) == {"alembic_version", "users", "audit"}


def test_broken_migration_file_names_plugin_and_file(blogkit, migrate_app):
    path = blogkit.write_migration("users", "u1_broken.py", "import nothing_of_that_name\nrevision = 'u1'\n")
    app = migrate_app(["users"])
    for command in (["upgrade"], ["current"], ["heads"], ["check"]):
        result = run(app, *command)
        assert result.exit_code == 1, command
        assert f"The migration file {path} of plugin 'users' cannot be loaded" in result.output
        assert "ModuleNotFoundError" in result.output
        assert "Fix the file" in result.output


def test_syntax_error_in_migration_file(blogkit, migrate_app):
    path = blogkit.write_migration("posts", "p1.py", "revision = 'p1'\ndef upgrade(:\n")
    result = run(migrate_app(["users", "posts"]), "upgrade")
    assert result.exit_code == 1
    assert f"{path} of plugin 'posts' cannot be loaded: SyntaxError" in result.output


def test_two_heads_in_a_branch(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    a = blogkit.write_migration("users", "u2a.py", FAILING.format(message="a", revision="u2a", down="u1", body=""))
    b = blogkit.write_migration("users", "u2b.py", FAILING.format(message="b", revision="u2b", down="u1", body=""))
    result = run(migrate_app(["users"]), "upgrade")
    assert result.exit_code == 1
    assert "Plugin 'users' has 2 head revisions" in result.output
    assert str(a) in result.output and str(b) in result.output
    assert "Set the down_revision of the newer file" in result.output


def test_first_revision_without_branch_label(blogkit, migrate_app):
    path = blogkit.write_migration("users", "u1.py", USERS_INITIAL.replace('branch_labels = ("users",)', ""))
    result = run(migrate_app(["users"]), "upgrade")
    assert result.exit_code == 1
    assert f"{path} is the first revision of plugin 'users'" in result.output
    assert "branch_labels = ('users',)" in result.output


def test_revision_of_another_plugin_as_down_revision(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    path = blogkit.write_migration(
        "posts",
        "p1.py",
        FAILING.format(message="p", revision="p1", down="u1", body="").replace("None\n", "('posts',)\n", 1),
    )
    result = run(migrate_app(["users", "posts"]), "upgrade")
    assert result.exit_code == 1
    assert f"{path} of plugin 'posts' revises 'u1', which is a revision of plugin 'users'" in result.output
    assert "depends_on" in result.output


def test_dependency_on_a_plugin_that_is_not_enabled(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    source = FAILING.format(message="p", revision="p1", down=None, body="")
    source = source.replace("branch_labels = None", "branch_labels = ('posts',)").replace(
        "depends_on = None", "depends_on = 'zz9'"
    )
    path = blogkit.write_migration("posts", "p1.py", source)
    result = run(migrate_app(["users", "posts"]), "upgrade")
    assert result.exit_code == 1
    assert f"{path} of plugin 'posts' depends on 'zz9', which no enabled plugin's migrations hold" in result.output


def test_plugins_whose_revisions_depend_on_one_another_in_a_circle(blogkit, migrate_app, database_url):
    users = blogkit.write_migration(
        "users", "u1_create_users.py", USERS_INITIAL.replace("depends_on = None", "depends_on = 'p1'")
    )
    source = FAILING.format(message="p", revision="p1", down=None, body="")
    source = source.replace("branch_labels = None", "branch_labels = ('posts',)").replace(
        "depends_on = None", "depends_on = 'u1'"
    )
    posts = blogkit.write_migration("posts", "p1_create_posts.py", source)
    app = migrate_app(["users", "posts"])
    for command in (["upgrade"], ["current"], ["history"]):
        result = run(app, *command)
        assert result.exit_code == 1, (command, result.output)
        assert "Revisions of plugins 'users', 'posts' need one another in a circle" in result.output, result.output
        assert f"u1 of plugin 'users' ({users})" in result.output
        assert f"p1 of plugin 'posts' ({posts})" in result.output
        assert "Traceback" not in result.output
    assert tables(database_url) == set()


def test_unknown_plugin_name(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users"])
    for command in (
        ["upgrade", "--plugin", "nope"],
        ["downgrade", "--plugin", "nope", "base"],
        ["revision", "--plugin", "nope", "-m", "x"],
        ["stamp", "--plugin", "nope"],
    ):
        result = run(app, *command)
        assert result.exit_code == 1, command
        assert "No migrations of a plugin 'nope' on this app. Plugins with migrations: users, app." in result.output
        assert "erlen_migrate_locations" in result.output


def test_unknown_revision(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    result = run(migrate_app(["users"]), "downgrade", "--plugin", "users", "zzz")
    assert result.exit_code == 1
    assert "Plugin 'users' has no revision 'zzz'" in result.output
    assert "Its revisions: u1" in result.output


def test_autogenerate_needs_referenced_plugins_migrations(blogkit, migrate_app):
    result = run(migrate_app(["users", "posts"]), "revision", "--plugin", "posts", "-m", "x", "--autogenerate")
    assert result.exit_code == 1
    assert "The tables of plugin 'posts' reference tables of 'users', which has no migrations yet" in result.output
    assert "erlen db revision --plugin users --autogenerate" in result.output


def test_autogenerate_needs_an_up_to_date_database(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    result = run(migrate_app(["users", "posts"]), "revision", "--plugin", "posts", "-m", "x", "--autogenerate")
    assert result.exit_code == 1
    assert "plugin 'users' has 1 unapplied revisions. Run erlen db upgrade first." in result.output


def test_downgrade_under_a_disabled_dependent_is_refused(blogkit, migrate_app, database_url):
    from conftest import generate_initial

    full = migrate_app(["users", "posts", "comments"])
    generate_initial(full)
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO users (id, name) VALUES (1, 'ann')"))
        connection.execute(sa.text("INSERT INTO posts (id, author_id, title) VALUES (1, 1, 'hello')"))
        connection.execute(sa.text("INSERT INTO comments (id, post_id, author_id, body) VALUES (1, 1, 1, 'hi')"))
    engine.dispose()
    before = versions(database_url)

    # comments is disabled: its migrations are unknown, but its rows still reference posts
    result = run(migrate_app(["users", "posts"]), "downgrade", "--plugin", "posts", "base")
    assert result.exit_code == 1
    assert "of plugin 'posts' failed" in result.output and "rolled back" in result.output
    assert tables(database_url) == {"alembic_version", "users", "posts", "comments"}
    assert versions(database_url) == before


def test_downgrade_of_a_branch_with_nothing_applied(blogkit, migrate_app, database_url):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users"])
    for target in ("-1", "base", "u1"):
        result = run(app, "downgrade", "--plugin", "users", target)
        assert result.exit_code == 0, (target, result.output, result.exception)
        assert "Nothing to undo: no revision of plugin 'users' is applied." in result.output
    ok(app, "upgrade")
    assert "Undid users u1" in ok(app, "downgrade", "--plugin", "users", "-1").output
    assert tables(database_url) == {"alembic_version"}


def test_stamp_and_downgrade_of_a_branch_without_migrations(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create_users.py", USERS_INITIAL)
    app = migrate_app(["users", "posts"])
    for command in (["stamp", "--plugin", "posts"], ["downgrade", "--plugin", "posts", "-1"]):
        result = run(app, *command)
        assert result.exit_code == 1, (command, result.output, result.exception)
        assert f"Plugin 'posts' has no migrations yet ({blogkit.folder('posts')} holds no revision files)" in (
            result.output
        )
        assert "erlen db revision --plugin posts --autogenerate -m 'initial'" in result.output


def test_a_message_with_quotes_and_backslashes(blogkit, app_on, tmp_path):
    app = app_on(f"sqlite:///{tmp_path / 'app.sqlite3'}", ["blogkit.users"])
    message = 'rename """legacy""" "users" from C:\\New\\data\\'
    ok(app, "revision", "--plugin", "users", "-m", message)
    assert migrations_of(app).scripts().branches["users"].head.doc == message
    assert "Applied users" in ok(app, "upgrade").output

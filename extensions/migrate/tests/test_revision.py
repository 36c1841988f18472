"""``erlen db revision`` without autogenerate, and its refusals."""

from __future__ import annotations

from conftest import ok, run

from erlen_migrate import migrations_of


def test_empty_revisions_start_and_continue_a_branch(migrate_app, tmp_path):
    app = migrate_app([])
    first = ok(app, "revision", "-m", "seed data").output
    assert "plugin 'app'" in first
    ok(app, "revision", "--plugin", "app", "-m", "more")
    branch = migrations_of(app).scripts().branches["app"]
    assert [s.doc for s in branch.revisions] == ["seed data", "more"]
    assert branch.revisions[0].branch_labels == {"app"}
    assert branch.revisions[1].down_revision == branch.revisions[0].revision
    for path in (tmp_path / "app_migrations").glob("*.py"):
        assert "def upgrade() -> None:\n    pass" in path.read_text()
    result = ok(app, "upgrade")
    assert [line.split()[1] for line in result.output.splitlines()] == ["app", "app"]


def test_autogenerate_for_a_plugin_without_tables(migrate_app):
    result = run(migrate_app([]), "revision", "-m", "x", "--autogenerate")
    assert result.exit_code == 1
    assert "Plugin 'app' owns no tables, so there is nothing to autogenerate" in result.output


def test_revision_needs_a_message(migrate_app):
    result = run(migrate_app([]), "revision")
    assert result.exit_code == 2 and "Missing option '-m'" in result.output


TAGS_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))
"""


def test_a_foreign_key_added_later_depends_on_the_referenced_head(blogkit, migrate_app):
    import sqlalchemy as sa

    import erlen_db

    (blogkit.package / "tags_models.py").write_text(TAGS_MODELS)
    (blogkit.package / "tags.py").write_text(
        (blogkit.package / "users.py")
        .read_text()
        .replace("name='users'", "name='tags'")
        .replace("requires=['db']", "requires=['db', 'users']")
        .replace("users_models", "tags_models")
        .replace("users_migrations", "tags_migrations")
    )
    app = migrate_app(["users", "tags"])
    for name in ("users", "tags"):
        ok(app, "revision", "--plugin", name, "-m", f"create {name}", "--autogenerate")
        ok(app, "upgrade")
    scripts = migrations_of(app).scripts()
    assert scripts.branches["tags"].head.dependencies is None

    tags = erlen_db.database_of(app).plugin_tables["tags"][1]
    tags.append_column(sa.Column("owner_id", sa.ForeignKey("users.id"), nullable=True))
    ok(app, "revision", "--plugin", "tags", "-m", "tag owners", "--autogenerate")
    scripts = migrations_of(app).scripts()
    assert scripts.branches["tags"].head.dependencies == scripts.branches["users"].head.revision
    ok(app, "upgrade")
    assert ok(app, "check").output == "Models and migrations agree.\n"
    # once depended on, later revisions need not say it again
    ok(app, "revision", "--plugin", "tags", "-m", "nothing")
    assert migrations_of(app).scripts().branches["tags"].head.dependencies is None


def test_autogenerate_names_the_revision_that_creates_a_referenced_table_when_it_is_not_the_head(blogkit, migrate_app):
    """It wrote the other plugin's head in depends_on and said nothing of the revision that creates the table."""
    app = migrate_app(["users", "posts"])
    ok(app, "revision", "--plugin", "users", "-m", "create users", "--autogenerate")
    ok(app, "revision", "--plugin", "users", "-m", "seed data")
    ok(app, "upgrade")
    users = migrations_of(app).scripts().branches["users"]
    first, head = (script.revision for script in users.revisions)
    output = ok(app, "revision", "--plugin", "posts", "-m", "create posts", "--autogenerate").output
    posts = migrations_of(app).scripts().branches["posts"]
    assert posts.head.dependencies == head  # the head of the moment: a revision the tables work with
    assert (
        f"depends_on names plugin 'users''s head {head}; its revision {first} creates the table users, "
        f"which is all that the tables of plugin 'posts' reference: name {first} instead"
    ) in " ".join(output.split())
    # as the hint says: the pinned revision works as well
    path = next(p for p in blogkit.files("posts"))
    path.write_text(
        path.read_text().replace(
            f"depends_on: str | Sequence[str] | None = {head!r}", f"depends_on: str | Sequence[str] | None = {first!r}"
        )
    )
    assert migrations_of(app).scripts().branches["posts"].head.dependencies == first
    ok(app, "upgrade")
    assert ok(app, "check").output == "Models and migrations agree.\n"
    # undoing users' newest revision leaves posts alone now
    assert "posts" not in ok(app, "downgrade", "--plugin", "users", "-1").output


def test_autogenerate_says_nothing_more_when_the_head_creates_the_referenced_table(blogkit, migrate_app):
    app = migrate_app(["users", "posts"])
    ok(app, "revision", "--plugin", "users", "-m", "create users", "--autogenerate")
    ok(app, "upgrade")
    output = ok(app, "revision", "--plugin", "posts", "-m", "create posts", "--autogenerate").output
    assert "depends_on names" not in output


USERS_WITHOUT_NAMES = """
import sqlalchemy as sa
from alembic import op

revision = "u1"
down_revision = None
branch_labels = ("users",)
depends_on = None


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id"))


def downgrade():
    op.drop_table("users")
"""

USERS_NAMES_ADDED = """
import sqlalchemy as sa
from alembic import op

revision = "u2"
down_revision = "u1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=80), nullable=False))
        batch_op.create_unique_constraint(batch_op.f("uq_users_name"), ["name"])


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_name"), type_="unique")
        batch_op.drop_column("name")
"""

NAMED_TAGS_MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from . import users_models  # noqa: F401


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_name: Mapped[str] = mapped_column(String(80), ForeignKey("users.name"))
"""


def test_no_earlier_revision_is_suggested_when_a_referenced_column_came_later(blogkit, migrate_app):
    blogkit.write_migration("users", "u1_create.py", USERS_WITHOUT_NAMES)
    blogkit.write_migration("users", "u2_names.py", USERS_NAMES_ADDED)
    (blogkit.package / "tags_models.py").write_text(NAMED_TAGS_MODELS)
    (blogkit.package / "tags.py").write_text(
        (blogkit.package / "users.py")
        .read_text()
        .replace("name='users'", "name='tags'")
        .replace("requires=['db']", "requires=['db', 'users']")
        .replace("users_models", "tags_models")
        .replace("users_migrations", "tags_migrations")
    )
    app = migrate_app(["users", "tags"])
    ok(app, "revision", "--plugin", "users", "-m", "later")
    ok(app, "upgrade")
    output = ok(app, "revision", "--plugin", "tags", "-m", "create tags", "--autogenerate").output
    assert (
        migrations_of(app).scripts().branches["tags"].head.dependencies
        == migrations_of(app).scripts().branches["users"].head.revision
    )
    assert "depends_on names" not in output  # u1 makes users without the column name, which u2 adds


def test_a_later_revision_of_a_pinned_branch_depends_on_nothing_more(blogkit, migrate_app):
    """The branch's first revision depends on the revision that creates the tables it references: a later one
    needs nothing more. It named the other plugin's head again (so undoing that plugin's newest revision undid
    it too), then a hint said to name that creating revision, which the first one already names."""
    app = migrate_app(["users", "posts"])
    ok(app, "revision", "--plugin", "users", "-m", "create users", "--autogenerate")
    ok(app, "revision", "--plugin", "users", "-m", "seed data")
    ok(app, "upgrade")
    first, head = (script.revision for script in migrations_of(app).scripts().branches["users"].revisions)
    ok(app, "revision", "--plugin", "posts", "-m", "create posts", "--autogenerate")
    path = next(p for p in blogkit.files("posts"))
    path.write_text(
        path.read_text().replace(
            f"depends_on: str | Sequence[str] | None = {head!r}", f"depends_on: str | Sequence[str] | None = {first!r}"
        )
    )
    ok(app, "upgrade")
    output = " ".join(ok(app, "revision", "--plugin", "posts", "-m", "search index").output.split())
    assert "depends_on names" not in output
    [later] = [p for p in blogkit.files("posts") if p != path]
    assert "depends_on: str | Sequence[str] | None = None" in later.read_text()
    ok(app, "upgrade")
    ok(app, "downgrade", "--plugin", "users", "-1")  # the seed data, on which posts' revisions do not depend
    migrations = migrations_of(app)
    with migrations.connect() as connection:
        status = {branch.name: branch for branch in migrations.status(connection, migrations.scripts())}
    assert status["users"].current is not None and status["users"].current.revision == first
    assert status["posts"].pending == []

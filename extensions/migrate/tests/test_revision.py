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

"""A table removed from a plugin's models: check notices it and autogenerate drops it, and only it."""

from __future__ import annotations

import textwrap

import sqlalchemy as sa
from conftest import MODELS, generate_initial, ok, run, tables

import erlen_db

DRAFTS = """

class Draft(Base):
    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
"""


def _newest(files):
    return max(files, key=lambda p: p.stat().st_mtime_ns)


def test_a_removed_model_is_dropped_by_autogenerate(blogkit, migrate_app, database_url):
    posts_models = blogkit.package / "posts_models.py"
    posts_models.write_text(textwrap.dedent(MODELS["posts"]) + DRAFTS)
    app = migrate_app(["users", "posts", "comments"])
    generate_initial(app)
    assert "drafts" in tables(database_url)
    erlen_db.database_of(app).dispose()

    # the next release of the posts plugin has no drafts any more
    posts_models.write_text(textwrap.dedent(MODELS["posts"]))
    blogkit.cleanup()
    app = migrate_app(["users", "posts", "comments"])
    result = run(app, "check")
    assert result.exit_code == 1
    assert "posts: the models differ from the migrations:\n  - remove table drafts" in result.output
    assert "users:" not in result.output and "comments:" not in result.output

    ok(app, "revision", "--plugin", "posts", "-m", "drop drafts", "--autogenerate")
    text = _newest(blogkit.files("posts")).read_text()
    assert "op.drop_table('drafts')" in text
    assert "'posts'" not in text.split("def downgrade")[0]  # nothing but the drop
    ok(app, "upgrade")
    assert tables(database_url) == {"alembic_version", "users", "posts", "comments"}
    assert ok(app, "check").output == "Models and migrations agree.\n"
    # and back: the downgrade makes the table again
    ok(app, "downgrade", "--plugin", "posts", "-1")
    assert "drafts" in tables(database_url)


def test_a_plugin_whose_every_model_left_drops_its_tables(blogkit, migrate_app, database_url):
    app = migrate_app(["users", "posts"])
    generate_initial(app, ["users", "posts"])
    erlen_db.database_of(app).dispose()
    (blogkit.package / "posts_models.py").write_text("from .base import Base  # noqa: F401\n")
    blogkit.cleanup()

    app = migrate_app(["users", "posts"])
    assert "remove table posts" in run(app, "check").output
    ok(app, "revision", "--plugin", "posts", "-m", "no more posts", "--autogenerate")
    ok(app, "upgrade")
    assert tables(database_url) == {"alembic_version", "users"}
    assert ok(app, "check").output == "Models and migrations agree.\n"


def test_a_table_moved_to_another_plugin_is_not_dropped(blogkit, migrate_app, database_url):
    app = migrate_app(["users", "posts"])
    generate_initial(app, ["users", "posts"])
    erlen_db.database_of(app).dispose()
    # posts' table now belongs to the app (with a new column): it is the app's to migrate, not posts' to drop
    (blogkit.package / "posts_models.py").write_text("from .base import Base  # noqa: F401\n")
    blogkit.cleanup()
    app = migrate_app(["users", "posts"])
    sa.Table(
        "posts",
        erlen_db.Model.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=True),
    )
    try:
        output = run(app, "check").output
        assert "app: its tables (posts) have no migrations" in output
        assert "posts:" not in output
        result = run(app, "revision", "--plugin", "posts", "-m", "x", "--autogenerate")
        assert "Plugin 'posts' owns no tables, so there is nothing to autogenerate" in result.output
        assert len(blogkit.files("posts")) == 1
    finally:
        erlen_db.Model.metadata.remove(erlen_db.Model.metadata.tables["posts"])

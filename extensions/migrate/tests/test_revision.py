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

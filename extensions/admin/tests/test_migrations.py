"""The audit log's shipped migration creates the table the model describes."""

from __future__ import annotations

import pytest

pytest.importorskip("erlen_migrate", reason="erlen-migrate is not installed")


def test_migration_applies_and_matches(make_app, database_url, tmp_path):
    app = make_app(
        ["db", "forms", "auth", "migrate", "admin"],
        {"DB_URL": database_url, "MIGRATE_APP_DIRECTORY": str(tmp_path / "app_migrations")},
    )
    runner = app.test_cli_runner()
    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    assert "admin" in upgrade.output
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    downgrade = runner.invoke(args=["db", "downgrade", "--plugin", "admin", "base"])
    assert downgrade.exit_code == 0, downgrade.output
    import erlen_db

    erlen_db.database_of(app).dispose()

"""Every shipped Erlen extension that owns tables ships migrations that match its models.

Builds an app with every installed Erlen extension enabled (the ``erlen.plugins``
entry points of the distributions named ``erlen-*``), then runs
``erlen db upgrade`` and ``erlen db check`` on a fresh SQLite database. An
extension that gains a table, or changes one, without a migration fails here,
and so fails CI. Generate the migration with
``erlen db revision --plugin NAME --autogenerate -m "..."`` on such an app.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from flask import Flask

from erlen.testing import MakeApp

pytest.importorskip("erlen_migrate", reason="erlen-migrate is not installed")


def shipped_plugins() -> list[str]:
    """The plugin names announced by the installed ``erlen-*`` distributions, sorted."""
    names: set[str] = set()
    for distribution in importlib.metadata.distributions():
        name = (distribution.metadata["Name"] or "").lower().replace("_", "-")
        if not name.startswith("erlen-"):
            continue
        names.update(ep.name for ep in distribution.entry_points if ep.group == "erlen.plugins")
    return sorted(names)


@pytest.fixture
def every_extension(make_app: MakeApp, tmp_path: Path) -> Flask:
    plugins = shipped_plugins()
    assert {"db", "migrate"} <= set(plugins)
    return make_app(
        plugins,
        {
            "DB_URL": f"sqlite:///{tmp_path / 'shipped.sqlite3'}",
            # The app of this test has no tables and no migrations of its own.
            "MIGRATE_APP_DIRECTORY": str(tmp_path / "app_migrations"),
        },
    )


def test_shipped_migrations_apply_and_match_the_models(every_extension: Flask) -> None:
    runner = every_extension.test_cli_runner()
    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, f"The shipped extensions' models and migrations differ:\n{check.output}"


def test_every_extension_owning_tables_ships_migrations(every_extension: Flask) -> None:
    from erlen_migrate import migrations_of

    migrations = migrations_of(every_extension)
    missing = migrations.owners_without_migrations(migrations.scripts())
    assert not missing, (
        "Extensions own tables that no shipped migration creates: "
        + ", ".join(f"{owner} ({', '.join(t.name for t in tables)})" for owner, tables in missing.items())
        + ". Implement erlen_migrate_locations and run erlen db revision --plugin NAME --autogenerate."
    )

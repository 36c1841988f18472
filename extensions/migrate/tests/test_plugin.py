"""The plugin's declaration, settings and hook implementations."""

from __future__ import annotations

from pathlib import Path

import pytest

import erlen
import erlen_migrate.plugin
from erlen.testing import assert_valid_plugin
from erlen_db import hookspecs as db_hookspecs
from erlen_migrate import APP_BRANCH, migrations_of
from erlen_migrate.migrations import app_folder, migrations_folders


def test_plugin_is_valid():
    assert_valid_plugin(erlen_migrate.plugin, hookspec_modules=[db_hookspecs], name="migrate")


def test_requires_db():
    assert list(erlen_migrate.plugin.PLUGIN.requires) == ["db"]


def test_commands_join_the_db_group(migrate_app):
    app = migrate_app([])
    group = app.cli.commands["db"]
    assert {"upgrade", "downgrade", "revision", "current", "history", "heads", "stamp", "check"} <= set(
        group.commands  # type: ignore[attr-defined]
    )
    assert {"info", "create-all"} <= set(group.commands)  # type: ignore[attr-defined]


def test_app_directory_default_and_setting(make_app, tmp_path):
    app = make_app(["db", "migrate"], {"DB_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert app.config["MIGRATE_APP_DIRECTORY"] == "migrations"
    assert app_folder(app) == Path(app.root_path) / "migrations"
    app = make_app(
        ["db", "migrate"], {"DB_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "MIGRATE_APP_DIRECTORY": "db/versions"}
    )
    assert app_folder(app) == Path(app.root_path) / "db" / "versions"
    app.extensions["db"].dispose()


def test_plugin_folders_resolve_against_the_plugin_package(blogkit, migrate_app):
    app = migrate_app(["users", "posts"])
    folders = migrations_folders(app)
    assert list(folders) == ["users", "posts", APP_BRANCH]
    assert folders["users"] == blogkit.folder("users")
    assert migrations_of(app).scripts().branches["posts"].revisions == []


def test_no_migrations_anywhere(migrate_app):
    app = migrate_app([])
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "No migrations to apply." in result.output
    assert app.test_cli_runner().invoke(args=["db", "check"]).exit_code == 0


def test_migrations_of_an_app_without_the_plugin_says_what_to_enable(make_app) -> None:
    with pytest.raises(
        erlen.PluginNotEnabledError,
        match=r"plugin 'migrate' \(the erlen-migrate distribution\): add 'migrate' to PLUGINS,",
    ) as caught:
        migrations_of(make_app(["db"]))
    assert caught.value.plugin == "migrate" and isinstance(caught.value, erlen.ConfigError)

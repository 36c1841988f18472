"""The database set up when the app is created, or, in an app the erlen command creates, on first use."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from flask import Flask

import erlen
import erlen_db


def _app(tmp_path: Path, url: str | None = None, plugins: tuple[str, ...] = ()) -> Flask:
    return erlen.create_app(
        "deferred_db", {"PLUGINS": ["db", *plugins], "DB_URL": url or f"sqlite:///{tmp_path / 'deferred.sqlite3'}"}
    )


def test_a_served_app_sets_up_its_database_when_created(tmp_path: Path) -> None:
    app = _app(tmp_path, plugins=("sample_plugins.blog",))
    assert isinstance(app.extensions["db"], erlen_db.Database)
    assert "blog_post" in {table.name for table in app.extensions["db"].tables()}
    assert not erlen.setup_deferred(app)
    erlen_db.database_of(app).dispose()


def test_a_served_app_refuses_a_bad_url_when_created(tmp_path: Path) -> None:
    with pytest.raises(erlen.SettingError, match="DB_URL"):
        _app(tmp_path, url="nosuchdb://x")


def test_the_first_database_of_sets_up_a_deferred_app(tmp_path: Path) -> None:
    with erlen.deferring_setup():
        app = _app(tmp_path, plugins=("sample_plugins.blog",))
    assert "db" not in app.extensions
    assert "blog_connections" not in app.extensions
    database = erlen_db.database_of(app)
    assert "blog_post" in {table.name for table in database.tables()}  # the plugins' models are claimed
    database.create_all()
    from sample_plugins.blog import Post

    with app.app_context():
        erlen_db.session.add(Post(title="t"))
        erlen_db.session.commit()
    # The engine-created hooks ran, and the request hooks are registered: a request uses the same database.
    assert app.extensions["blog_connections"]
    assert not erlen.setup_deferred(app)
    database.dispose()


def test_a_deferred_app_reports_a_bad_url_on_first_use(tmp_path: Path) -> None:
    with erlen.deferring_setup():
        app = _app(tmp_path, url="nosuchdb://x")
    with pytest.raises(erlen.SettingError, match="DB_URL"):
        erlen_db.database_of(app)


def test_closing_a_deferred_app_makes_no_engine(tmp_path: Path) -> None:
    with erlen.deferring_setup():
        app = _app(tmp_path)
    erlen.close_app(app)
    assert "db" not in app.extensions


def test_session_is_the_proxy_even_once_its_module_is_imported() -> None:
    module = importlib.import_module("erlen_db.session")
    assert erlen_db.session is module.session
    assert erlen_db.get_session is module.get_session

"""The database set up when the app is created, or, in an app the erlen command creates, on first use."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, got_request_exception

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


def test_a_deferred_app_removes_the_session_in_the_place_of_a_served_app(tmp_path: Path) -> None:
    # Flask runs teardown functions in the reverse of their order: a function a later plugin registers runs
    # before the session is removed (it may still use it), in a served app and in one the erlen command made.
    def orders(app: Flask) -> list[str]:
        erlen_db.database_of(app)
        return [getattr(function, "__name__", "") for function in app.teardown_appcontext_funcs]

    served = _app(tmp_path)
    served.teardown_appcontext(lambda exception: None)
    with erlen.deferring_setup():
        deferred = _app(tmp_path)
    deferred.teardown_appcontext(lambda exception: None)
    assert orders(served) == ["_remove_session_once_set_up", "<lambda>"]
    assert orders(deferred) == ["_remove_session_once_set_up", "<lambda>"]
    with deferred.app_context():
        session = erlen_db.get_session()
        session.execute(sa.text("SELECT 1"))
        assert session.in_transaction()
    assert not session.in_transaction()  # the teardown removed (closed) it
    erlen_db.database_of(served).dispose()
    erlen_db.database_of(deferred).dispose()


def test_database_if_set_up_finds_the_database_without_setting_it_up(tmp_path: Path) -> None:
    with erlen.deferring_setup():
        deferred = _app(tmp_path)
    assert erlen_db.database_if_set_up(deferred) is None
    assert erlen.setup_deferred(deferred)  # looking did not set it up
    database = erlen_db.database_of(deferred)
    assert erlen_db.database_if_set_up(deferred) is database
    assert erlen_db.database_if_set_up(Flask("no_db")) is None
    database.dispose()


def test_a_deferred_app_rolls_back_after_an_exception_in_the_place_of_a_served_app(tmp_path: Path) -> None:
    # erlen-db's rollback is connected when the app is created, as in a served app, not when the erlen command
    # finishes the set-up (after the plugins that come later, such as an error reporter): blinker promises no order
    # among a signal's receivers, so what matters is that it is there from the start in both kinds of app.
    def receivers(app: Flask) -> list[str]:
        return sorted(getattr(receiver, "__qualname__", "") for receiver in got_request_exception.receivers_for(app))

    served = _app(tmp_path, plugins=("sample_plugins.exception_listener",))
    with erlen.deferring_setup():
        deferred = _app(tmp_path, plugins=("sample_plugins.exception_listener",))
    assert receivers(served) == ["_roll_back_after_exception", "report_exception"]
    # Before the set-up, erlen-db's receiver is already there and does nothing (no database to set up for it).
    assert receivers(deferred) == receivers(served)
    got_request_exception.send(deferred, exception=LookupError("before the set-up"))
    assert erlen.setup_deferred(deferred) and erlen_db.database_if_set_up(deferred) is None
    erlen.finish_setup(deferred)
    assert receivers(deferred) == receivers(served)

    # And it rolls back the failed request's writes in an app the command made, as in a served one.
    for app in (served, deferred):
        database = erlen_db.database_of(app)
        with database.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE IF NOT EXISTS note (body TEXT)"))

        @app.get("/fail")
        def fail() -> str:
            erlen_db.session.execute(sa.text("INSERT INTO note (body) VALUES ('lost')"))
            raise LookupError("failed request")

        @app.errorhandler(500)
        def logged(error: Exception) -> tuple[str, int]:
            # A 500 handler that commits must not commit the failed request's write.
            erlen_db.session.commit()
            return "logged", 500

        assert app.test_client().get("/fail").status_code == 500
        with database.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM note")).scalar() == 0
        assert [str(error) for error in app.extensions["reported_exceptions"]][-1:] == ["failed request"]
        database.dispose()

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import erlen
import erlen_db
from erlen.testing import MakeApp, assert_valid_plugin
from erlen_db import hookspecs, plugin
from erlen_db.testing import MakeDbApp
from erlen_db.urls import redact


def test_plugin_is_valid() -> None:
    assert_valid_plugin(plugin, hookspec_modules=[hookspecs], name="db")


def test_default_url_is_sqlite_in_instance_folder(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(["db"])
    database = erlen_db.database_of(app)
    assert database.url.get_backend_name() == "sqlite"
    assert database.url.database == str(tmp_path / "instance" / "app.sqlite3")
    with app.app_context():
        assert erlen_db.session.execute(sa.text("SELECT 1")).scalar() == 1
    database.dispose()
    assert (tmp_path / "instance" / "app.sqlite3").exists()


def test_settings_from_environment(make_app: MakeApp, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    app = make_app(["db"], environ={"ERLEN_DB_URL": url, "ERLEN_DB_ECHO": "yes"})
    assert app.config["DB_URL"] == url
    assert erlen_db.database_of(app).engine.echo is True


def test_engine_options(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "DB_ENGINE_OPTIONS": {"pool_size": 3}})
    engine = erlen_db.database_of(app).engine
    assert engine.pool.size() == 3  # type: ignore[attr-defined]


def test_pre_ping_is_off_on_sqlite_by_default(make_app: MakeApp, tmp_path: Path) -> None:
    # Nothing drops an SQLite connection; a "SELECT 1" on every checkout would only cost time.
    for url in (f"sqlite:///{tmp_path / 'x.sqlite3'}", "sqlite://"):
        app = make_app(["db"], {"DB_URL": url})
        assert not erlen_db.database_of(app).engine.pool._pre_ping  # type: ignore[attr-defined]


def test_no_pre_ping_on_postgresql_by_default(make_app: MakeApp) -> None:
    # A "SELECT 1" on every checkout was a round trip on every request: the idle socket is polled instead
    # (test_stale_connections.py), and the ping only sent when the poll finds something there.
    app = make_app(["db"], {"DB_URL": "postgresql+psycopg://bob@127.0.0.1:1/db"})  # lazy: nothing connects
    assert not erlen_db.database_of(app).engine.pool._pre_ping  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "pre_ping"),
    [("sqlite:///{tmp}/x.sqlite3", True), ("postgresql+psycopg://bob@127.0.0.1:1/db", False)],
)
def test_pool_pre_ping_set_in_engine_options_wins(make_app: MakeApp, tmp_path: Path, url: str, pre_ping: bool) -> None:
    app = make_app(["db"], {"DB_URL": url.format(tmp=tmp_path), "DB_ENGINE_OPTIONS": {"pool_pre_ping": pre_ping}})
    assert erlen_db.database_of(app).engine.pool._pre_ping is pre_ping  # type: ignore[attr-defined]


def test_sqlite_pre_ping_when_asked_for_works(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(
        ["db"], {"DB_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}", "DB_ENGINE_OPTIONS": {"pool_pre_ping": True}}
    )
    for _ in range(2):  # the second checkout pings the pooled connection
        with app.app_context():
            assert erlen_db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
    erlen_db.database_of(app).dispose()


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "postgresql+psycopg://bob:s3cr3t@::bad::/db",
        "://bob:s3cr3t@host/db",
        "bob:s3cr3t@host/db",  # no scheme
        "postgresql:bob:s3cr3t@host/db",  # no //
        "postgresql:bob:s3cr3t@host/db?password=s3cr3t",
    ],
)
def test_malformed_url_names_setting_and_hides_password(make_app: MakeApp, url: str) -> None:
    with pytest.raises(erlen.SettingError) as info:
        make_app(["db"], {"DB_URL": url})
    assert "DB_URL" in str(info.value)
    assert "s3cr3t" not in str(info.value)
    assert info.value.key == "DB_URL"


def test_unknown_driver_names_setting_and_hides_password(make_app: MakeApp) -> None:
    with pytest.raises(erlen.SettingError) as info:
        make_app(["db"], {"DB_URL": "nosuchdb://bob:s3cr3t@host/db"})
    message = str(info.value)
    assert "DB_URL" in message and "nosuchdb" in message
    assert "s3cr3t" not in message and "bob:***@host" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://bob@127.0.0.1:1/db?password=s3cr3t",
            "postgresql+psycopg://bob@127.0.0.1:1/db?password=***",
        ),
        (
            "postgresql+psycopg://bob:s3cr3t@127.0.0.1:1/db?sslmode=disable&PASSWORD=s3cr3t",
            "postgresql+psycopg://bob:***@127.0.0.1:1/db?PASSWORD=***&sslmode=disable",
        ),
    ],
)
def test_password_in_the_url_query_is_hidden(make_app: MakeApp, url: str, shown: str) -> None:
    # libpq and psycopg take the password from the query string too.
    app = make_app(["db"], {"DB_URL": url})
    assert erlen_db.database_of(app).display_url == shown
    output = app.test_cli_runner().invoke(args=["db", "info"]).output
    assert "s3cr3t" not in output and shown in output


def test_missing_driver_names_setting(make_app: MakeApp) -> None:
    with pytest.raises(erlen.SettingError) as info:
        make_app(["db"], {"DB_URL": "mysql+nosuchdriver://bob:s3cr3t@host/db"})
    assert "DB_URL" in str(info.value) and "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:pa@ss/w0rd#x@127.0.0.1:1/db",  # the rest of the password became the host "ss"
        "postgresql+psycopg://bob:pa@ss@127.0.0.1:1/db",  # ... or the host "ss@127.0.0.1"
    ],
)
def test_an_unencoded_at_in_the_password_is_a_startup_error_that_hides_it(make_app: MakeApp, url: str) -> None:
    with pytest.raises(erlen.SettingError) as info:
        make_app(["db"], {"DB_URL": url})
    message = str(info.value)
    assert info.value.key == "DB_URL"
    assert "password holds an '@'" in message and "%40" in message
    assert "bob:***@127.0.0.1:1/db" in message
    for shown in (message, redact(url)):
        assert "@ss" not in shown and "pa@" not in shown and "w0rd" not in shown and "ss@" not in shown, shown


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user@server:pw@127.0.0.1:1/db",  # a user name holding an '@', as some hosted servers want
        "postgresql://bob:pa%40ss@127.0.0.1:1/db",  # the '@' percent-encoded
        "sqlite:///{tmp}/a@b@c.sqlite3",
    ],
)
def test_an_at_elsewhere_in_the_url_is_accepted(make_app: MakeApp, tmp_path: Path, url: str) -> None:
    app = make_app(["db"], {"DB_URL": url.format(tmp=tmp_path)})
    parsed = erlen_db.database_of(app).engine.url
    assert "@" in f"{parsed.username}{parsed.password}{parsed.database}"


def test_bad_engine_option_names_setting(make_app: MakeApp, tmp_path: Path) -> None:
    with pytest.raises(erlen.SettingError) as info:
        make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'x.db'}", "DB_ENGINE_OPTIONS": {"no_such_option": 1}})
    assert "DB_ENGINE_OPTIONS" in str(info.value) and "no_such_option" in str(info.value)
    assert info.value.key == "DB_ENGINE_OPTIONS"


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/x.db", "postgresql+psycopg://bob:s3cr3t@127.0.0.1:1/db"])
@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"pool_size": "x"}, "pool_size"),
        ({"max_overflow": "x"}, "max_overflow"),  # accepted by create_engine, failing on every checkout
        ({"pool_timeout": "10"}, "pool_timeout"),
        ({"pool_recycle": True}, "pool_recycle"),
        # Numbers the pool cannot work with, which create_engine accepts: a negative timeout failed every
        # checkout that had to wait with a ValueError (a 500), NaN waited forever, max_overflow -5 recursed.
        ({"pool_timeout": -1}, "pool_timeout must be the seconds"),
        ({"pool_timeout": float("nan")}, "pool_timeout must be a number, not NaN"),
        ({"pool_timeout": float("inf")}, "pool_timeout must be the seconds"),
        ({"pool_size": -3}, "pool_size must be a whole number"),
        ({"pool_size": 2.5}, "pool_size must be a whole number"),
        ({"max_overflow": -5}, "max_overflow must be a whole number"),
        ({"pool_recycle": float("nan")}, "pool_recycle must be a number, not NaN"),
        ({"connect_args": "x"}, "connect_args"),
        ({"connect_args": [["connect_timeout", 3]]}, "connect_args"),
        ({"echo": "yes"}, "'yes'"),
        ({"poolclass": "NullPool"}, "AttributeError"),
    ],
)
def test_bad_engine_option_values_name_setting(
    make_app: MakeApp, tmp_path: Path, url: str, options: dict[str, object], named: str
) -> None:
    with pytest.raises(erlen.SettingError) as info:
        make_app(["db"], {"DB_URL": url.format(tmp=tmp_path), "DB_ENGINE_OPTIONS": options})
    assert info.value.key == "DB_ENGINE_OPTIONS"
    assert "DB_ENGINE_OPTIONS" in str(info.value) and named in str(info.value)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("sqlite:///{tmp}/x.db", "READ UNCOMMITTED, SERIALIZABLE, AUTOCOMMIT"),
        # A server that is down: the level is checked without connecting.
        ("postgresql+psycopg://bob:s3cr3t@127.0.0.1:1/db", "AUTOCOMMIT, READ COMMITTED, READ UNCOMMITTED"),
    ],
)
@pytest.mark.parametrize("level", ["BOGUS", "READ COMMITED", 5])
def test_isolation_level_the_database_does_not_accept_is_a_startup_error(
    make_app: MakeApp, tmp_path: Path, url: str, accepted: str, level: object
) -> None:
    with pytest.raises(erlen.SettingError) as info:
        make_app(["db"], {"DB_URL": url.format(tmp=tmp_path), "DB_ENGINE_OPTIONS": {"isolation_level": level}})
    assert info.value.key == "DB_ENGINE_OPTIONS"
    assert f"DB_ENGINE_OPTIONS of plugin 'db' has isolation_level {level!r}" in str(info.value)
    assert f"Use one of: {accepted}" in str(info.value) and "s3cr3t" not in str(info.value)


@pytest.mark.parametrize("level", ["SERIALIZABLE", "serializable"])
def test_isolation_level_the_database_accepts_is_used(make_app: MakeApp, database_url: str, level: str) -> None:
    app = make_app(["db"], {"DB_URL": database_url, "DB_ENGINE_OPTIONS": {"isolation_level": level}})
    with app.app_context():
        assert erlen_db.session.connection().get_isolation_level() == "SERIALIZABLE"
        assert erlen_db.session.execute(sa.text("SELECT 1")).scalar() == 1
    erlen_db.database_of(app).dispose()


def test_postgresql_without_driver_means_psycopg(make_app: MakeApp) -> None:
    app = make_app(["db"], {"DB_URL": "postgresql://bob:s3cr3t@127.0.0.1:1/db"})
    database = erlen_db.database_of(app)
    assert database.engine.dialect.driver == "psycopg"
    assert database.display_url == "postgresql+psycopg://bob:***@127.0.0.1:1/db"


def test_sqlite_connections_get_pragmas(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}", "DB_SQLITE_BUSY_TIMEOUT": 1234})
    with app.app_context():
        session = erlen_db.session
        assert session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(sa.text("PRAGMA busy_timeout")).scalar() == 1234
    erlen_db.database_of(app).dispose()


def test_sqlite_engine_has_no_execution_events(make_app: MakeApp, tmp_path: Path) -> None:
    # An engine-level listener (such as a "begin" one) makes SQLAlchemy look for listeners
    # on every statement of the engine: the BEGIN is sent by the dialect instead.
    app = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'e.sqlite3'}"})
    engine = erlen_db.database_of(app).engine
    with app.app_context():
        erlen_db.session.execute(sa.text("SELECT 1"))
    assert not engine._has_events
    erlen_db.database_of(app).dispose()


def test_sqlite_reads_run_in_a_transaction(make_app: MakeApp, tmp_path: Path) -> None:
    # The sqlite3 module alone would not begin one before a SELECT: two reads could see different data.
    app = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}"})
    with app.app_context():
        session = erlen_db.session
        session.execute(sa.text("SELECT 1"))
        driver = session.connection().connection.driver_connection
        assert driver is not None and driver.in_transaction
    assert not driver.in_transaction  # rolled back at teardown, and the connection went back to the pool
    erlen_db.database_of(app).dispose()


def test_sqlite_begin_is_logged_once_with_echo(
    make_app: MakeApp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'l.sqlite3'}", "DB_ECHO": True})
    with caplog.at_level("INFO", logger="sqlalchemy.engine"), app.app_context():
        erlen_db.session.execute(sa.text("SELECT 1"))
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("sqlalchemy.engine")]
    assert sum(message.startswith("BEGIN") for message in messages) == 1
    erlen_db.database_of(app).dispose()


def test_sqlite_foreign_keys_enforced(make_app: MakeApp, tmp_path: Path) -> None:
    from app_models import Book

    app = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'fk.sqlite3'}"})
    database = erlen_db.database_of(app)
    database.create_all()
    with Session(database.engine) as session:
        session.add(Book(title="Orphan", published=__import__("datetime").date(2020, 1, 1), author_id=42))
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()
    database.dispose()


def test_engine_created_hook(make_db_app: MakeDbApp) -> None:
    app = make_db_app(["sample_plugins.blog"])
    with app.app_context():
        erlen_db.session.execute(sa.text("SELECT 1"))
    assert len(app.extensions["blog_connections"]) == 1


def test_several_apps_in_one_process(make_db_app: MakeDbApp, make_app: MakeApp, tmp_path: Path) -> None:
    first = make_db_app()
    second = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'second.sqlite3'}"}, import_name="second")
    assert erlen_db.database_of(first) is not erlen_db.database_of(second)
    with first.app_context():
        one = erlen_db.session._get_current_object()  # type: ignore[attr-defined]
        with second.app_context():
            two = erlen_db.session._get_current_object()  # type: ignore[attr-defined]
            assert two.get_bind() is erlen_db.database_of(second).engine
        assert one.get_bind() is erlen_db.database_of(first).engine
    erlen_db.database_of(second).dispose()


def test_no_db_plugin_is_a_clear_error(make_app: MakeApp) -> None:
    app = make_app([])
    with app.app_context(), pytest.raises(erlen.PluginNotEnabledError) as caught:
        erlen_db.session.execute(sa.text("SELECT 1"))
    assert caught.value.plugin == "db"
    assert str(caught.value) == (
        "The app 'erlen_test_app' does not enable the plugin 'db' (the erlen-db distribution): add 'db' to PLUGINS, "
        "which this app takes from the config mapping passed to create_app."
    )


def test_checks_in_deploy(make_app: MakeApp, tmp_path: Path) -> None:
    from erlen.checks import run_checks

    app = make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}", "DB_ECHO": True})
    ids = {message.id for message in run_checks(app, deploy=True)}
    assert {"db.I001", "db.W001"} <= ids
    assert not {m.id for m in run_checks(app) if m.plugin == "db"}


def test_sqlite_in_memory(make_app: MakeApp) -> None:
    app = make_app(["db"], {"DB_URL": "sqlite://"})
    with app.app_context():
        assert erlen_db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
    erlen_db.database_of(app).dispose()


def test_default_pool_timeout_is_short(make_db_app: MakeDbApp) -> None:
    app = make_db_app()
    assert erlen_db.database_of(app).engine.pool.timeout() == 10  # type: ignore[attr-defined]


def test_sample_plugins_implement_the_db_hooks_validly() -> None:
    from sample_plugins import blog, migrated, tags

    for module in (blog, migrated, tags):
        assert_valid_plugin(module, hookspec_modules=[hookspecs])


def test_relative_sqlite_path_is_in_instance_folder(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(["db"], {"DB_URL": "sqlite:///data/app.db"})
    assert erlen_db.database_of(app).url.database == str(tmp_path / "instance" / "data" / "app.db")


def test_postgresql_connect_timeout_default_and_overrides(make_app: MakeApp) -> None:
    def connect_args(url: str, options: dict[str, object] | None = None) -> object:
        app = make_app(["db"], {"DB_URL": url, "DB_ENGINE_OPTIONS": options or {}})
        return erlen_db.database_of(app).engine_options.get("connect_args")

    base = "postgresql+psycopg://bob@127.0.0.1:1/db"
    assert connect_args(base) == {"connect_timeout": 10}
    assert connect_args(base + "?connect_timeout=3") is None
    assert connect_args(base, {"connect_args": {"connect_timeout": 2, "application_name": "x"}}) == {
        "connect_timeout": 2,
        "application_name": "x",
    }


def test_closing_the_app_closes_its_pooled_connections(make_db_app: MakeDbApp) -> None:
    app = make_db_app()
    engine = erlen_db.database_of(app).engine
    with app.app_context():
        erlen_db.session.execute(sa.text("SELECT 1"))
    assert engine.pool.checkedin() == 1
    erlen.close_app(app)
    assert engine.pool.checkedin() == 0
    # The app stays usable: the next request opens a connection again.
    with app.app_context():
        assert erlen_db.session.execute(sa.text("SELECT 2")).scalar() == 2

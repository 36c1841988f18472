from __future__ import annotations

import socket
import sqlite3
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from app_models import Author
from backends import pooled_backend_pid, terminate_backend
from flask import Flask, render_template_string
from tcp_proxy import TcpProxy

import erlen_db
from erlen.testing import MakeApp
from erlen_db.testing import MakeDbApp


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = t.cast(int, sock.getsockname()[1])
    sock.close()
    return port


def add_routes(app: Flask) -> Flask:
    @app.get("/count")
    def count() -> str:
        return str(erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author)))

    @app.get("/broken")
    def broken() -> str:
        erlen_db.session.execute(sa.text("SELECT * FROM no_such_table"))
        return "?"

    return app


def assert_unavailable(app: Flask) -> None:
    response = app.test_client().get("/count")
    assert response.status_code == 503
    assert "Service unavailable" in response.text
    assert "Traceback" not in response.text
    assert response.headers["Retry-After"] == "5"


@pytest.fixture
def down_url() -> str:
    return f"postgresql+psycopg://postgres:s3cr3t@127.0.0.1:{closed_port()}/test?connect_timeout=2"


def test_app_starts_while_postgresql_is_down_and_answers_503(make_app: MakeApp, down_url: str) -> None:
    app = add_routes(make_app(["db"], {"DB_URL": down_url}))
    assert_unavailable(app)
    erlen_db.database_of(app).dispose()


def test_app_starts_while_sqlite_file_is_unreachable(make_app: MakeApp, tmp_path: Path) -> None:
    app = add_routes(make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}"}))
    assert_unavailable(app)


def test_other_database_errors_are_not_hidden_as_503(make_db_app: MakeDbApp) -> None:
    app = add_routes(make_db_app())
    with pytest.raises(sa.exc.DBAPIError):
        app.test_client().get("/broken")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().get("/broken").status_code == 500


def test_503_page_can_be_overridden(make_app: MakeApp, down_url: str, tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "erlen_db"
    templates.mkdir(parents=True)
    (templates / "503.html").write_text("Back soon")
    app = add_routes(make_app(["db"], {"DB_URL": down_url}, root_path=str(tmp_path)))
    response = app.test_client().get("/count")
    assert (response.status_code, response.text) == (503, "Back soon")
    erlen_db.database_of(app).dispose()


def test_pool_exhaustion_times_out_into_503(make_db_app: MakeDbApp) -> None:
    app = add_routes(
        make_db_app(config={"DB_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2}})
    )
    engine = erlen_db.database_of(app).engine
    erlen_db.database_of(app).create_all()
    with engine.connect():
        assert_unavailable(app)
    assert app.test_client().get("/count").text == "0"


def test_stale_connections_are_replaced(make_db_app: MakeDbApp, database_url: str) -> None:
    app = add_routes(make_db_app())
    erlen_db.database_of(app).create_all()
    client = app.test_client()
    assert client.get("/count").text == "0"
    if database_url.startswith("postgresql"):
        terminate_backend(database_url, pooled_backend_pid(app))
    assert client.get("/count").text == "0"


@pytest.fixture
def proxy(postgres_schema_url: str) -> Iterator[TcpProxy]:
    url = sa.make_url(postgres_schema_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield proxy
    proxy.stop()


def test_recovers_when_postgresql_returns(make_app: MakeApp, postgres_schema_url: str, proxy: TcpProxy) -> None:
    url = sa.make_url(postgres_schema_url).set(host="127.0.0.1", port=proxy.port)
    url = url.update_query_dict({"connect_timeout": "2"})
    app = add_routes(make_app(["db"], {"DB_URL": url.render_as_string(hide_password=False)}))
    database = erlen_db.database_of(app)
    database.create_all()
    client = app.test_client()
    assert client.get("/count").text == "0"
    proxy.stop()
    assert_unavailable(app)
    assert_unavailable(app)
    proxy.start()
    assert client.get("/count").text == "0"
    database.dispose()


def test_database_lost_during_a_failing_request_leaves_its_500_and_recovers(
    make_app: MakeApp, postgres_schema_url: str, proxy: TcpProxy
) -> None:
    # The rollback at teardown fails on the lost connection; it must not replace the request's own error.
    url = sa.make_url(postgres_schema_url).set(host="127.0.0.1", port=proxy.port)
    url = url.update_query_dict({"connect_timeout": "2"})
    app = add_routes(make_app(["db"], {"DB_URL": url.render_as_string(hide_password=False)}))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    database = erlen_db.database_of(app)
    database.create_all()

    @app.get("/lost")
    def lost() -> str:
        erlen_db.session.execute(sa.select(Author))
        proxy.stop()
        raise RuntimeError("a bug in the view")

    assert app.test_client().get("/lost").status_code == 500
    proxy.start()
    assert app.test_client().get("/count").text == "0"
    database.dispose()


def test_recovers_when_sqlite_file_becomes_available(make_app: MakeApp, tmp_path: Path) -> None:
    app = add_routes(make_app(["db"], {"DB_URL": f"sqlite:///{tmp_path / 'later' / 'db.sqlite3'}"}))
    assert_unavailable(app)
    (tmp_path / "later").mkdir()
    erlen_db.database_of(app).create_all()
    assert app.test_client().get("/count").text == "0"
    erlen_db.database_of(app).dispose()


def test_sqlite_locked_by_another_writer_answers_503_until_released(make_app: MakeApp, tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite3"
    app = add_routes(make_app(["db"], {"DB_URL": f"sqlite:///{path}", "DB_SQLITE_BUSY_TIMEOUT": 50}))
    erlen_db.database_of(app).create_all()

    @app.post("/authors/<name>")
    def add_author(name: str) -> tuple[str, int]:
        erlen_db.session.add(Author(name=name))
        erlen_db.session.commit()
        return "", 201

    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock until it ends
        response = app.test_client().post("/authors/ann")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5" and "Service unavailable" in response.text
        assert app.test_client().get("/count").text == "0"  # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert app.test_client().post("/authors/ann").status_code == 201
    assert app.test_client().get("/count").text == "1"
    erlen_db.database_of(app).dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_url(request: pytest.FixtureRequest, down_url: str, tmp_path: Path) -> str:
    """A PostgreSQL server that is down, or an SQLite file in a folder that does not exist."""
    return down_url if request.param == "postgresql" else f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}"


def add_guarded_loader(app: Flask, calls: list[str]) -> None:
    """A template global ``whoami()`` that reads the database, guarded by ``unless_unavailable``."""

    @erlen_db.unless_unavailable(lambda: "nobody")
    def whoami() -> str:
        calls.append("loaded")
        return str(erlen_db.session.scalar(sa.select(Author.name).limit(1)))

    app.jinja_env.globals["whoami"] = whoami
    app.jinja_env.globals["found_unavailable"] = erlen_db.found_unavailable

    @app.get("/whoami")
    def whoami_view() -> str:
        return whoami()

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        return render_template_string("Not found, {{ whoami() }}"), 404


def test_error_pages_skip_guarded_loaders_once_the_database_failed(
    make_app: MakeApp, unreachable_url: str, tmp_path: Path
) -> None:
    (tmp_path / "templates" / "erlen_db").mkdir(parents=True)
    (tmp_path / "templates" / "erlen_db" / "503.html").write_text(
        "Back soon, {{ whoami() }} ({{ found_unavailable() }})"
    )
    app = add_routes(make_app(["db"], {"DB_URL": unreachable_url}, root_path=str(tmp_path)))
    calls: list[str] = []
    add_guarded_loader(app, calls)
    client = app.test_client()

    response = client.get("/count")
    assert (response.status_code, response.text) == (503, "Back soon, nobody (True)")
    assert calls == []  # the page did not try the database that just failed

    # Outside an error page the guarded loader still raises, so the request is a 503, not a page without the data.
    assert client.get("/whoami").status_code == 503
    assert calls == ["loaded"]

    # On an error page it tries the database once, and answers without it instead of turning the page into a 500.
    response = client.get("/no-such-page")
    assert (response.status_code, response.text) == (404, "Not found, nobody")
    assert calls == ["loaded", "loaded"]
    erlen_db.database_of(app).dispose()


def test_guarded_loaders_run_while_the_database_is_up(make_db_app: MakeDbApp) -> None:
    app = add_routes(make_db_app(create_all=True))
    calls: list[str] = []
    add_guarded_loader(app, calls)
    with erlen_db.database_of(app).session_scope() as session:
        session.add(Author(name="ann"))
    client = app.test_client()
    assert client.get("/whoami").text == "ann"
    assert client.get("/no-such-page").text == "Not found, ann"
    assert calls == ["loaded", "loaded"]
    with app.test_request_context():
        assert not erlen_db.found_unavailable()
    assert not erlen_db.found_unavailable()  # outside an app context too


def test_asking_whether_the_database_was_found_unavailable_raises_nothing(make_db_app: MakeDbApp) -> None:
    # The user loader asks on every logged-in request: a getattr with a default on g raised (and caught) a
    # KeyError and an AttributeError each time, the dearest part of the question.
    import sys

    app = make_db_app()
    raised: list[str] = []

    def tracer(frame: t.Any, event: str, arg: t.Any) -> t.Any:
        if event == "exception":
            raised.append(f"{arg[0].__name__} in {frame.f_code.co_name}")
        return tracer

    with app.test_request_context():
        sys.settrace(tracer)
        try:
            answer = erlen_db.found_unavailable()
        finally:
            sys.settrace(None)
        assert answer is False
        erlen_db.note_unavailable()
        assert erlen_db.found_unavailable() is True
    assert raised == []

"""The end of a request's session: a failure after its commit never turns the saved write into an error answer."""

from __future__ import annotations

import logging
import threading
import time
import typing as t
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from app_models import Author
from backends import terminate_backend
from flask import Flask

import erlen_db
from erlen.testing import MakeApp
from erlen_db.testing import MakeDbApp, PostgresServer


def backend_pid() -> int:
    """The PostgreSQL backend of the request's session; asking for it begins a new transaction."""
    return t.cast(int, erlen_db.session.scalar(sa.text("SELECT pg_backend_pid()")))


def add_routes(app: Flask, fault: Callable[[], None]) -> Flask:
    """``POST /authors/<name>`` commits an author, reads once more (a new transaction), then meets ``fault``."""

    @app.post("/authors/<name>")
    def add(name: str) -> str:
        erlen_db.session.add(Author(name=name))
        erlen_db.session.commit()
        # Work after the commit that reads, as a mail to the admins or an audit would: the session holds a
        # connection in a transaction until the app context's teardown closes it.
        erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Author))
        fault()
        return "saved", 201

    @app.get("/authors")
    def authors() -> str:
        return ",".join(erlen_db.session.scalars(sa.select(Author.name).order_by(Author.name)))

    return app


@pytest.fixture
def server_app(make_app: MakeApp, postgres_server: PostgresServer) -> Iterator[Flask]:
    app = make_app(["db"], {"DB_URL": postgres_server.url + "?connect_timeout=2"})
    app.config["PROPAGATE_EXCEPTIONS"] = False
    erlen_db.database_of(app).create_all()
    yield app
    erlen_db.database_of(app).dispose()


def closing_failures(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.name == "erlen_test_app" and "after the response" in r.getMessage()]


def test_the_connection_dropped_after_commit_leaves_the_success_answer(
    server_app: Flask, postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    add_routes(server_app, lambda: terminate_backend(postgres_server.url, backend_pid()))
    client = server_app.test_client()
    response = client.post("/authors/ada")
    assert (response.status_code, response.text) == (201, "saved")
    assert client.get("/authors").text == "ada"  # saved once, and the pool serves a working connection again
    (record,) = closing_failures(caplog.records)  # logged once
    assert record.levelno == logging.WARNING
    assert "AdminShutdown: terminating connection" in record.getMessage()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [record]


def test_the_server_stopped_after_commit_leaves_the_success_answer(
    server_app: Flask, postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    add_routes(server_app, postgres_server.stop)
    client = server_app.test_client()
    response = client.post("/authors/ada")
    assert (response.status_code, response.text) == (201, "saved")
    postgres_server.start_again()
    assert client.get("/authors").text == "ada"
    (record,) = closing_failures(caplog.records)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [record]


def test_the_server_killed_after_commit_leaves_the_success_answer(
    server_app: Flask, postgres_server: PostgresServer
) -> None:
    add_routes(server_app, postgres_server.kill)
    client = server_app.test_client()
    response = client.post("/authors/ada")
    assert (response.status_code, response.text) == (201, "saved")
    postgres_server.start_again()  # after crash recovery: the commit was durable
    assert client.get("/authors").text == "ada"


def test_a_failure_closing_the_session_is_not_raised_in_an_app_context(
    server_app: Flask, postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    # CLI commands and jobs end their app context the same way.
    with server_app.app_context():
        erlen_db.session.add(Author(name="ada"))
        erlen_db.session.commit()
        terminate_backend(postgres_server.url, backend_pid())
    assert len(closing_failures(caplog.records)) == 1
    with server_app.app_context():
        assert erlen_db.session.scalar(sa.select(Author.name)) == "ada"


def test_a_request_without_a_fault_logs_nothing(make_db_app: MakeDbApp, caplog: pytest.LogCaptureFixture) -> None:
    app = add_routes(make_db_app(create_all=True), lambda: None)
    client = app.test_client()
    assert client.post("/authors/ada").status_code == 201
    assert client.get("/authors").text == "ada"
    assert not closing_failures(caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_failing_request_keeps_its_own_500_when_closing_fails(
    server_app: Flask, postgres_server: PostgresServer
) -> None:
    add_routes(server_app, lambda: None)

    @server_app.get("/fails")
    def fails() -> str:
        terminate_backend(postgres_server.url, backend_pid())
        raise RuntimeError("the request's own error")

    client = server_app.test_client()
    assert client.get("/fails").status_code == 500
    assert client.post("/authors/ada").status_code == 201


def test_a_connection_lost_during_commit_is_a_503_and_nothing_is_saved(
    server_app: Flask, postgres_server: PostgresServer
) -> None:
    # A deferred trigger runs inside COMMIT; while it waits, the server ends the connection. The client cannot
    # tell whether the write was saved, so it gets the 503 page (retry later), never a bare 500.
    with erlen_db.database_of(server_app).engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$"
            )
        )
        connection.execute(
            sa.text(
                "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON author DEFERRABLE INITIALLY DEFERRED "
                "FOR EACH ROW EXECUTE FUNCTION slow_commit()"
            )
        )
    terminated: list[bool] = []

    def terminate_when_committing(pid: int) -> None:
        engine = sa.create_engine(postgres_server.url, poolclass=sa.NullPool)
        with engine.connect() as connection:
            for _ in range(600):  # bounded: at most 30 s
                state = connection.scalar(
                    sa.text("SELECT wait_event FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
                if state == "PgSleep":
                    terminated.append(connection.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}))
                    break
                time.sleep(0.05)
        engine.dispose()

    @server_app.post("/slow/<name>")
    def slow(name: str) -> str:
        pid = backend_pid()
        killer = threading.Thread(target=terminate_when_committing, args=(pid,))
        killer.start()
        try:
            erlen_db.session.add(Author(name=name))
            erlen_db.session.commit()
        finally:
            killer.join()
        return "saved"

    add_routes(server_app, lambda: None)
    client = server_app.test_client()
    response = client.post("/slow/ada")
    assert terminated == [True]
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert client.get("/authors").text == ""  # ended before the commit completed: the retry is safe

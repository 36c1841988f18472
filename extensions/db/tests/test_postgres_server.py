from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from erlen_db import postgres_server as module
from erlen_db.testing import PostgresServer


def engine_of(server: PostgresServer) -> sa.Engine:
    return sa.create_engine(server.url, poolclass=sa.NullPool, connect_args={"connect_timeout": 2})


def assert_refuses_connections(server: PostgresServer) -> None:
    with pytest.raises(sa.exc.OperationalError), engine_of(server).connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def test_the_fixture_serves_a_database_of_its_own_on_loopback(postgres_server: PostgresServer) -> None:
    assert postgres_server.url == f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/postgres"
    assert postgres_server.port != 5432
    with engine_of(postgres_server).connect() as connection:
        assert connection.scalar(sa.text("SHOW listen_addresses")) == "127.0.0.1"
        assert connection.scalar(sa.text("SHOW fsync")) == "off"
        assert connection.scalar(sa.text("SELECT pg_backend_pid()")) != postgres_server.pid
        assert connection.scalar(sa.text("SELECT current_user")) == "postgres"


def test_stop_and_start_again_keep_the_port_and_the_data(postgres_server: PostgresServer) -> None:
    engine = engine_of(postgres_server)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE notes (body text)"))
        connection.execute(sa.text("INSERT INTO notes VALUES ('kept')"))
    port, first_pid = postgres_server.port, postgres_server.pid

    postgres_server.stop()
    assert postgres_server.pid is None
    assert not postgres_server.running
    assert_refuses_connections(postgres_server)

    postgres_server.start_again()
    assert postgres_server.port == port
    assert postgres_server.pid not in (None, first_pid)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT body FROM notes")) == "kept"


def test_kill_ends_every_server_process_and_the_server_recovers(postgres_server: PostgresServer) -> None:
    engine = engine_of(postgres_server)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE notes (body text)"))
        connection.execute(sa.text("INSERT INTO notes VALUES ('committed')"))
    open_connection = engine.connect()
    backend = open_connection.scalar(sa.text("SELECT pg_backend_pid()"))
    killed = postgres_server.pid
    assert killed is not None

    postgres_server.kill()
    assert not module._process_alive(killed)
    assert not module._process_alive(backend)
    assert_refuses_connections(postgres_server)
    with pytest.raises(sa.exc.OperationalError):
        open_connection.execute(sa.text("SELECT 1"))
    open_connection.close()

    postgres_server.start_again()  # after crash recovery
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT body FROM notes")) == "committed"


def test_restart_ends_open_connections(postgres_server: PostgresServer) -> None:
    with engine_of(postgres_server).connect() as connection:
        connection.execute(sa.text("SELECT 1"))
        postgres_server.restart()
        with pytest.raises(sa.exc.OperationalError):
            connection.execute(sa.text("SELECT 1"))
    with engine_of(postgres_server).connect() as connection:
        assert connection.scalar(sa.text("SELECT 1")) == 1


def test_close_stops_the_server_and_deletes_its_files(tmp_path: Path) -> None:
    with PostgresServer.start(tmp_path) as server:
        pid = server.pid
        assert pid is not None
        assert server.data_dir.is_dir()
    assert not module._process_alive(pid)
    assert not server.directory.exists()
    server.close()  # twice is harmless


def test_settings_reach_the_server(tmp_path: Path) -> None:
    with (
        PostgresServer.start(tmp_path, settings={"max_connections": 42}) as server,
        engine_of(server).connect() as connection,
    ):
        assert connection.scalar(sa.text("SHOW max_connections")) == "42"


def test_close_also_cleans_up_a_killed_server(tmp_path: Path) -> None:
    server = PostgresServer.start(tmp_path)
    server.kill()
    server.close()
    assert not server.directory.exists()


def test_missing_server_programs_skip_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(module, "find_bindir", lambda: None)
    monkeypatch.delenv("ERLEN_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"initdb, pg_ctl, postgres.*ERLEN_TEST_POSTGRES_BINDIR"):
        PostgresServer.start(tmp_path)


def test_missing_server_programs_fail_when_services_are_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(module, "find_bindir", lambda: None)
    monkeypatch.setenv("ERLEN_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="were not found"):
        PostgresServer.start(tmp_path)


def test_the_bindir_variable_wins_and_versions_sort_by_number(monkeypatch: pytest.MonkeyPatch) -> None:
    found = module.find_bindir()
    assert found is not None
    monkeypatch.setenv(module.BINDIR_VARIABLE, str(found))
    assert module.find_bindir() == found
    assert module._version_key(Path("/usr/lib/postgresql/15/bin")) > module._version_key(
        Path("/usr/lib/postgresql/9.6/bin")
    )

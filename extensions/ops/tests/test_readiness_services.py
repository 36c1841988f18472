"""The readiness checks of erlen-db, erlen-migrate, erlen-mail and erlen-auth, against real servers."""

from __future__ import annotations

import typing as t

import pytest

pytest.importorskip("erlen_db", reason="the database checks need erlen-db")

import erlen_db
from erlen.testing import MakeApp, free_port
from erlen_db.postgres_server import PostgresServer


def _checks(client: t.Any) -> tuple[int, dict[str, t.Any]]:
    response = client.get("/readyz")
    return response.status_code, response.get_json()["checks"]


def test_readiness_while_the_database_is_stopped_and_after_it_returns(
    make_app: MakeApp, postgres_server: PostgresServer
) -> None:
    app = make_app(["db", "ops"], {"DB_URL": postgres_server.url, "OPS_READY_CACHE": 0, "OPS_READY_TIMEOUT": 5})
    client = app.test_client()
    try:
        status, checks = _checks(client)
        assert (status, checks["db.database"]["status"]) == (200, "ok")
        postgres_server.stop()
        status, checks = _checks(client)
        assert status == 503
        assert checks["db.database"]["status"] == "fail"
        assert checks["db.database"]["error"] == "OperationalError"
        assert client.get("/healthz").status_code == 200  # alive all the same: no restart for a database outage
        postgres_server.start_again()
        status, checks = _checks(client)
        assert (status, checks["db.database"]["status"]) == (200, "ok")
    finally:
        erlen_db.database_of(app).dispose()


def test_pending_migrations_and_the_outbox_backlog(make_app: MakeApp, tmp_path: t.Any) -> None:
    pytest.importorskip("erlen_migrate", reason="the migrations check needs erlen-migrate")
    erlen_mail = pytest.importorskip("erlen_mail", reason="the outbox check needs erlen-mail")
    import erlen_migrate

    app = make_app(
        ["db", "migrate", "mail", "ops"],
        {
            "DB_URL": f"sqlite:///{tmp_path / 'ready.sqlite3'}",
            "OPS_READY_CACHE": 0,
            # The first run imports Alembic: on a loaded machine that outlasted the 2 s default (status "timeout").
            "OPS_READY_TIMEOUT": 30,
            "MAIL_BACKEND": "memory",
        },
    )
    client = app.test_client()
    try:
        status, checks = _checks(client)
        assert status == 503
        assert (checks["migrate.migrations"]["status"], checks["migrate.migrations"]["error"]) == (
            "fail",
            "PendingMigrationsError",
        )
        with app.app_context():
            erlen_migrate.migrations_of(app).upgrade(echo=lambda *_: None)
        status, checks = _checks(client)
        assert status == 200, checks
        assert checks["migrate.migrations"]["pending"] == 0
        assert checks["mail.outbox"]["backlog"] == 0
        with app.app_context():
            erlen_mail.queue(erlen_mail.Message("Hi", to=["a@example.com"], body="Hello", sender="app@example.com"))
            erlen_db.session.commit()
        status, checks = _checks(client)
        assert status == 200
        assert checks["mail.outbox"]["backlog"] == 1
        assert checks["mail.outbox"]["oldest_seconds"] >= 0
        assert "smtp" not in str(checks)  # not asked for
    finally:
        erlen_db.database_of(app).dispose()


def test_smtp_reachability_when_asked(make_app: MakeApp) -> None:
    pytest.importorskip("erlen_mail", reason="the SMTP check needs erlen-mail")
    aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="the SMTP check is tested against aiosmtpd")
    port = free_port()
    config = {
        "MAIL_BACKEND": "smtp",
        "MAIL_SMTP_HOST": "127.0.0.1",
        "MAIL_SMTP_PORT": port,
        "MAIL_SMTP_SECURITY": "none",
        "MAIL_SMTP_TIMEOUT": 2.0,
        "MAIL_HEALTH_SMTP": True,
        "OPS_READY_CACHE": 0,
    }
    client = make_app(["mail", "ops"], config).test_client()
    status, checks = _checks(client)
    assert (status, checks["mail.smtp"]["status"]) == (503, "fail")

    class Sink:
        async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
            return "250 OK"

    controller = aiosmtpd.Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        status, checks = _checks(client)
        assert (status, checks["mail.smtp"]["status"]) == (200, "ok")
    finally:
        controller.stop()


def test_the_throttles_redis_when_configured(make_app: MakeApp) -> None:
    pytest.importorskip("erlen_auth", reason="the throttle's Redis check needs erlen-auth")
    pytest.importorskip("redis", reason="the throttle's Redis check needs redis")
    port = free_port()  # nothing listens there
    config = {
        "DB_URL": "sqlite://",
        "AUTH_THROTTLE_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "OPS_READY_CACHE": 0,
    }
    app = make_app(["db", "forms", "auth", "ops"], config)
    try:
        status, checks = _checks(app.test_client())
        assert checks["auth.throttle_redis"] == {
            "status": "fail",
            "error": "RedisUnreachableError",
            "time_ms": checks["auth.throttle_redis"]["time_ms"],
        }
        assert status == 503
        assert str(port) not in str(checks)  # where the servers are is not for the client to learn
    finally:
        erlen_db.database_of(app).dispose()


def test_the_rate_limits_redis_when_configured(make_app: MakeApp) -> None:
    pytest.importorskip("erlen_api", reason="the rate limits' Redis check needs erlen-api")
    pytest.importorskip("redis", reason="the rate limits' Redis check needs redis")
    port = free_port()
    app = make_app(["api", "ops"], {"API_RATELIMIT_REDIS_URL": f"redis://127.0.0.1:{port}/0", "OPS_READY_CACHE": 0})
    status, checks = _checks(app.test_client())
    assert status == 503
    assert (checks["api.ratelimit_redis"]["status"], checks["api.ratelimit_redis"]["error"]) == (
        "fail",
        "RedisUnreachableError",
    )
    assert "ratelimit_redis" not in str(_checks(make_app(["api", "ops"]).test_client())[1])  # in memory: no check

"""The fixtures apps use to test with users."""

from __future__ import annotations

import os

import pytest
from auth_helpers import is_logged_in, set_cookies

from erlen.testing import SERVICES_REQUIRED_VARIABLE
from erlen_auth.testing import DEFAULT_PASSWORD, RedisServer, login_as


def test_create_user(create_user, db_session):
    user = create_user("ada@example.com", roles=["editor"], superuser=True)
    assert user.id is not None and user.is_superuser and user.email_confirmed_at is not None
    assert [role.name for role in user.roles] == ["editor"]
    assert create_user("bob@example.com", roles=["editor"]).roles[0].id == user.roles[0].id
    assert create_user().email == "user@example.com"


def test_login_as_logs_a_client_in_without_the_form(client, create_user):
    user = create_user("ada@example.com")
    assert not is_logged_in(client)
    assert login_as(client, user) is client
    assert is_logged_in(client)


def test_login_as_remember(client, create_user):
    user = create_user("ada@example.com")
    login_as(client, user, remember=True)
    client.delete_cookie("session")
    assert is_logged_in(client)


def test_login_as_fixture(client, create_user, login_as):
    login_as(client, create_user("ada@example.com"))
    assert is_logged_in(client)


def test_the_default_password_logs_in(client, create_user):
    from auth_helpers import log_in

    create_user("ada@example.com")
    response = log_in(client, "ada@example.com", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert "session" in set_cookies(response)


# -- RedisServer ---------------------------------------------------------------------------------------------


def test_redis_server_stops_freezes_and_starts_again_on_its_port(redis_server):
    redis = pytest.importorskip("redis", reason="the redis package is not installed (erlen-auth[redis])")
    assert redis_server.port != 6379 and redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis.Redis.from_url(redis_server.url, socket_timeout=0.3, socket_connect_timeout=0.3)
    try:
        client.set("k", "v")
        assert client.get("k") == b"v"

        redis_server.freeze()
        assert redis_server.frozen
        with pytest.raises(redis.TimeoutError):
            client.get("k")
        redis_server.thaw()
        client.connection_pool.disconnect()  # the timed-out connection's late answer is not for the next command
        assert client.get("k") == b"v"

        pid = redis_server.pid
        redis_server.stop()
        assert redis_server.pid is None and not redis_server.running
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the process has exited and been reaped
        with pytest.raises(redis.ConnectionError):
            client.get("k")

        port = redis_server.port
        redis_server.start_again()
        assert redis_server.port == port and redis_server.pid not in (None, pid)
        assert client.get("k") is None  # a fresh server: nothing was saved
    finally:
        client.close()


def test_an_appendonly_redis_server_keeps_its_data_across_a_restart(tmp_path):
    redis = pytest.importorskip("redis", reason="the redis package is not installed (erlen-auth[redis])")
    with RedisServer(tmp_path, appendonly=True) as server:
        client = redis.Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.rpush("queue", "job-1", "job-2")
            server.stop()
            server.start_again()
            assert client.lrange("queue", 0, -1) == [b"job-1", b"job-2"]
        finally:
            client.close()


def test_a_frozen_redis_server_is_stopped_all_the_same(tmp_path):
    with RedisServer(tmp_path) as server:
        server.freeze()
        process_id = server.pid
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(process_id, 0)


def test_redis_server_without_the_binary_skips(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server there
    monkeypatch.delenv(SERVICES_REQUIRED_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server is not installed"):
        RedisServer.started(tmp_path)
    monkeypatch.setenv(SERVICES_REQUIRED_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="redis-server is not installed"):
        RedisServer(tmp_path).start()


def _add_whoami(app):
    """A route that accepts tokens and tells what the caller may do."""
    from flask import jsonify
    from flask_login import current_user

    from erlen_auth import token_auth

    @app.get("/whoami")
    @token_auth()
    def whoami():
        return jsonify(
            email=current_user.email,
            users=current_user.can("auth.manage_users"),
            roles=current_user.can("auth.manage_roles"),
        )

    return app


def test_create_token_makes_a_token_of_those_scopes(app, create_user, create_token, db_session):
    from erlen_auth.access_tokens import ScopeError

    client = _add_whoami(app).test_client()
    ada = create_user("ada@example.com", superuser=True)
    token = create_token(ada, "auth.manage_users")
    answer = client.get("/whoami", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert answer == {"email": "ada@example.com", "users": True, "roles": False}
    with pytest.raises(ScopeError):
        create_token(create_user("bob@example.com"), "auth.manage_users")


def test_make_token_outside_pytest_commits_the_token(make_db_app):
    from erlen_auth.testing import FAST_HASHING, make_token, make_user

    app = _add_whoami(make_db_app(["forms", "auth"], {**FAST_HASHING}, create_all=True))
    ada = make_user(app, "ada@example.com", superuser=True)
    token = make_token(app, ada, "auth.manage_roles", name="script", expires_days=1)
    answer = app.test_client().get("/whoami", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert answer == {"email": "ada@example.com", "users": False, "roles": True}

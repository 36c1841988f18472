"""Log-in throttling per account and per client address: 429 with Retry-After; memory and Redis stores."""

from __future__ import annotations

import os
import uuid

import pytest
from auth_helpers import log_in

from erlen.testing import service_unavailable
from erlen_auth import LoginThrottle, MemoryStore, RedisStore, state_of
from erlen_auth.testing import DEFAULT_PASSWORD

REDIS_URL = os.environ.get("ERLEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_store_counts_and_expires():
    clock = Clock()
    store = MemoryStore(clock)
    assert store.peek("k") == (0, 0)
    assert store.hit("k", 60) == (1, 60)
    clock.now += 10
    assert store.hit("k", 60) == (2, 50)
    assert store.peek("k") == (2, 50)
    clock.now += 50
    assert store.peek("k") == (0, 0)
    assert store.hit("k", 60) == (1, 60)
    store.reset("k")
    assert store.peek("k") == (0, 0)


def test_throttle_refuses_past_the_account_limit():
    throttle = LoginThrottle(MemoryStore(Clock()), account_limit=3, address_limit=100, window=60)
    for _ in range(3):
        assert throttle.check("ada@example.com", "10.0.0.1") is None
        throttle.failed("ada@example.com", "10.0.0.1")
    refused = throttle.check("ada@example.com", "10.0.0.2")
    assert refused is not None and refused.scope == "account" and refused.retry_after == 60
    assert throttle.check("bob@example.com", "10.0.0.1") is None
    throttle.succeeded("ada@example.com")
    assert throttle.check("ada@example.com", "10.0.0.1") is None


def test_throttle_refuses_past_the_address_limit():
    throttle = LoginThrottle(MemoryStore(Clock()), account_limit=100, address_limit=3, window=60)
    for index in range(3):
        throttle.failed(f"user{index}@example.com", "10.0.0.1")
    refused = throttle.check("someone@example.com", "10.0.0.1")
    assert refused is not None and refused.scope == "address"
    assert throttle.check("someone@example.com", "10.0.0.2") is None


def test_a_failing_store_lets_log_ins_through(caplog):
    class Broken:
        def hit(self, key, window):
            raise ConnectionError("down")

        peek = reset = hit

    throttle = LoginThrottle(Broken(), account_limit=1, address_limit=1, window=60)  # type: ignore[arg-type]
    throttle.failed("ada@example.com", "10.0.0.1")
    assert throttle.check("ada@example.com", "10.0.0.1") is None
    assert "throttle" in caplog.text


@pytest.fixture
def erlen_config(database_url):
    from erlen_auth.testing import FAST_HASHING

    return {"DB_URL": database_url, **FAST_HASHING, "AUTH_THROTTLE_ACCOUNT_LIMIT": 3, "AUTH_THROTTLE_ADDRESS_LIMIT": 5}


def test_login_answers_429_with_retry_after_per_account(client, create_user):
    create_user("ada@example.com")
    for _ in range(3):
        assert log_in(client, "ada@example.com", "wrong password").status_code == 200
    response = log_in(client, "ada@example.com", DEFAULT_PASSWORD)  # even the right password
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed attempts. Try again in" in response.text
    # From another address too: the account is throttled, wherever the attempts come from.
    other = log_in(client, "ada@example.com", DEFAULT_PASSWORD, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 429


def test_login_answers_429_per_address(client, create_user):
    create_user("ada@example.com")
    for index in range(5):
        log_in(client, f"nobody{index}@example.com", "wrong password")
    response = log_in(client, "ada@example.com", DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    elsewhere = log_in(client, "ada@example.com", DEFAULT_PASSWORD, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert elsewhere.status_code == 302


def test_a_successful_login_forgets_the_account_failures(client, create_user):
    create_user("ada@example.com")
    for _ in range(2):
        log_in(client, "ada@example.com", "wrong password")
    assert log_in(client, "ada@example.com").status_code == 302
    assert state_of(client.application).throttle.store.peek(LoginThrottle._account("ada@example.com")) == (0, 0)


def test_the_account_key_ignores_case(client, create_user):
    create_user("ada@example.com")
    for email in ("ADA@example.com", "ada@EXAMPLE.com", "Ada@Example.Com"):
        log_in(client, email, "wrong password")
    assert log_in(client, "ada@example.com").status_code == 429


# -- Redis ---------------------------------------------------------------------------------------------------


@pytest.fixture
def redis_url():
    redis = pytest.importorskip("redis", reason="the redis package is not installed (erlen-auth[redis])")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__}); set ERLEN_TEST_REDIS_URL")
    finally:
        client.close()
    return REDIS_URL


def test_redis_store_counts_atomically_and_expires(redis_url):
    store = RedisStore(redis_url, prefix=f"erlen-auth-test:{uuid.uuid4().hex}:")
    try:
        assert store.peek("k") == (0, 0)
        assert store.hit("k", 60)[0] == 1
        count, ttl = store.hit("k", 60)
        assert count == 2 and 0 < ttl <= 60
        assert store.peek("k")[0] == 2
        store.reset("k")
        assert store.peek("k") == (0, 0)
        store.hit("short", 1)
        assert 0 < store.client.ttl(store.prefix + "short") <= 1
    finally:
        for key in store.client.scan_iter(store.prefix + "*"):
            store.client.delete(key)
        store.client.close()


def test_two_processes_share_counts_through_redis(redis_url, make_app, db_session_for, tmp_path):
    from erlen_auth.testing import FAST_HASHING

    prefix = f"erlen-auth-test:{uuid.uuid4().hex}:"
    config = {"AUTH_THROTTLE_REDIS_URL": redis_url, "AUTH_THROTTLE_ACCOUNT_LIMIT": 4, **FAST_HASHING}
    # Two apps standing for two processes (or hosts), each with a database of its own: only Redis is shared.
    first, second = (
        make_app(["db", "forms", "auth"], {**config, "DB_URL": f"sqlite:///{tmp_path / name}.sqlite3"})
        for name in ("one", "two")
    )
    for app in (first, second):
        state_of(app).throttle.store.prefix = prefix  # type: ignore[attr-defined]
        db_session_for(app)
    try:
        assert isinstance(state_of(first).throttle.store, RedisStore)
        client_one, client_two = first.test_client(), second.test_client()
        for _ in range(2):
            log_in(client_one, "ada@example.com", "wrong")
            log_in(client_two, "ada@example.com", "wrong", environ_base={"REMOTE_ADDR": "10.1.1.1"})
        response = log_in(client_two, "ada@example.com", "wrong", environ_base={"REMOTE_ADDR": "10.2.2.2"})
        assert response.status_code == 429
        assert 0 < int(response.headers["Retry-After"]) <= 900
    finally:
        store = state_of(first).throttle.store
        for key in store.client.scan_iter(prefix + "*"):  # type: ignore[attr-defined]
            store.client.delete(key)  # type: ignore[attr-defined]


def test_redis_url_needs_the_redis_package(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)
    from erlen_auth import AuthError

    with pytest.raises(AuthError, match=r"erlen-auth\[redis\]"):
        RedisStore("redis://127.0.0.1:6379/0")


def test_wrong_current_passwords_count_as_failed_log_ins(client, create_user):
    from auth_helpers import post_form

    from erlen_auth.testing import login_as

    login_as(client, create_user("ada@example.com"))
    change = {"password": "a new long password", "confirm": "a new long password"}
    for _ in range(3):
        assert post_form(client, "/auth/password", {"current": "guess", **change}).status_code == 200
    refused = post_form(client, "/auth/password", {"current": DEFAULT_PASSWORD, **change})
    assert refused.status_code == 429 and "Retry-After" in refused.headers

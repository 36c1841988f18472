"""Log-in throttling per account and per client address: 429 with Retry-After; memory and Redis stores."""

from __future__ import annotations

import os
import threading
import typing as t
import uuid
from collections.abc import Callable, Iterator

import pytest
from auth_helpers import log_in

from erlen.testing import service_unavailable
from erlen_auth import LoginThrottle, MemoryStore, RedisStore, Throttled, state_of
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


# -- Redis outages, on a Redis server of the test's own ---------------------------------------------------------


@pytest.fixture
def outage_app(make_app, tmp_path, redis_server):
    """A factory of apps throttling in ``redis_server`` (account limit 3), with the user ada@example.com.

    The database does not matter here: an SQLite file.
    """
    pytest.importorskip("redis", reason="the redis package is not installed (erlen-auth[redis])")
    from erlen_auth.testing import FAST_HASHING, make_user
    from erlen_db import database_of

    made = []

    def make(**config: t.Any):
        settings = {
            "DB_URL": f"sqlite:///{tmp_path / 'outage.sqlite3'}",
            "AUTH_THROTTLE_REDIS_URL": redis_server.url,
            "AUTH_THROTTLE_ACCOUNT_LIMIT": 3,
            **FAST_HASHING,
            **config,
        }
        app = make_app(["db", "forms", "auth"], settings)
        made.append(app)
        database_of(app).create_all()
        make_user(app, "ada@example.com")
        return app

    yield make
    for app in made:
        state_of(app).throttle.store.client.close()

        database_of(app).dispose()


def redis_count(store: RedisStore, key: str) -> int:
    """The count Redis itself holds for ``key``, asked past the store (and its fallback)."""
    return int(store.client.get(store.prefix + key) or 0)


def throttle_messages(caplog: pytest.LogCaptureFixture, words: str) -> int:
    return sum(words in record.getMessage() for record in caplog.records if record.name == "erlen_auth.throttling")


def test_a_stopped_redis_throttles_in_memory_then_redis_is_used_again(outage_app, redis_server, caplog):
    caplog.set_level("WARNING", logger="erlen_auth.throttling")
    app = outage_app(AUTH_THROTTLE_REDIS_RETRY_INTERVAL=0)  # try Redis on every use: no waiting in the test
    store = state_of(app).throttle.store
    client = app.test_client()
    assert log_in(client, "ada@example.com", "wrong password").status_code == 200
    assert redis_count(store, LoginThrottle._account("ada@example.com")) == 1

    redis_server.stop()
    # Throttling goes on in this process's memory (which never saw the failure counted in Redis).
    for _ in range(3):
        assert log_in(client, "ada@example.com", "wrong password").status_code == 200
    assert log_in(client, "ada@example.com", DEFAULT_PASSWORD).status_code == 429
    assert throttle_messages(caplog, "cannot be reached") == 1  # logged once, not per request
    health = state_of(app).throttle.health()
    assert health.degraded and health.since is not None and "ConnectionError" in (health.reason or "")
    assert str(health).startswith("redis: degraded, using in-process throttling since ")

    redis_server.start_again()  # an empty Redis: its counts are gone
    assert log_in(client, "bob@example.com", "wrong password").status_code == 200
    assert redis_count(store, LoginThrottle._account("bob@example.com")) == 1  # counted in Redis again
    assert throttle_messages(caplog, "answers again after") == 1
    assert throttle_messages(caplog, "cannot be reached") == 1
    assert str(state_of(app).throttle.health()) == "redis: ok"


def test_a_frozen_redis_costs_its_timeouts_and_throttling_goes_on(outage_app, redis_server, caplog):
    caplog.set_level("WARNING", logger="erlen_auth.throttling")
    app = outage_app(AUTH_THROTTLE_REDIS_READ_TIMEOUT=0.2, AUTH_THROTTLE_REDIS_RETRY_INTERVAL=600)
    store = state_of(app).throttle.store
    client = app.test_client()
    assert log_in(client, "ada@example.com", "wrong password").status_code == 200  # a pooled connection to Redis

    redis_server.freeze()  # connections open, nothing answered: a hung Redis
    for _ in range(3):
        assert log_in(client, "ada@example.com", "wrong password").status_code == 200
    assert log_in(client, "ada@example.com", DEFAULT_PASSWORD).status_code == 429
    assert throttle_messages(caplog, "cannot be reached") == 1
    health = state_of(app).throttle.health()
    assert health.degraded and "Timeout" in (health.reason or "")
    redis_server.thaw()
    # Within the retry interval the store keeps to memory: the hung server was waited for once, not per request.
    assert log_in(client, "bob@example.com", "wrong password").status_code == 200
    assert redis_count(store, LoginThrottle._account("bob@example.com")) == 0
    assert state_of(app).throttle.health().degraded
    assert store.client.connection_pool.connection_kwargs["socket_timeout"] == 0.2


def test_an_unreachable_redis_is_tried_again_after_the_retry_interval(redis_server, caplog):
    pytest.importorskip("redis", reason="the redis package is not installed (erlen-auth[redis])")
    caplog.set_level("WARNING", logger="erlen_auth.throttling")
    clock = Clock()
    store = RedisStore(redis_server.url, retry_interval=10, clock=clock)
    try:
        assert store.hit("k", 60)[0] == 1
        redis_server.stop()
        assert store.hit("k", 60)[0] == 1  # the fallback's first count
        assert store.peek("k")[0] == 1
        redis_server.start_again()
        clock.now += 9
        assert store.hit("k", 60)[0] == 2  # still in memory: Redis is not tried before the interval is over
        assert redis_count(store, "k") == 0
        clock.now += 1
        assert store.hit("k", 60)[0] == 1  # Redis again (empty after its restart)
        assert redis_count(store, "k") == 1
        assert throttle_messages(caplog, "cannot be reached") == throttle_messages(caplog, "answers again after") == 1
        assert store.ping() is None
        redis_server.stop()
        assert "ConnectionError" in (store.ping() or "")
    finally:
        store.client.close()


def test_erlen_check_warns_when_the_throttle_redis_cannot_be_reached(outage_app, redis_server):
    from erlen.checks import run_checks

    app = outage_app()
    assert "auth.W004" not in [message.id for message in run_checks(app)]
    redis_server.stop()
    [message] = [message for message in run_checks(app) if message.id == "auth.W004"]
    assert f"127.0.0.1:{redis_server.port}" in message.message and "ConnectionError" in message.message
    assert "AUTH_THROTTLE_REDIS_URL" in message.hint
    assert not state_of(app).throttle.health().degraded  # the check only asked


def test_the_redis_timeouts_are_settings(make_app):
    from erlen.errors import SettingError

    with pytest.raises(SettingError, match="AUTH_THROTTLE_REDIS_READ_TIMEOUT"):
        make_app(["db", "forms", "auth"], {"DB_URL": "sqlite://", "AUTH_THROTTLE_REDIS_READ_TIMEOUT": 0})


def test_wrong_current_passwords_count_as_failed_log_ins(client, create_user):
    from auth_helpers import post_form

    from erlen_auth.testing import login_as

    login_as(client, create_user("ada@example.com"))
    change = {"password": "a new long password", "confirm": "a new long password"}
    for _ in range(3):
        assert post_form(client, "/auth/password", {"current": "guess", **change}).status_code == 200
    refused = post_form(client, "/auth/password", {"current": DEFAULT_PASSWORD, **change})
    assert refused.status_code == 429 and "Retry-After" in refused.headers


# -- Concurrency: the limit holds when attempts arrive together ----------------------------------------------

#: The bound on every wait below; reached only when something is broken (nothing here is timed).
WAIT = 30
#: Attempts sent at once, well above the limits of 3 the tests set.
PARALLEL = 12
LIMIT = 3


class PasswordGate:
    """Holds every attempt that reaches the password check until each of ``parties`` was let through or answered.

    So all the attempts the throttle let through are still in flight when the last one is decided, whatever the
    scheduling: a throttle that looks at the count first and adds to it after the check lets every one through.

    :param passwords: the app's :class:`~erlen_auth.Passwords`; its ``verify`` is wrapped (``verify_dummy`` uses it).
    :param parties: the attempts sent.
    """

    def __init__(self, passwords: t.Any, parties: int, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parties = parties
        self.checked = 0
        self.answered = 0
        self._changed = threading.Condition()
        self._open = threading.Event()
        real = passwords.verify

        def verify(password_hash: str, password: str) -> bool:
            with self._changed:
                self.checked += 1
                self._changed.notify_all()
            self._open.wait(WAIT)
            return bool(real(password_hash, password))

        monkeypatch.setattr(passwords, "verify", verify)

    def answer(self) -> None:
        with self._changed:
            self.answered += 1
            self._changed.notify_all()

    def open_once_all_decided(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self.checked + self.answered >= self.parties, WAIT)
        self._open.set()


R = t.TypeVar("R")


def run_together(parties: int, attempt: Callable[[int], R], gate: PasswordGate | None = None) -> list[R]:
    """Run ``attempt(0)`` to ``attempt(parties - 1)`` in threads lined up on a barrier; their results, in any order."""
    barrier = threading.Barrier(parties, timeout=WAIT)
    results: list[R] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait()
            result = attempt(index)
            with lock:
                results.append(result)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            if gate is not None:
                gate.answer()

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(parties)]
    for thread in threads:
        thread.start()
    if gate is not None:
        gate.open_once_all_decided()
    for thread in threads:
        thread.join(WAIT)
    assert not [thread for thread in threads if thread.is_alive()], "attempts still running after the bound"
    if errors:
        raise errors[0]
    return results


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[MemoryStore | RedisStore]:
    """Each store, the Redis one under a key prefix of its own that is deleted afterwards."""
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = RedisStore(request.getfixturevalue("redis_url"), prefix=f"erlen-auth-test:{uuid.uuid4().hex}:")
    try:
        yield redis_store
    finally:
        for key in redis_store.client.scan_iter(redis_store.prefix + "*"):
            redis_store.client.delete(key)
        redis_store.client.close()


@pytest.mark.parametrize("scope", ["account", "address"])
def test_parallel_attempts_let_exactly_the_limit_through(store, scope):
    throttle = LoginThrottle(store, account_limit=LIMIT, address_limit=LIMIT, window=60)

    def attempt(index: int) -> Throttled | None:
        # One account from many addresses, or many accounts from one address.
        if scope == "account":
            return throttle.attempt("ada@example.com", f"10.0.0.{index}").refused
        return throttle.attempt(f"user{index}@example.com", "10.9.9.9").refused

    refusals = run_together(PARALLEL, attempt)
    assert refusals.count(None) == LIMIT
    assert {refused.scope for refused in refusals if refused is not None} == {scope}
    assert all(0 < refused.retry_after <= 60 for refused in refusals if refused is not None)
    key = throttle._account("ada@example.com") if scope == "account" else throttle._address("10.9.9.9")
    assert store.peek(key)[0] == LIMIT  # the refused attempts were given back


def test_an_attempt_gives_back_what_was_not_a_failure(store):
    throttle = LoginThrottle(store, account_limit=LIMIT, address_limit=10, window=60)
    account, address = throttle._account("ada@example.com"), throttle._address("10.0.0.1")
    throttle.attempt("ada@example.com", "10.0.0.1").failed()
    assert store.peek(account)[0] == store.peek(address)[0] == 1
    throttle.attempt("ada@example.com", "10.0.0.1").release()  # e.g. the right password of an inactive account
    assert store.peek(account)[0] == store.peek(address)[0] == 1
    success = throttle.attempt("ada@example.com", "10.0.0.1")
    success.succeeded()
    success.release()  # a second outcome does nothing
    assert store.peek(account) == (0, 0)  # the account's failures are forgotten, not the address's
    assert store.peek(address)[0] == 1
    for _ in range(LIMIT):
        throttle.attempt("ada@example.com", "10.0.0.1").failed()
    refused = throttle.attempt("ada@example.com", "10.0.0.1")
    assert refused.refused is not None and refused.refused.scope == "account"
    assert store.peek(account)[0] == LIMIT and store.peek(address)[0] == 1 + LIMIT  # refusals are not counted


def test_a_release_after_the_window_counts_nothing(store):
    if isinstance(store, MemoryStore):
        clock = Clock()
        store = MemoryStore(clock)
        store.hit("k", 60)
        clock.now += 61
    store.release("k")  # Redis: the key does not exist, as after its expiry
    assert store.peek("k") == (0, 0)
    assert store.hit("k", 60)[0] == 1  # not a counter that went below zero
    if isinstance(store, RedisStore):
        assert 0 < store.client.ttl(store.prefix + "k") <= 60


def test_a_failing_store_lets_attempts_through(caplog):
    class Broken:
        def hit(self, key, window):
            raise ConnectionError("down")

        peek = reset = release = hit

    throttle = LoginThrottle(Broken(), account_limit=1, address_limit=1, window=60)  # type: ignore[arg-type]
    attempt = throttle.attempt("ada@example.com", "10.0.0.1")
    assert attempt.refused is None
    attempt.succeeded()
    assert "throttle" in caplog.text


@pytest.fixture
def fresh_app(request, auth_app, make_app):
    """An app with a committed user on a database of its own (threads cannot share the test transaction's connection).

    ``request.param`` picks the throttle's store: ``"memory"`` or ``"redis"``.
    """
    from erlen_auth.testing import make_user
    from erlen_db import database_of

    config: dict[str, t.Any] = {"AUTH_THROTTLE_ACCOUNT_LIMIT": LIMIT, "AUTH_THROTTLE_ADDRESS_LIMIT": 100}
    if request.param == "redis":
        config["AUTH_THROTTLE_REDIS_URL"] = request.getfixturevalue("redis_url")
    app = auth_app(config=config)
    database_of(app).create_all()  # a fresh SQLite file or PostgreSQL schema, dropped after the test
    make_user(app, "ada@example.com")
    store = state_of(app).throttle.store
    if isinstance(store, RedisStore):
        store.prefix = f"erlen-auth-test:{uuid.uuid4().hex}:"
    try:
        yield app
    finally:
        if isinstance(store, RedisStore):
            for key in store.client.scan_iter(store.prefix + "*"):
                store.client.delete(key)
            store.client.close()


@pytest.mark.parametrize("fresh_app", ["memory", "redis"], indirect=True)
def test_parallel_wrong_passwords_reach_the_password_check_at_most_limit_times(fresh_app, monkeypatch):
    gate = PasswordGate(state_of(fresh_app).passwords, PARALLEL, monkeypatch)
    clients = [fresh_app.test_client() for _ in range(PARALLEL)]

    def attempt(index: int) -> int:
        return int(log_in(clients[index], "ada@example.com", "wrong password").status_code)

    statuses = run_together(PARALLEL, attempt, gate)
    assert gate.checked == LIMIT
    assert sorted(statuses) == [200] * LIMIT + [429] * (PARALLEL - LIMIT)
    assert log_in(clients[0], "ada@example.com", DEFAULT_PASSWORD).status_code == 429


@pytest.mark.parametrize("fresh_app", ["memory"], indirect=True)
def test_a_right_password_within_the_limit_logs_in_beside_parallel_failures(fresh_app, monkeypatch):
    gate = PasswordGate(state_of(fresh_app).passwords, LIMIT, monkeypatch)
    clients = [fresh_app.test_client() for _ in range(LIMIT)]

    def attempt(index: int) -> int:
        password = DEFAULT_PASSWORD if index == 0 else "wrong password"
        return int(log_in(clients[index], "ada@example.com", password).status_code)

    assert sorted(run_together(LIMIT, attempt, gate)) == [200] * (LIMIT - 1) + [302]
    assert gate.checked == LIMIT


@pytest.mark.parametrize("fresh_app", ["memory"], indirect=True)
def test_parallel_wrong_current_passwords_reach_the_check_at_most_limit_times(fresh_app, monkeypatch):
    from auth_helpers import post_form

    from erlen_auth import find_user
    from erlen_auth.testing import login_as

    with fresh_app.app_context():
        user = find_user("ada@example.com")
    assert user is not None
    clients = [login_as(fresh_app.test_client(), user) for _ in range(PARALLEL)]
    gate = PasswordGate(state_of(fresh_app).passwords, PARALLEL, monkeypatch)
    change = {"current": "guess", "password": "a new long password", "confirm": "a new long password"}

    def attempt(index: int) -> int:
        return int(post_form(clients[index], "/auth/password", change).status_code)

    statuses = run_together(PARALLEL, attempt, gate)
    assert gate.checked == LIMIT
    assert sorted(statuses) == [200] * LIMIT + [429] * (PARALLEL - LIMIT)


def test_a_stores_health_equals_the_health_made_by_its_backend_name_alone() -> None:
    """``StoreHealth("memory")`` (as a caller of the public class writes it) equals what the store answers: the
    stand-in's wording for the line is not part of the comparison."""
    from erlen_auth.throttling import StoreHealth

    assert MemoryStore().health() == StoreHealth("memory")
    throttle = LoginThrottle(MemoryStore(), account_limit=3, address_limit=3, window=60)
    assert throttle.health() == StoreHealth("memory")

"""Rate limits per token and per address: headers, 429, endpoint overrides, Redis shared by workers, fallback."""

from __future__ import annotations

import logging
import os
import typing as t
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from openapi_spec_validator import validate
from pydantic import BaseModel

import erlen
from erlen.checks import run_checks
from erlen.testing import free_port, service_unavailable
from erlen_api import Api, spec_of, state_of
from erlen_api.ratelimits import RateLimiter, client_address

REDIS_URL = os.environ.get("ERLEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PLUGINS = ["api", "api_sample.static_tokens"]


class Pong(BaseModel):
    pong: bool


api = Api("limited", __name__, version="v1")


@api.get("/ping")
def ping() -> Pong:
    return Pong(pong=True)


@api.get("/expensive", ratelimit="1/minute")
def expensive() -> Pong:
    return Pong(pong=True)


@api.get("/health", ratelimit=False)
def health() -> Pong:
    return Pong(pong=True)


@api.post("/private", login_required=True)
def private() -> Pong:
    return Pong(pong=True)


@pytest.fixture
def erlen_config() -> dict[str, t.Any]:
    return {"API_RATELIMIT_ADDRESS": "3/minute", "API_RATELIMIT_TOKEN": "5/minute"}


@pytest.fixture
def app(make_app: t.Any, erlen_config: dict[str, t.Any]) -> Flask:
    made = t.cast(Flask, make_app(PLUGINS, erlen_config))
    made.register_blueprint(api)
    return made


def _get(client: t.Any, path: str = "/api/v1/ping", address: str = "192.0.2.1", **headers: str) -> t.Any:
    return client.get(path, environ_base={"REMOTE_ADDR": address}, headers=headers)


def test_each_answer_says_where_the_client_stands(client: t.Any) -> None:
    first = _get(client)
    assert first.status_code == 200
    assert first.headers["RateLimit-Policy"] == '"address-60s";q=3;w=60'
    remaining, _, reset = first.headers["RateLimit"].partition(";t=")
    assert remaining == '"address-60s";r=2'
    assert 0 <= int(reset) <= 60
    assert _get(client).headers["RateLimit"].startswith('"address-60s";r=1;')


def test_over_the_limit_is_a_429_with_retry_after(client: t.Any) -> None:
    for _ in range(3):
        assert _get(client).status_code == 200
    refused = _get(client)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json["title"] == "Too Many Requests"
    assert "3 in 60 s" in refused.json["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit"].startswith('"address-60s";r=0;')


def test_addresses_are_counted_apart(client: t.Any) -> None:
    for _ in range(3):
        _get(client, address="192.0.2.1")
    assert _get(client, address="192.0.2.1").status_code == 429
    assert _get(client, address="192.0.2.2").status_code == 200


def test_an_ipv6_client_is_counted_by_its_64(client: t.Any) -> None:
    for last in range(3):
        assert _get(client, address=f"2001:db8:1:2::{last + 1}").status_code == 200
    assert _get(client, address="2001:db8:1:2:ffff::9").status_code == 429
    assert _get(client, address="2001:db8:1:3::1").status_code == 200


def test_client_address(app: Flask) -> None:
    cases = {
        "192.0.2.7": "192.0.2.7",
        "2001:db8::1": "2001:db8::/64",
        "::ffff:192.0.2.7": "192.0.2.7",
        "not an address": "not an address",
    }
    for remote, expected in cases.items():
        with app.test_request_context(environ_base={"REMOTE_ADDR": remote}):
            assert client_address() == expected


def test_tokens_are_counted_apart_from_addresses_and_each_other(client: t.Any) -> None:
    for _ in range(3):
        _get(client)
    assert _get(client).status_code == 429
    for _ in range(5):
        response = _get(client, Authorization="Bearer token-ada")
        assert response.status_code == 200
    assert response.headers["RateLimit-Policy"] == '"token-60s";q=5;w=60'
    assert _get(client, Authorization="Bearer token-ada").status_code == 429
    assert _get(client, Authorization="Bearer token-bob").status_code == 200


def test_refused_tokens_count_against_the_address(client: t.Any) -> None:
    for _ in range(3):
        response = _get(client, Authorization="Bearer guessed")
        assert response.status_code == 401
        assert response.headers["RateLimit-Policy"] == '"address-60s";q=3;w=60'
    assert _get(client, Authorization="Bearer guessed").status_code == 429
    assert _get(client).status_code == 429


def test_an_endpoint_declares_its_own_limit(client: t.Any) -> None:
    first = _get(client, "/api/v1/expensive")
    assert first.status_code == 200
    assert first.headers["RateLimit-Policy"] == '"address-60s";q=1;w=60'
    assert _get(client, "/api/v1/expensive").status_code == 429
    assert _get(client, "/api/v1/ping").status_code == 200  # counted apart
    assert _get(client, "/api/v1/expensive", address="192.0.2.9").status_code == 200


def test_an_endpoint_without_limit(client: t.Any) -> None:
    for _ in range(5):
        response = _get(client, "/api/v1/health")
        assert response.status_code == 200
        assert "RateLimit" not in response.headers


def test_preflights_and_other_routes_are_not_counted(client: t.Any) -> None:
    for _ in range(5):
        client.options("/api/v1/ping", environ_base={"REMOTE_ADDR": "192.0.2.1"})
        client.get("/api/openapi.json", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert _get(client).headers["RateLimit"].startswith('"address-60s";r=2;')


@pytest.mark.parametrize("erlen_config", [{"API_RATELIMIT_ADDRESS": "2/second;3/minute"}])
def test_several_limits_at_once(client: t.Any) -> None:
    response = _get(client)
    assert response.headers["RateLimit-Policy"] == '"address-1s";q=2;w=1, "address-60s";q=3;w=60'
    assert response.headers["RateLimit"].startswith('"address-1s";r=1;t=')


@pytest.mark.parametrize("erlen_config", [{}])
def test_no_limits_by_default(client: t.Any) -> None:
    for _ in range(5):
        response = _get(client)
        assert response.status_code == 200
        assert "RateLimit" not in response.headers
    assert _get(client, "/api/v1/expensive").status_code == 200
    assert _get(client, "/api/v1/expensive").status_code == 429


@pytest.mark.parametrize("strategy", ["moving-window", "sliding-window"])
def test_every_strategy_limits(make_app: t.Any, strategy: str) -> None:
    app = make_app(PLUGINS, {"API_RATELIMIT_ADDRESS": "2/minute", "API_RATELIMIT_STRATEGY": strategy})
    app.register_blueprint(api)
    client = app.test_client()
    assert [_get(client).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("value", ["lots", "3 per fortnight", ""])
def test_a_limit_that_is_not_one_is_refused(make_app: t.Any, value: str) -> None:
    with pytest.raises(erlen.SettingError, match="API_RATELIMIT_ADDRESS"):
        make_app(["api"], {"API_RATELIMIT_ADDRESS": value})


@pytest.mark.parametrize("value", ["lots", 3, True])
def test_an_endpoint_declaring_a_wrong_limit_is_refused(value: object) -> None:
    other = Api("wrong", __name__)
    with pytest.raises(TypeError, match="ratelimit"):

        @other.get("/x", ratelimit=value)  # type: ignore[arg-type]
        def view() -> Pong:
            return Pong(pong=True)


def test_the_document_describes_the_limits(app: Flask) -> None:
    document = spec_of(app)
    validate(document)
    operation = document["paths"]["/api/v1/ping"]["get"]
    assert set(operation["responses"]["200"]["headers"]) == {"ETag", "RateLimit", "RateLimit-Policy"}
    too_many = operation["responses"]["429"]
    assert too_many["headers"]["Retry-After"] == {"$ref": "#/components/headers/Retry-After"}
    assert too_many["content"]["application/problem+json"]
    assert "429" not in document["paths"]["/api/v1/health"]["get"]["responses"]
    assert {"RateLimit", "RateLimit-Policy", "Retry-After"} <= set(document["components"]["headers"])


def test_the_api_client_checks_429_against_the_document(app: Flask) -> None:
    from erlen_api.testing import api_client_for

    client = api_client_for(app)
    statuses = [client.get("/api/v1/ping").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


# -- Redis --------------------------------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the shared Redis; its keys are deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__}); set ERLEN_TEST_REDIS_URL")
    prefix = f"erlen-api-test-{uuid.uuid4().hex}"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def test_workers_sharing_redis_share_the_counts(make_app: t.Any, redis_prefix: str) -> None:
    config = {
        "API_RATELIMIT_ADDRESS": "3/minute",
        "API_RATELIMIT_REDIS_URL": REDIS_URL,
        "API_RATELIMIT_KEY_PREFIX": redis_prefix,
    }
    workers = []
    for _ in range(2):
        worker = make_app(PLUGINS, config)
        worker.register_blueprint(api)
        workers.append(worker.test_client())
    statuses = [_get(workers[number % 2]).status_code for number in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert _get(workers[0]).status_code == 429
    health = state_of(workers[0].application).ratelimiter.health()  # type: ignore[union-attr]
    assert health.backend == "redis" and not health.degraded
    # Another prefix (another app on the same Redis) counts apart.
    separate = make_app(PLUGINS, {**config, "API_RATELIMIT_KEY_PREFIX": redis_prefix + "-other"})
    separate.register_blueprint(api)
    assert _get(separate.test_client()).status_code == 200


def test_an_unreachable_redis_falls_back_to_memory(make_app: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(PLUGINS, {"API_RATELIMIT_ADDRESS": "2/minute", "API_RATELIMIT_REDIS_URL": url})
    app.register_blueprint(api)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="erlen_api.ratelimits"):
        statuses = [_get(client).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # still limited, in this process's memory
    lost = [record for record in caplog.records if "cannot be reached" in record.getMessage()]
    assert len(lost) == 1  # logged once
    assert url.split("//")[1].split("/")[0] in lost[0].getMessage()
    health = state_of(app).ratelimiter.health()  # type: ignore[union-attr]
    assert health.degraded and "degraded" in str(health)
    messages = [message for message in run_checks(app) if message.id == "api.W001"]
    assert messages and "cannot be reached" in messages[0].message


def test_redis_is_used_again_once_it_answers(redis_prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(redis_url=REDIS_URL, key_prefix=redis_prefix, retry_interval=0)
    from limits import parse

    item = parse("10/minute")
    real = limiter.redis
    assert real is not None
    broken = RateLimiter(redis_url=f"redis://127.0.0.1:{free_port()}/0").redis
    limiter.redis = broken
    with caplog.at_level(logging.WARNING, logger="erlen_api.ratelimits"):
        assert limiter.hit(item, "address", "*", "x")[1] == 9  # in memory
        assert limiter.health().degraded
        limiter.redis = real  # Redis answers again
        assert limiter.hit(item, "address", "*", "x")[1] == 9  # a fresh count in Redis
    assert not limiter.health().degraded
    assert any("answers again" in record.getMessage() for record in caplog.records)


def test_checks_in_deploy_say_counts_are_per_process(make_app: t.Any) -> None:
    app = make_app(["api"], {"API_RATELIMIT_ADDRESS": "3/minute"})
    assert "api.I001" in [message.id for message in run_checks(app, deploy=True)]
    assert "api.I001" not in [message.id for message in run_checks(app)]

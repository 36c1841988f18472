"""CORS: an allow-list of origins, preflight answers, only under the APIs, and CSRF kept for cookie requests."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

import erlen

ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture
def erlen_config() -> dict[str, t.Any]:
    return {"API_CORS_ORIGINS": [ALLOWED, "http://[::1]:8000"], "API_CORS_CREDENTIALS": True}


@pytest.fixture
def app(make_app: t.Any, erlen_config: dict[str, t.Any]) -> Flask:
    from api_sample.shapes import api

    made = t.cast(Flask, make_app(["api"], erlen_config))
    made.register_blueprint(api)
    made.add_url_rule("/", "home", lambda: "the site")
    return made


def test_an_allowed_origin_may_read_the_answer_and_its_headers(client: t.Any) -> None:
    response = client.get("/api/v1/items/1", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    exposed = {name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Link", "Location", "RateLimit", "RateLimit-Policy", "Retry-After"} <= exposed
    assert "Origin" in response.vary


def test_origins_are_compared_whole(client: t.Any) -> None:
    assert (
        client.get("/api/v1/items/1", headers={"Origin": "HTTPS://APP.example.com"}).headers.get(
            "Access-Control-Allow-Origin"
        )
        == "HTTPS://APP.example.com"
    )  # schemes and hosts are case-insensitive
    for origin in (f"{ALLOWED}.evil.net", "https://app.example.co", "http://app.example.com", "http://[::1]:80001"):
        response = client.get("/api/v1/items/1", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers, origin
    bracketed = client.get("/api/v1/items/1", headers={"Origin": "http://[::1]:8000"})
    assert bracketed.headers["Access-Control-Allow-Origin"] == "http://[::1]:8000"


def test_a_disallowed_origin_gets_no_cors_headers(client: t.Any) -> None:
    response = client.get("/api/v1/items/1", headers={"Origin": OTHER})
    assert response.status_code == 200  # the server answers; the browser keeps it from the page
    assert not [name for name, _ in response.headers if name.startswith("Access-Control-")]


def test_a_request_without_origin_gets_no_cors_headers(client: t.Any) -> None:
    response = client.get("/api/v1/items/1")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_preflight_from_an_allowed_origin(client: t.Any) -> None:
    response = client.options(
        "/api/v1/items",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-csrf-token, authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"content-type", "x-csrf-token", "authorization"}
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_a_preflight_asking_for_an_unlisted_header_does_not_get_it(client: t.Any) -> None:
    response = client.options(
        "/api/v1/items",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Evil",
        },
    )
    assert "x-evil" not in response.headers.get("Access-Control-Allow-Headers", "").lower()


def test_a_preflight_from_a_disallowed_origin_is_not_allowed(client: t.Any) -> None:
    response = client.options("/api/v1/items", headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


def test_errors_under_the_api_carry_cors_headers(client: t.Any) -> None:
    for path in ("/api/v1/items/9", "/api/v1/nowhere"):
        response = client.get(path, headers={"Origin": ALLOWED})
        assert response.status_code == 404
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED, path


def test_the_rest_of_the_site_is_left_alone(client: t.Any) -> None:
    response = client.get("/", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("erlen_config", [{}])
def test_without_origins_there_is_no_cors(client: t.Any) -> None:
    response = client.options("/api/v1/items", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("erlen_config", [{"API_CORS_ORIGINS": ["*"]}])
def test_any_origin_without_credentials(client: t.Any) -> None:
    response = client.get("/api/v1/items/1", headers={"Origin": OTHER})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_any_origin_with_credentials_is_refused(make_app: t.Any) -> None:
    with pytest.raises(erlen.SettingError, match="API_CORS_CREDENTIALS") as caught:
        make_app(["api"], {"API_CORS_ORIGINS": ["*"], "API_CORS_CREDENTIALS": True})
    assert caught.value.key == "API_CORS_ORIGINS"


@pytest.mark.parametrize("origin", ["https://app.example.com/", "app.example.com", "https://app.example.com/path"])
def test_an_origin_that_is_not_one_is_refused(make_app: t.Any, origin: str) -> None:
    with pytest.raises(erlen.SettingError, match="API_CORS_ORIGINS"):
        make_app(["api"], {"API_CORS_ORIGINS": [origin]})
